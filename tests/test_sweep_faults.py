"""Crashes: kill -9 of the driver mid-sweep, and of a worker mid-training; nothing lost, nothing trained twice."""
import json
import os
import signal
import time

import pytest
from sweep_helpers import (mid_training, start_driver, starts, stopped_at_exit, sweep_yaml,
                           wait_for, write_sweep)

from designspace.io import safe_torch_load
from designspace.sweep import read_results, run_sweep
from designspace.sweep.worker import pid_alive

pytestmark = [pytest.mark.slow]


def _frame_or_none(out):
    try:
        return read_results(out)
    except Exception:  # noqa: BLE001 - the store may not exist yet while the driver samples
        return None


def test_driver_killed_mid_sweep_resumes_without_loss_or_repeats(tmp_path):
    sweep_file = write_sweep(tmp_path, sweep_yaml(n=(3, 3), epochs=2, train_subset=60))
    out = tmp_path / "out"
    with stopped_at_exit(start_driver(sweep_file, out)) as driver:
        def some_done_some_running():
            frame = _frame_or_none(out)
            if frame is None or not (frame.status == "done").any():
                return None
            running = [r for r in frame.itertuples() if r.status == "running"
                       and starts(out / "runs" / r.space / str(r.index))]
            return frame if running else None

        before = wait_for(some_done_some_running, 240, "a finished model and one in training", proc=driver)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    worker_pids = {s["pid"] for d in (out / "runs").glob("*/*") for s in starts(d)}
    wait_for(lambda: not any(pid_alive(p) for p in worker_pids), 15, "the workers to exit with the driver")

    done_before = before[before.status == "done"].set_index(["space", "index"])
    after_kill = read_results(out)
    assert (after_kill.status == "running").any()        # left behind by the dead driver

    summary = run_sweep(sweep_file, out, progress=False)
    final = read_results(out).set_index(["space", "index"])
    assert (final.status == "done").all() and len(final) == 6
    assert summary["trained"] + summary["recovered"] == 6 - (after_kill.status == "done").sum()
    for key, row in done_before.iterrows():     # finished results survive untouched
        assert final.loc[key, "best_error"] == row.best_error
        assert final.loc[key, "finished_at"] == row.finished_at
    for (space, index), row in final.iterrows():
        run_starts = starts(out / "runs" / space / str(index))
        assert [e["epoch"] for e in json.loads(row.epochs)] == [1, 2]
        if (space, index) in done_before.index:
            assert len(run_starts) == 1, (space, index, run_starts)    # never trained again
        else:
            assert 1 <= len(run_starts) <= 2, (space, index, run_starts)
        assert sum(not s["checkpoint"] for s in run_starts) >= 1
    restarted = sum(len(starts(out / "runs" / s / str(i))) == 2 for s, i in final.index)
    assert restarted + summary["recovered"] >= 1     # the model cut off by the kill was taken up again


def test_worker_killed_mid_training_resumes_from_its_checkpoint(tmp_path):
    text = sweep_yaml(n=(1, 1), epochs=4, train_subset=60, max_attempts=3,
                      runner="type: local\n  slots: 1\n  threads_per_slot: 1")
    sweep_file = write_sweep(tmp_path, text)
    out = tmp_path / "out"
    run_dir = out / "runs" / "anynetx_a" / "0"
    with stopped_at_exit(start_driver(sweep_file, out)) as driver:
        first = wait_for(mid_training(run_dir), 240, "the first epoch checkpoint", proc=driver)
        history = json.loads(safe_torch_load(run_dir / "checkpoint.pt")["history"])
        os.kill(first[0]["pid"], signal.SIGKILL)
        assert driver.wait(timeout=240) == 0
    run_starts = starts(run_dir)
    assert len(run_starts) == 2 and run_starts[1]["checkpoint"] and run_starts[1]["pid"] != run_starts[0]["pid"]
    final = read_results(out).set_index(["space", "index"])
    row = final.loc[("anynetx_a", 0)]
    assert row.status == "done" and row.attempts == 2 and "worker process died" in row.last_error
    epochs = json.loads(row.epochs)
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    # The epochs finished before the kill come from the checkpoint, not from training again.
    assert epochs[0] == history[0]
    assert final.loc[("regnetx", 0), "status"] == "done"
    assert time.time() - run_starts[0]["time"] < 600
