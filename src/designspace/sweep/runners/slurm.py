"""The SLURM runner: submitit job arrays; the sweep directory lives on a shared file system.

Each job trains one model in its run directory and writes its answer there as an
atomic JSON file (`answer-<attempt>.json`); the driver polls for these files and
stays the only writer of the store. `executor: local` runs the same path through
submitit's LocalExecutor (for testing), which would start every job at once, so
the driver keeps at most `slots` jobs in flight.

    runner:
      type: slurm
      max_attempts: 3
      slurm: {partition: gpu, time: 120, array_parallelism: 64, cpus_per_task: 4,
              gpus_per_task: 1, mem_gb: 16, setup: ["module load cuda"]}
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

from ...io import atomic_write_json
from ..task import Answer, Task
from . import usable_cores

ANSWER_FILE = "answer-{attempt}.json"


def answer_file(task: Task) -> str:
    return os.path.join(task.run_dir, ANSWER_FILE.format(attempt=task.attempt))


def _slurm_train(task_json: dict, driver_pid: int | None = None) -> None:
    """A SLURM job: the task as JSON in, the answer as a JSON file in the run directory."""
    from ..worker import exit_when_gone, train_task

    if driver_pid:
        # Local executor: the job is not the driver's child, so watch the driver by pid.
        exit_when_gone(int(driver_pid))
    import torch

    task = Task.from_json(task_json)
    torch.set_num_threads(int(task.threads or 1))
    atomic_write_json(answer_file(task), train_task(task).to_json())


class SlurmRunner:
    def __init__(self, runner_config, sweep_dir: str):
        self.config = runner_config
        self.settings = dict(runner_config.slurm)
        self.local = self.settings.get("executor", "slurm") == "local"
        self.sweep_dir = sweep_dir
        self.folder = os.path.join(sweep_dir, "slurm")
        self.jobs_file = os.path.join(self.folder, "active_jobs.json")
        self.jobs: dict = {}     # RunKey -> (job, task)
        if self.local:
            self.capacity = runner_config.slots or self.settings.get("array_parallelism") or usable_cores()
            self.threads = runner_config.threads_per_slot or max(1, usable_cores() // self.capacity)
        else:
            # Everything pending goes in one array; SLURM throttles it with array_parallelism.
            self.capacity = runner_config.slots or 10 ** 6
            self.threads = self.settings.get("cpus_per_task") or runner_config.threads_per_slot or 1

    def describe(self) -> str:
        if self.local:
            return f"slurm runner (submitit local executor): {self.capacity} job(s) at once"
        return f"slurm runner: partition {self.settings.get('partition')}, arrays of up to {self.capacity} jobs"

    def start(self) -> None:
        import submitit

        os.makedirs(self.folder, exist_ok=True)
        self._cancel_stale_jobs()
        time_min = int(self.settings.get("time", 60))
        if self.local:
            self.executor = submitit.LocalExecutor(folder=os.path.join(self.folder, "%j"))
            self.executor.update_parameters(timeout_min=time_min)
            return
        self.executor = submitit.AutoExecutor(folder=os.path.join(self.folder, "%j"), cluster="slurm")
        params = {"timeout_min": time_min, "slurm_array_parallelism": int(self.settings.get("array_parallelism", 64)),
                  "cpus_per_task": int(self.threads), "gpus_per_node": int(self.settings.get("gpus_per_task", 0)),
                  "tasks_per_node": 1, "nodes": 1}
        if self.settings.get("partition"):
            params["slurm_partition"] = self.settings["partition"]
        if self.settings.get("mem_gb"):
            params["mem_gb"] = self.settings["mem_gb"]
        if self.settings.get("setup"):
            params["slurm_setup"] = list(self.settings["setup"])
        if self.settings.get("additional"):
            params["slurm_additional_parameters"] = dict(self.settings["additional"])
        self.executor.update_parameters(**params)

    def _cancel_stale_jobs(self) -> None:
        """Jobs a killed driver left queued would train the same models again: cancel them."""
        if self.local or not os.path.isfile(self.jobs_file):
            return
        try:
            with open(self.jobs_file, encoding="utf-8") as f:
                stale = json.load(f)
        except (OSError, ValueError):
            return
        if stale and shutil.which("scancel"):
            subprocess.run(["scancel", *sorted({str(j).split("_")[0] for j in stale})], check=False)

    def _save_job_ids(self) -> None:
        if not self.local:
            atomic_write_json(self.jobs_file, sorted({job.job_id for job, _ in self.jobs.values()}))

    def submit(self, tasks: list[Task]) -> None:
        prepared = [t.placed(self.config.device, self.threads) for t in tasks]
        driver_pid = os.getpid() if self.local else None
        if self.local:
            jobs = [self.executor.submit(_slurm_train, task.to_json(), driver_pid) for task in prepared]
        else:
            with self.executor.batch():
                jobs = [self.executor.submit(_slurm_train, task.to_json(), driver_pid) for task in prepared]
        for job, task in zip(jobs, prepared):
            self.jobs[task.key] = (job, task)
        self._save_job_ids()

    def poll(self, timeout: float = 1.0) -> list[Answer]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            answers = self._collect()
            if answers or time.monotonic() >= deadline:
                if answers:
                    self._save_job_ids()
                return answers
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _collect(self) -> list[Answer]:
        answers = []
        for key, (job, task) in list(self.jobs.items()):
            path = answer_file(task)
            if not os.path.isfile(path):
                if not job.done():
                    continue
                if not os.path.isfile(path):    # it may have landed between the two checks
                    answers.append(Answer.failed(task, f"job {job.job_id} ended without an answer ({job.state})"))
                    del self.jobs[key]
                    continue
            with open(path, encoding="utf-8") as f:
                answers.append(Answer.from_json(json.load(f)))
            del self.jobs[key]
        return answers

    def close(self) -> None:
        for job, _ in self.jobs.values():
            try:
                job.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        self.jobs.clear()
        self._save_job_ids()
