"""Training one run of a sweep: the function every runner calls, in whatever process it runs.

    answer = train_task(task)        # a Task in (designspace.sweep.task), an Answer back; never raises

The model trains in its own run directory, so a retry resumes from the epoch
checkpoint; a run whose result.json exists is never trained again. Every
training start is logged to `starts.jsonl` there, and every failed attempt leaves
its full traceback in `traceback-<attempt>.txt`.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback

from ..errors import DesignspaceError
from ..results import Status
from .task import Answer, Task

RESULT_FILE = "result.json"
STARTS_FILE = "starts.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
TRACEBACK_FILE = "traceback-{attempt}.txt"

# Errors that are bugs in our code (or a broken install), not bad luck: trying again gives the same error.
PROGRAMMING_ERRORS = (TypeError, AttributeError, NameError, KeyError, IndexError, AssertionError, ImportError,
                      NotImplementedError, ZeroDivisionError)


def finished_result(run_dir: str):
    """The TrainResult a previous attempt left in run_dir, or None."""
    from ..train import TrainResult

    path = os.path.join(run_dir, RESULT_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        result = TrainResult.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None     # written atomically, so an unreadable file is foreign: train again
    return result if result.status in Status.trained() else None


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


def _log_start(task: Task) -> None:
    """Append one line per training start; the record a resumed sweep (and its tests) can audit."""
    entry = {"attempt": task.attempt, "pid": os.getpid(), "host": socket.gethostname(),
             "time": time.time(), "checkpoint": os.path.isfile(os.path.join(task.run_dir, CHECKPOINT_FILE))}
    with open(os.path.join(task.run_dir, STARTS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _keep_traceback(task: Task, error: BaseException) -> str | None:
    """Write the attempt's full traceback next to its checkpoint; the path, or None if that fails too."""
    path = os.path.join(task.run_dir, TRACEBACK_FILE.format(attempt=task.attempt))
    try:
        from ..io import atomic_write_text

        atomic_write_text(path, f"{task.label}, attempt {task.attempt}\n" +
                          "".join(traceback.format_exception(type(error), error, error.__traceback__)))
        return path
    except OSError:
        return None


def train_task(task: Task, dataset=None) -> Answer:
    """Train one model (resuming its checkpoint if any) and return its Answer; never raises."""
    try:
        os.makedirs(task.run_dir, exist_ok=True)
        previous = finished_result(task.run_dir)
        if previous is not None:
            return Answer.finished(task, previous)
        from ..data import load_dataset
        from ..train import train

        try:
            data = dataset if dataset is not None else load_dataset(task.data)
        except DesignspaceError as e:
            # A missing or malformed data set stops the whole sweep, not just this model.
            return Answer.failed(task, str(e), fatal=True)
        _log_start(task)
        result = train(task.spec, data=data, recipe=task.recipe, out_dir=task.run_dir, device=task.device,
                       threads=task.threads, seed=task.seed, resume=True, progress=False)
        return Answer.finished(task, result)
    except Exception as e:  # noqa: BLE001 - any error of one model is that model's failed attempt
        return Answer.failed(task, one_line(e), retry=not isinstance(e, PROGRAMMING_ERRORS),
                             traceback=_keep_traceback(task, e))


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
