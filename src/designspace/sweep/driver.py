"""The sweep driver: sample every model, store it, then train the pending runs on a runner.

The experiment is defined by the store: all specs are sampled and written before
any training starts, so a resumed sweep trains exactly the models the first run
drew. The driver is the store's only writer. Running it again on the same
directory continues: rows a dead driver left `running` go back to `pending`, and a
run whose directory already holds a result is recorded, not trained again.

    from designspace.sweep import run_sweep
    summary = run_sweep("sweep.yaml", "sweeps/demo")            # resumes if sweeps/demo exists
    summary = run_sweep(config, "sweeps/demo", runner="ray")

`train_runs` is the loop itself, for any table of runs: the sweep's models, or a
calibration's runs (designspace.sweep.calibrate). The local runner starts its workers
with the "spawn" method, so a script that calls run_sweep needs the usual
`if __name__ == "__main__":` guard.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..errors import DesignspaceError
from ..results import STATUSES, Status
from .config import SweepConfig, load_sweep_file
from .store import DB_NAME, Store, db_path
from .task import RunKey, Task
from .worker import finished_result

LOCK_FILE = ".driver.lock"
_OWN_FILES = {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", LOCK_FILE}


def model_seed(sweep_seed: int, space: str, index: int) -> int:
    """A training seed per model, stable across resumes and runners."""
    digest = hashlib.sha256(f"{sweep_seed}:{space}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2 ** 31)


@contextmanager
def driver_lock(sweep_dir: str):
    """Hold an exclusive lock on the sweep directory: one driver, one writer."""
    path = os.path.join(sweep_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise DesignspaceError(f"{sweep_dir}: another sweep driver (pid {other}) is running on this directory") \
                from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)     # closing releases the lock (and the kernel releases it if we are killed)


def driver_active(sweep_dir: str) -> bool:
    """Whether a driver holds the directory's lock right now."""
    path = os.path.join(sweep_dir, LOCK_FILE)
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _json_or_none(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _differences(theirs, ours, prefix: str = "", limit: int = 3) -> list[str]:
    """Dotted keys where two stored sweep configs differ (the runner aside: it may change), at most `limit`."""
    if not isinstance(theirs, dict) or not isinstance(ours, dict):
        return [prefix] if theirs != ours and prefix else []
    found = []
    for key in sorted(set(theirs) | set(ours)):
        if not prefix and key == "runner":
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        found += _differences(theirs.get(key), ours.get(key), name, limit)
    return found[:limit]


def check_sweep_dir(config: SweepConfig, sweep_dir: str) -> bool:
    """Refuse a directory holding another experiment or other files; True when it holds this sweep."""
    if not os.path.exists(sweep_dir):
        return False
    if not os.path.isdir(sweep_dir):
        raise DesignspaceError(f"{sweep_dir}: exists and is not a directory")
    if os.path.exists(db_path(sweep_dir)):
        store = Store.open_existing(sweep_dir, readonly=True)
        try:
            theirs, their_name = store.meta("fingerprint"), store.meta("name")
            their_config = store.meta("config")
        finally:
            store.close()
        if theirs != config.fingerprint():
            differs = _differences(_json_or_none(their_config), config.to_dict())
            raise DesignspaceError(
                f"{sweep_dir}: holds a different sweep ({their_name!r}, fingerprint {theirs}; this file is "
                f"{config.name!r}, fingerprint {config.fingerprint()}"
                + (f"; they differ in {', '.join(differs)}" if differs else "")
                + "); refusing to mix two experiments: choose another --out")
        return True
    foreign = [n for n in os.listdir(sweep_dir) if n not in _OWN_FILES and not n.startswith(DB_NAME + ".creating")]
    if foreign:
        raise DesignspaceError(f"{sweep_dir}: not empty and holds no sweep store ({foreign[0]!r}, ...); "
                               f"choose another --out")
    return False


def sample_rows(config: SweepConfig) -> list[dict]:
    """Sample every space of the sweep (no training) -> store rows."""
    from ..spaces import get_space

    in_channels, num_classes, resolution = config.shape()
    rows = []
    for entry in config.spaces:
        space = get_space(entry.name, resolution=resolution, num_classes=num_classes, in_channels=in_channels,
                          **entry.options)
        for sample in space.sample(entry.n, seed=config.seed, flops=entry.flops, params=entry.params,
                                   acts=entry.acts):
            rows.append({"space": entry.label, "index": int(sample.index), "spec": json.dumps(sample.spec.to_dict()),
                         "values": json.dumps(sample.values), "flops": int(sample.flops),
                         "params": int(sample.params), "acts": int(sample.acts), "resolution": int(resolution)})
    return rows


def run_dir(sweep_dir: str, table: str, row) -> str:
    """Where a run trains: runs/<space>/<index> for a sweep model, calibration/<role>/<space>-<index>-<replicate>."""
    if table == "models":
        return os.path.join(sweep_dir, "runs", row["space"], str(row["index"]))
    return os.path.join(sweep_dir, "calibration", row["role"], f"{row['space']}-{row['index']}-{row['replicate']}")


def equal_work(row) -> float:
    """Every run the same share: on a GPU small models are launch-bound, so a step costs about the same."""
    return 1.0


def cpu_work(row) -> float:
    """A model's multiply-adds: on a CPU its time follows them (correlation 0.6-0.75 in the demo's sweeps)."""
    return float(row["flops"])


def model_work(config: SweepConfig) -> Callable[[dict], float]:
    """How a sweep's runs share its work: by multiply-adds on a CPU runner, equally elsewhere."""
    return cpu_work if config.runner.device == "cpu" else equal_work


@dataclass(frozen=True)
class RunPlan:
    """A table of runs to train, how each row becomes a Task (given its attempt number), in which order, and
    each run's share of the work (for the pace: a calibration's reference runs take 10-15x its regime's)."""

    table: str
    label: str
    task: Callable[..., Task]
    order: Callable[[list], list] = list
    work: Callable[[dict], float] = equal_work


def interleave_spaces(rows: list) -> list:
    """Round robin over the spaces (index 0 of each, then index 1, ...): partial results and the pace cover all."""
    first_seen = {space: i for i, space in enumerate(dict.fromkeys(r["space"] for r in rows))}
    return sorted(rows, key=lambda r: (int(r["index"]), first_seen[r["space"]]))


def sweep_plan(config: SweepConfig, sweep_dir: str) -> RunPlan:
    from ..spec import NetSpec

    def task(row, attempt: int) -> Task:
        space, index = row["space"], int(row["index"])
        return Task(key=RunKey("models", int(row["position"])), label=f"{space} #{index}",
                    spec=NetSpec.from_json(row["spec"]), data=config.data, recipe=config.recipe,
                    seed=model_seed(config.seed, space, index), attempt=attempt,
                    run_dir=os.path.abspath(run_dir(sweep_dir, "models", row)))
    return RunPlan("models", config.name, task, interleave_spaces, model_work(config))


def _recover(store: Store, plan: RunPlan, sweep_dir: str) -> int:
    """Record results a previous driver's workers finished but it did not store; reset stale `running` rows."""
    recovered = 0
    for row in store.rows(plan.table, (Status.PENDING, Status.RUNNING)):
        result = finished_result(run_dir(sweep_dir, plan.table, row))
        if result is not None:
            store.record_result(RunKey(plan.table, int(row["position"])), result)
            recovered += 1
    store.reset_running(plan.table)
    return recovered


FIRST_ESTIMATE_RUNS = 12


class Pace:
    """The pace measured on this machine: after the first runs, and at each quarter, how long all will take.

    works: each run's share of the work (`RunPlan.work`), so that runs of different lengths are timed by
    their work, not their count. The pace is taken from the first finished run on, so the workers' start-up
    (process start, imports, data load) counts once, not once per run.
    """

    def __init__(self, works: list, capacity: int):
        self.to_train, self.started, self.done = len(works), time.time(), 0
        self.total_work, self.work_done = float(sum(works)), 0.0
        self.first_finished, self.first_work = None, 0.0
        # The first estimate waits for FIRST_ESTIMATE_RUNS runs (and every slot's second): a mean over fewer of
        # these models' skewed costs was off by up to 40% (docs/regime.md, sections 4.11, 4.12). Later ones
        # come at each quarter.
        first = min(self.to_train, max(FIRST_ESTIMATE_RUNS, 2 * capacity))
        quarters = {self.to_train * q // 4 for q in (1, 2, 3)}
        self.milestones = sorted({first} | {q for q in quarters if first < q < self.to_train})
        self.estimate = None  # seconds for all the runs, as first estimated

    def finished_one(self, work: float = 1.0) -> bool:
        """Count a finished run of `work`; True when a new estimate is due (see `describe`)."""
        self.done += 1
        self.work_done += work
        if self.first_finished is None:
            self.first_finished, self.first_work = time.time(), self.work_done
        if self.done not in self.milestones:
            return False
        if self.estimate is None:
            self.estimate = self.current()
        return True

    def current(self) -> float:
        now = time.time()
        if self.done < 2:
            return (now - self.started) * self.total_work / max(self.work_done, 1e-9)
        per_work = (now - self.first_finished) / (self.work_done - self.first_work)
        return now - self.started + (self.total_work - self.work_done) * per_work

    def describe(self) -> str:
        elapsed, total = time.time() - self.started, self.current()
        return (f"measured pace: {self.done} of {self.to_train} runs in {elapsed / 60:.1f} minutes on this machine; "
                f"all take about {total / 60:.1f} minutes, {max(total - elapsed, 0) / 60:.1f} left")


class _Progress:
    def __init__(self, total: int, done: int, enabled: bool, label: str):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=done, desc=label, unit="model", file=sys.stderr,
                                dynamic_ncols=True)

    def update(self, counts: dict, advance: int = 1) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: v for k, v in counts.items() if v}, refresh=False)
            if advance:
                self.bar.update(advance)
            else:  # update(0) would not redraw: the new "running" count would show only at the next finish
                self.bar.refresh()

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (e.g. a scheduler's stop) cleans up like Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:     # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(config_or_path, out_dir, runner=None, progress=True, retry_failed=False) -> dict:
    """Sample (first run only) and train every pending model; returns a summary dict.

    runner: a runner type overriding the file's; retry_failed: give `failed` models a fresh set of attempts.
    """
    config = config_or_path if isinstance(config_or_path, SweepConfig) else load_sweep_file(config_or_path)
    if runner is not None:
        config = config.with_runner(runner)
    sweep_dir = os.fspath(out_dir)
    with open_sweep_store(config, sweep_dir) as store:
        plan = sweep_plan(config, sweep_dir)
        if retry_failed:
            store.reset_failed(plan.table)
        return train_runs(store, plan, config.runner, sweep_dir, progress)


@contextmanager
def open_sweep_store(config: SweepConfig, sweep_dir: str):
    """The sweep directory's store, created (sampled) on first use, under the driver lock; refuses another sweep."""
    exists = check_sweep_dir(config, sweep_dir)
    if not exists:
        config.data.require_root()          # a missing data set, too, before anything is written
    rows = None if exists else sample_rows(config)     # sampling errors come before anything is written
    os.makedirs(sweep_dir, exist_ok=True)
    with driver_lock(sweep_dir):
        if check_sweep_dir(config, sweep_dir):      # again under the lock: another driver may have made it
            store = Store.open_existing(sweep_dir)
        else:
            rows = rows if rows is not None else sample_rows(config)
            store = Store.create(sweep_dir, json.dumps(config.to_dict()), config.fingerprint(), config.name, rows)
        try:
            yield store
        finally:
            store.close()


def train_runs(store: Store, plan: RunPlan, runner_config, sweep_dir: str, progress: bool) -> dict:
    """Train every pending row of `plan.table` on the configured runner; returns a summary dict."""
    from .runners import make_runner

    started = time.time()
    recovered = _recover(store, plan, sweep_dir)
    pending = list(store.rows(plan.table, Status.PENDING))
    total = len(store.rows(plan.table))
    runner = make_runner(runner_config, sweep_dir) if pending else None
    in_flight: dict = {}
    bar, trained = None, 0
    try:
        with _sigterm_as_interrupt():
            if runner is not None:
                runner.start()
                if progress:
                    print(f"{plan.label}: {total} runs, {len(pending)} to train; {runner.describe()}",
                          file=sys.stderr)
            bar = _Progress(total, total - len(pending), progress, plan.label)
            pace = Pace([plan.work(row) for row in pending], runner.capacity if runner else 1)
            queue = plan.order(pending)
            while queue or in_flight:
                _submit(store, plan, runner, queue, in_flight, bar)
                for answer in runner.poll(timeout=1.0):
                    row = in_flight.pop(answer.key, None)
                    if row is None:
                        continue
                    if answer.fatal:
                        store.unmark_running(answer.key)
                        raise DesignspaceError(answer.error)
                    if answer.ok:
                        store.record_result(answer.key, answer.result)
                        trained += 1
                    elif store.mark_error(answer.key, _error_text(answer), runner_config.max_attempts,
                                          retry=answer.retry) == Status.PENDING:
                        queue.append(row)
                        continue
                    bar.update(_status_counts(store, plan.table))
                    if pace.finished_one(plan.work(row)) and progress:
                        bar.write(pace.describe())
    finally:
        if runner is not None:
            runner.close()
        for key in in_flight:     # interrupted attempts were not the runs' fault
            store.unmark_running(key)
        if bar is not None:
            bar.close()
    summary = _summary(store, plan, sweep_dir, trained, recovered, time.time() - started)
    return {**summary, "estimate_seconds": pace.estimate if bar is not None else None}


def _submit(store: Store, plan: RunPlan, runner, queue: list, in_flight: dict, bar) -> None:
    """Fill the runner's free slots from the queue."""
    batch = []
    while queue and runner.capacity - len(in_flight) - len(batch) > 0:
        row = queue.pop(0)
        key = RunKey(plan.table, int(row["position"]))
        task = plan.task(row, store.mark_running(key))
        in_flight[key] = row
        batch.append(task)
    if batch:
        runner.submit(batch)
        bar.update(_status_counts(store, plan.table), advance=0)


def _error_text(answer) -> str:
    """The store's last_error: the one-line error, and where its traceback is."""
    text = answer.error or "unknown error"
    return f"{text} (traceback: {answer.traceback})" if answer.traceback else text


def _summary(store: Store, plan: RunPlan, sweep_dir: str, trained: int, recovered: int, wall: float) -> dict:
    by_space: dict = {}
    for (space, status), n in store.counts(plan.table).items():
        by_space.setdefault(space, {})[str(status)] = n
    return {"sweep": plan.label, "dir": sweep_dir, "total": len(store.rows(plan.table)),
            "counts": _status_counts(store, plan.table), "by_space": by_space, "trained": trained,
            "recovered": recovered, "wall_time": wall, "models_per_hour": trained / wall * 3600 if wall > 0 else 0.0}


def _status_counts(store: Store, table: str) -> dict:
    counts = dict.fromkeys(STATUSES, 0)
    for (_, status), n in store.counts(table).items():
        counts[str(status)] += n
    return counts
