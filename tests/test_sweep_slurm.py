"""The SLURM path through submitit's LocalExecutor: answers as atomic JSON files, jobs throttled by the driver."""
import json
import os
import signal
import time

import pytest
from sweep_helpers import (mid_training, needs_module, start_driver, starts, stopped_at_exit, sweep_yaml,
                           wait_for, write_sweep)

from designspace.sweep import read_results

pytestmark = [pytest.mark.slow, needs_module("submitit")]


def test_slurm_local_executor_throttled_with_a_job_killed(tmp_path):
    runner = "type: slurm\n  slots: 2\n  threads_per_slot: 1\n  slurm: {executor: local, time: 10}"
    text = sweep_yaml(name="slurm-tiny", n=(2, 2), epochs=3, train_subset=60, runner=runner, max_attempts=3)
    sweep_file = write_sweep(tmp_path, text)
    out = tmp_path / "out"
    victim = out / "runs" / "anynetx_a" / "0"
    with stopped_at_exit(start_driver(sweep_file, out)) as driver:
        first = wait_for(mid_training(victim), 300, "a job past its first epoch", proc=driver)
        os.kill(first[0]["pid"], signal.SIGKILL)
        killed_at = time.time()
        assert driver.wait(timeout=300) == 0, driver.stdout.read().decode(errors="replace")[-3000:]
    frame = read_results(out).set_index(["space", "index"])
    assert (frame.status == "done").all() and len(frame) == 4
    row = frame.loc[("anynetx_a", 0)]
    assert row.attempts == 2 and "ended without an answer" in row.last_error
    assert starts(victim)[1]["checkpoint"]
    assert [e["epoch"] for e in json.loads(row.epochs)] == [1, 2, 3]

    # Each job wrote its answer file; no more than `slots` jobs ever trained at once.
    intervals = [(first[0]["time"], killed_at)]
    for space, index in frame.index:
        run_dir = out / "runs" / space / str(index)
        for entry in starts(run_dir):
            answer = run_dir / f"answer-{entry['attempt']}.json"
            if answer.exists():
                assert json.loads(answer.read_text())["ok"] is True
                intervals.append((entry["time"], answer.stat().st_mtime))
    assert len(intervals) == 5
    events = sorted([(t0, 1) for t0, _ in intervals] + [(t1, -1) for _, t1 in intervals])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most <= 2
