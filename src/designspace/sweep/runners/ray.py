"""The Ray runner: one Ray task per model, fractional GPUs so K models share a GPU.

Connects to an existing cluster (`address: auto` or `ray://host:10001`) or starts a
local one. The sweep directory must be on a file system every node sees (the run
directories hold the epoch checkpoints a retried task resumes from). Answers come
back to the driver through Ray's object store; a worker killed mid-task surfaces
as an error answer, and the driver's retry resumes from the checkpoint.

    runner:
      type: ray
      models_per_gpu: 4        # num_gpus = 1/4 per task
      threads_per_slot: 2      # num_cpus per task
      slots: 64                # most tasks in flight (default: what the cluster holds)
      ray: {address: auto}
"""
from __future__ import annotations

import math

from ..task import Answer, Task
from ..worker import one_line, train_task
from . import usable_gpus


def _ray_train(task_json: dict) -> dict:
    """A Ray task: JSON in and out, so nothing of ours is pickled across the cluster."""
    import torch

    task = Task.from_json(task_json)
    torch.set_num_threads(int(task.threads or 1))
    return train_task(task).to_json()


def plan_tasks(cpus: int, gpus: int, config) -> tuple[int, int, str, float]:
    """(tasks in flight, CPUs per task, device, GPU share per task) for a cluster of `cpus` and `gpus`."""
    gpus = usable_gpus(config.device, gpus, "the Ray cluster")
    threads = config.threads_per_slot or 1
    if not gpus:
        return config.slots or max(1, cpus // threads), threads, "cpu", 0.0
    # Ray keeps 4 decimals of a GPU and rounds to nearest: 1/6 -> 0.1667 would fit only 5 per GPU.
    share = math.floor(10000 / config.models_per_gpu) / 10000
    return config.slots or gpus * config.models_per_gpu, threads, "cuda", share


class RayRunner:
    def __init__(self, runner_config):
        self.config = runner_config
        self.settings = dict(runner_config.ray)
        self.refs: dict = {}
        self._started_ray = False
        self.capacity, self.threads = 1, 1

    def describe(self) -> str:
        where = self.settings.get("address") or "a local Ray instance"
        return f"ray runner on {where}: {self.capacity} task(s) in flight, {self.threads} CPU(s) each"

    def start(self) -> None:
        import ray

        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "ignore_reinit_error": True, "log_to_driver": False}
            address = self.settings.get("address")
            if address:
                kwargs["address"] = address
            else:
                for key in ("num_cpus", "num_gpus"):
                    if self.settings.get(key) is not None:
                        kwargs[key] = self.settings[key]
            ray.init(**kwargs)
            self._started_ray = True
        resources = ray.cluster_resources()
        self.capacity, self.threads, self.device, gpu_share = plan_tasks(
            int(resources.get("CPU", 1)), int(resources.get("GPU", 0)), self.config)
        self._remote = ray.remote(_ray_train).options(num_cpus=self.threads, num_gpus=gpu_share, max_retries=0)

    def submit(self, tasks: list[Task]) -> None:
        for task in tasks:
            task = task.placed(self.device, self.threads)
            self.refs[self._remote.remote(task.to_json())] = task

    def poll(self, timeout: float = 1.0) -> list[Answer]:
        import ray

        if not self.refs:
            return []
        ready, rest = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if rest:    # collect everything else already finished, without waiting
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        answers = []
        for ref in ready:
            task = self.refs.pop(ref)
            try:
                answers.append(Answer.from_json(ray.get(ref)))
            except Exception as e:  # noqa: BLE001 - a lost worker or task is this model's failed attempt
                answers.append(Answer.failed(task, one_line(e)))
        return answers

    def close(self) -> None:
        import ray

        for ref in list(self.refs):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self.refs.clear()
        if self._started_ray:
            ray.shutdown()
