"""Device set-up: threads, seeds, autocast, cudnn autotuning, memory format by measurement.

    from designspace.train.device import resolve_device, configure, choose_channels_last
    device = resolve_device("auto")           # cuda if available, else cpu
    configure(device, threads=4, seed=0)
    use_cl = choose_channels_last(model, (128, 3, 32, 32), device)

channels_last is not assumed faster: grouped and depthwise convolutions are often
slower in it, so a few timed training steps in each format decide, per model.
"""
from __future__ import annotations

import contextlib
import copy
import os
import random
import resource
import sys
import time

import numpy as np
import torch

from ..errors import DesignspaceError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    name = str(device or "auto").lower()  # a torch.device too: "cuda" without an index gets one below
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DesignspaceError(f"device {device!r} requested but CUDA is not available in this torch build/machine")
        resolved = torch.device(name)
        # an explicit index: set_device, streams and memory statistics all want one
        return resolved if resolved.index is not None else torch.device("cuda", torch.cuda.current_device())
    if name == "cpu":
        return torch.device("cpu")
    raise DesignspaceError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)")


def configure(device: torch.device, threads: int | None = None, seed: int = 0) -> None:
    """Thread count, seeds for every RNG, cudnn autotuning on CUDA."""
    if threads is not None:
        if threads < 1:
            raise DesignspaceError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(int(threads))
    seed_everything(seed)
    if device.type == "cpu":
        # denormal floats (tiny momentum/gradient values late in a run) make CPU kernels several times slower
        torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)  # also seeds every CUDA device


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA; a no-op on CPU (fp32 keeps CPU runs exactly reproducible)."""
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated device memory (CUDA) or the process's peak resident set (CPU), in MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2 ** 20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB elsewhere


def is_oom(error: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    text = str(error)
    # cuDNN/cuBLAS workspace failures are plain RuntimeErrors ("CUDNN_STATUS_ALLOC_FAILED")
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                                or "ALLOC_FAILED" in text)


def _time_steps(model, shape, device, channels_last: bool, amp: bool, steps: int) -> float:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(shape, device=device).contiguous(memory_format=fmt)
    y = torch.zeros(shape[0], dtype=torch.long, device=device)
    best = float("inf")
    for i in range(steps + 1):  # the first step pays autotuning and allocation
        synchronize(device)
        start = time.perf_counter()
        with autocast(device, amp):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        synchronize(device)
        if i:
            best = min(best, time.perf_counter() - start)
    return best


def choose_channels_last(model: torch.nn.Module, input_shape, device: torch.device, amp: bool = True,
                         steps: int = 2) -> tuple[bool, dict]:
    """Time forward+backward of a copy of `model` in both memory formats -> (use channels_last, timings)."""
    env = os.environ.get("DESIGNSPACE_CHANNELS_LAST")
    if env in ("0", "1"):
        return env == "1", {"forced_by": "DESIGNSPACE_CHANNELS_LAST"}
    probe = copy.deepcopy(model).to(device).train()
    timings = {}
    try:
        for fmt in (False, True, False):  # contiguous twice: the first call also warms the allocator
            timings["channels_last" if fmt else "contiguous"] = _time_steps(probe, input_shape, device, fmt, amp, steps)
    finally:
        del probe
    return timings["channels_last"] < 0.95 * timings["contiguous"], {k: round(v * 1000, 3) for k, v in timings.items()}


def host_name() -> str:
    import socket

    return socket.gethostname()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{torch.get_num_threads()}threads"
