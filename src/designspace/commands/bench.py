"""`designspace bench runtime SPEC_OR_SAMPLES_JSONL`: measure forward and forward+backward time per model.

    designspace bench runtime RegNetX-400MF --device cpu --batch 8 --res 64
    designspace sample regnetx --n 20 --out samples.jsonl
    designspace bench runtime samples.jsonl --device cuda --batch 64 --out runtime.jsonl
    designspace report runs/regnetx --runtime runtime.jsonl

Each model: a few warm-up runs, then the median of several timed runs (CUDA synchronized).
One JSON line per model: name, flops, params, acts, resolution, batch, device, forward_s,
forward_backward_s (seconds per batch), repeats; `designspace report --runtime` fits
runtime = a*flops + b*acts + c to them.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time

from ..results import Status


def load_specs(path_or_name: str) -> list[tuple[str, object]]:
    """(name, NetSpec) pairs from a zoo name, a spec file, or JSON lines of `designspace sample` output."""
    from ..errors import DesignspaceError
    from ..spec import NetSpec
    from .info import resolve_spec

    if path_or_name.endswith(".jsonl"):
        from ..io import read_jsonl

        specs = []
        for n, rec in read_jsonl(path_or_name):
            spec = NetSpec.from_dict(rec["spec"] if isinstance(rec, dict) and "spec" in rec else rec)
            info = rec if isinstance(rec, dict) else {}
            label = spec.name or f"{info.get('space', 'model')}#{info.get('index', n - 1)}"
            specs.append((label, spec))
        if not specs:
            raise DesignspaceError(f"{path_or_name}: no specs in the file")
        return specs
    spec = resolve_spec(path_or_name)
    return [(spec.name or os.path.basename(path_or_name), spec)]


def _median_time(fn, warmup: int, repeats: int, sync) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(spec, device: str, batch: int, resolution: int, warmup: int = 2, repeats: int = 5) -> dict:
    """Median seconds per batch of forward (eval, no grad) and forward+backward (train) for one spec."""
    import torch

    from ..complexity import complexity
    from ..models import build_model

    model = build_model(spec).to(device)
    x = torch.randn(batch, spec.in_channels, resolution, resolution, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        model(x).float().sum().backward()

    model.eval()
    fwd = _median_time(forward, warmup, repeats, sync)
    model.train()
    fwd_bwd = _median_time(forward_backward, warmup, repeats, sync)
    cx = complexity(spec, resolution)
    return {"name": spec.name, "status": "ok", "flops": int(cx["flops"]), "params": int(cx["params"]),
            "acts": int(cx["acts"]), "resolution": resolution, "batch": batch, "device": device, "forward_s": fwd,
            "forward_backward_s": fwd_bwd, "warmup": warmup, "repeats": repeats,
            "torch": torch.__version__, "host": platform.node(), "spec": spec.to_dict()}


def run(args) -> int:
    import torch

    from ..errors import DesignspaceError
    from ..io import atomic_write_text

    if args.what != "runtime":
        raise DesignspaceError(f"unknown benchmark {args.what!r}; use runtime")
    for flag in ("batch", "repeats"):
        if getattr(args, flag) < 1:
            raise DesignspaceError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    if args.warmup < 0:
        raise DesignspaceError(f"--warmup must be >= 0, got {args.warmup}")
    if args.res is not None and args.res < 1:
        raise DesignspaceError(f"--res must be >= 1, got {args.res}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DesignspaceError("--device cuda asked for, but no CUDA device is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise DesignspaceError(f"--device must be cpu or cuda, got {device!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    specs = load_specs(args.source)
    lines = []
    for label, spec in specs:
        res = args.res or (32 if spec.stem == "cifar" else 224)
        try:
            rec = measure(spec, device, args.batch, res, warmup=args.warmup, repeats=args.repeats)
        except torch.cuda.OutOfMemoryError:
            # Too big for this batch on this device: recorded, and left out of the runtime model.
            torch.cuda.empty_cache()
            rec = {"status": str(Status.OOM), "forward_s": None, "forward_backward_s": None, "resolution": res,
                   "batch": args.batch, "device": device, "spec": spec.to_dict()}
        rec["name"] = label
        lines.append(json.dumps(rec))
        if args.out and rec.get("status") == Status.OOM:
            print(f"{label}: out of memory at batch {args.batch}")
        elif args.out:
            print(f"{label}: forward {rec['forward_s'] * 1e3:.2f} ms, forward+backward "
                  f"{rec['forward_backward_s'] * 1e3:.2f} ms per batch of {args.batch} at {res}x{res} on {device}")
        else:
            print(lines[-1])
    if args.out:
        atomic_write_text(args.out, "\n".join(lines) + "\n")
        print(f"wrote {len(lines)} measurement(s) to {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure model runtime (for the report's runtime model)",
                       description="Measure forward and forward+backward time per model: warm-up, then the median "
                                   "of several runs; one JSON line per model.")
    p.add_argument("what", choices=["runtime"], help="what to measure")
    p.add_argument("source", metavar="SPEC_OR_SAMPLES_JSONL",
                   help="a zoo name, a spec file, or JSON lines from `designspace sample`")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--res", type=int, help="input resolution (default 224; 32 for cifar stems)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs; the median is kept (default 5)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--out", help="write the JSON lines here (atomically) instead of stdout")
    p.set_defaults(func=run)
