"""Runners train sweep tasks somewhere and hand the answers back to the driver.

Every runner has the same small interface (`Runner`), used only by the driver (the one writer):

    runner = make_runner(config.runner, sweep_dir)
    runner.start()
    runner.capacity              # how many tasks may be in flight at once
    runner.submit([task, ...])   # designspace.sweep.task.Task
    runner.poll(timeout=1.0)     # -> [Answer, ...] (a lost worker is Answer.failed(...))
    runner.close()
"""
from __future__ import annotations

import os
from typing import Protocol

from ...errors import DesignspaceError, UnknownNameError
from ..task import Answer, Task


class Runner(Protocol):
    capacity: int

    def start(self) -> None: ...

    def describe(self) -> str: ...

    def submit(self, tasks: list[Task]) -> None: ...

    def poll(self, timeout: float = 1.0) -> list[Answer]: ...

    def close(self) -> None: ...


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def usable_gpus(device: str, available: int, where: str) -> int:
    """GPUs the runner may use out of `available`: none for device 'cpu'; device 'cuda' needs one."""
    if device == "cpu":
        return 0
    if device == "cuda" and not available:
        raise DesignspaceError(f"runner: device is 'cuda' but {where} has no GPU")
    return available


def cuda_device_count(device: str) -> int:
    """GPUs of this machine the local runner may use."""
    if device == "cpu":
        return 0  # no torch.cuda call: CUDA stays uninitialized in the driver
    import torch

    return usable_gpus(device, torch.cuda.device_count() if torch.cuda.is_available() else 0, "this machine")


def make_runner(runner_config, sweep_dir: str) -> Runner:
    kind = runner_config.type
    if kind == "local":
        from .local import LocalRunner

        return LocalRunner(runner_config)
    if kind == "ray":
        from .ray import RayRunner

        return RayRunner(runner_config)
    if kind == "slurm":
        from .slurm import SlurmRunner

        return SlurmRunner(runner_config, sweep_dir)
    raise UnknownNameError("runner", kind, ["local", "ray", "slurm"])
