"""The local runner: N worker processes on this machine, each loading the data set once.

On CPU the cores are split among the slots (torch threads per slot); on GPUs,
`models_per_gpu` processes share each GPU, because one small model leaves a GPU
mostly idle. Tasks and answers travel over one pipe per worker, so a worker
killed at any moment costs only its own task, which the driver retries (and the
retry resumes from the model's epoch checkpoint). Workers die with the driver.

    runner:
      type: local
      slots: 8            # default: GPUs x models_per_gpu, or the cores (at most 8)
      models_per_gpu: 4
      threads_per_slot: 1
"""
from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import wait

from ..task import Answer, Task
from . import cuda_device_count, usable_cores


def _worker_main(conn, parent_pid: int, gpu, threads: int) -> None:
    if gpu is not None:
        # Set before any CUDA call, so the process sees only its own GPU as cuda:0. `gpu` counts the
        # GPUs this driver sees, so map it through the driver's own CUDA_VISIBLE_DEVICES (SLURM sets it).
        visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        os.environ["CUDA_VISIBLE_DEVICES"] = visible[gpu] if gpu < len(visible) else str(gpu)
    import signal

    from ..worker import die_with_parent, train_task

    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the driver handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(train_task(task))


class _Worker:
    def __init__(self, ctx, slot: int, gpu, threads: int):
        self.slot, self.gpu, self.threads = slot, gpu, threads
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid(), gpu, threads),
                                   name=f"designspace-sweep-slot{slot}", daemon=True)
        self.process.start()
        child.close()
        self.task = None


class LocalRunner:
    def __init__(self, runner_config):
        self.config = runner_config
        self.gpus = cuda_device_count(runner_config.device)
        cores = usable_cores()
        if self.gpus:
            self.capacity = runner_config.slots or self.gpus * runner_config.models_per_gpu
        else:
            self.capacity = runner_config.slots or min(cores, 8)
        self.threads = runner_config.threads_per_slot or max(1, cores // self.capacity)
        self.device = "cuda" if self.gpus else "cpu"
        self.workers: list[_Worker] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._idle_deaths = 0

    def describe(self) -> str:
        where = f"{self.gpus} GPU(s), {self.config.models_per_gpu} per GPU" if self.gpus else "CPU"
        return f"local runner: {self.capacity} slot(s) on {where}, {self.threads} thread(s) each"

    def _spawn(self, slot: int) -> _Worker:
        gpu = slot % self.gpus if self.gpus else None
        return _Worker(self._ctx, slot, gpu, self.threads)

    def start(self) -> None:
        self.workers = [self._spawn(slot) for slot in range(self.capacity)]

    def submit(self, tasks: list[Task]) -> None:
        for task in tasks:
            worker = next(w for w in self.workers if w.task is None)
            worker.task = task.placed(self.device, self.threads)
            worker.conn.send(worker.task)

    def poll(self, timeout: float = 1.0) -> list[Answer]:
        ready = set(wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers],
                         timeout=timeout))
        answers = []
        for i, worker in enumerate(self.workers):
            if worker.conn in ready:
                try:
                    answers.append(worker.conn.recv())
                    worker.task = None
                    continue
                except (EOFError, OSError):
                    pass    # the worker died; handled below
            if worker.process.sentinel in ready or not worker.process.is_alive():
                worker.process.join(timeout=5)
                lost = worker.task
                if lost is not None:
                    answers.append(Answer.failed(lost, f"worker process died (exit code {worker.process.exitcode})"))
                else:
                    self._idle_deaths += 1
                    if self._idle_deaths > 3 * self.capacity:
                        raise RuntimeError("local runner: worker processes keep dying before taking a task")
                worker.conn.close()
                self.workers[i] = self._spawn(worker.slot)
        return answers

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        for worker in self.workers:
            worker.process.join(timeout=5 if worker.task is None else 0.1)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()
        self.workers = []
