"""Training one sampled model: the function every runner calls, in whatever process it runs.

A task is a plain dict (it crosses pipes, Ray and SLURM):

    {"space": "anynetx_a", "index": 7, "attempt": 1, "spec": {...NetSpec.to_dict()},
     "run_dir": "SWEEP/runs/anynetx_a/7", "seed": 1234, "data": {...}, "recipe": {...},
     "device": "auto", "threads": 1}

and the answer is {"space", "index", "attempt", "ok": bool, "result": TrainResult dict | None,
"error": one line | None, "fatal": bool}. The model trains in its own run directory,
so a retry resumes from the epoch checkpoint; a run whose result.json exists is
never trained again. Every training start is logged to `starts.jsonl` there.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time

RESULT_FILE = "result.json"
STARTS_FILE = "starts.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"

_DATASETS: dict = {}     # data-config JSON -> loaded dataset, so a process loads each data set once


def run_dir_for(sweep_dir: str, space: str, index: int) -> str:
    return os.path.join(sweep_dir, "runs", space, str(index))


def load_data_once(data: dict):
    """The loaded data set for a DataConfig dict, cached for the life of the process."""
    key = json.dumps(data, sort_keys=True)
    if key not in _DATASETS:
        from ..data import DataConfig, load_dataset

        _DATASETS[key] = load_dataset(DataConfig(**data))
    return _DATASETS[key]


def finished_result(run_dir: str):
    """The TrainResult dict a previous attempt left in run_dir, or None."""
    path = os.path.join(run_dir, RESULT_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None     # written atomically, so an unreadable file is foreign: train again
    return result if isinstance(result, dict) and result.get("status") in ("done", "diverged", "oom") else None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


def _log_start(run_dir: str, task: dict) -> None:
    """Append one line per training start; the record a resumed sweep (and its tests) can audit."""
    entry = {"attempt": task.get("attempt"), "pid": os.getpid(), "host": socket.gethostname(),
             "time": time.time(), "checkpoint": os.path.isfile(os.path.join(run_dir, CHECKPOINT_FILE))}
    with open(os.path.join(run_dir, STARTS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def train_task(task: dict, dataset=None) -> dict:
    """Train one model (resuming its checkpoint if any) and return the answer dict; never raises."""
    answer = {"space": task["space"], "index": task["index"], "attempt": task.get("attempt"),
              "ok": False, "result": None, "error": None, "fatal": False}
    run_dir = task["run_dir"]
    try:
        os.makedirs(run_dir, exist_ok=True)
        previous = finished_result(run_dir)
        if previous is not None:
            answer.update(ok=True, result=previous)
            return answer
        from ..errors import DesignspaceError
        from ..spec import NetSpec
        from ..train import Recipe, train

        try:
            data = dataset if dataset is not None else load_data_once(task["data"])
        except DesignspaceError as e:
            # A missing or malformed data set stops the whole sweep, not just this model.
            answer.update(error=str(e), fatal=True)
            return answer
        _log_start(run_dir, task)
        result = train(NetSpec.from_dict(task["spec"]), data=data, recipe=Recipe(**task["recipe"]),
                       out_dir=run_dir, device=task.get("device", "auto"), threads=task.get("threads"),
                       seed=task.get("seed", 0), resume=True, progress=False)
        answer.update(ok=True, result=result.to_dict())
    except Exception as e:  # noqa: BLE001 - any error of one model is that model's failed attempt
        answer["error"] = _one_line(e)
    return answer


def die_with_parent(parent_pid: int, interval: float = 1.0) -> None:
    """Exit this process as soon as `parent_pid` is gone (kill -9 of the driver included)."""
    try:    # Linux: the kernel sends SIGKILL when the parent dies.
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch():    # portable fallback, and it covers the race before prctl took effect
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(interval)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def exit_when_gone(pid: int, interval: float = 1.0) -> None:
    """Exit this process when process `pid` (not necessarily the parent) is gone."""
    def watch():
        while pid_alive(pid):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="driver-watch").start()
