"""The Ray runner against a local Ray started inside a network namespace that holds only `lo`.

Ray binds to the host's non-loopback address even when told 127.0.0.1, so the
driver (and the Ray instance it starts) runs under `unshare -n` with only the
loopback interface up: no Ray traffic can leave the machine. A Ray worker is
killed mid-task; the retry resumes from the model's checkpoint.
"""
import json
import os
import shutil
import signal
import subprocess

import pytest
from sweep_helpers import (cli_env, mid_training, needs_module, start_driver, starts, stopped_at_exit, sweep_yaml,
                           wait_for, write_sweep)

from designspace.io import safe_torch_load
from designspace.sweep import read_results


def _loopback_namespace_available() -> str | None:
    """None when `unshare -n` works here, else the reason it does not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip not installed"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && ip -o link show"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip()[:200]}"
    links = [line.split(":")[1].strip() for line in probe.stdout.splitlines() if line.strip()]
    if links != ["lo"]:
        return f"the namespace holds more than lo: {links}"
    return None


_NO_NAMESPACE = _loopback_namespace_available()
pytestmark = [pytest.mark.slow, pytest.mark.ray, needs_module("ray"),
              pytest.mark.skipif(_NO_NAMESPACE is not None, reason=str(_NO_NAMESPACE))]


def test_ray_runner_on_loopback_with_a_worker_killed_mid_task(tmp_path):
    runner = "type: ray\n  slots: 2\n  threads_per_slot: 1\n  ray: {num_cpus: 2}"
    text = sweep_yaml(name="ray-tiny", n=(2, 1), epochs=3, train_subset=60, runner=runner, max_attempts=3)
    sweep_file = write_sweep(tmp_path, text)
    out = tmp_path / "out"
    home = tmp_path / "home"     # Ray keeps its session token under $HOME/.ray
    home.mkdir()
    env = cli_env(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    log = open(tmp_path / "driver.log", "wb")
    prefix = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    run_dir = out / "runs" / "anynetx_a" / "0"
    try:
        with stopped_at_exit(start_driver(sweep_file, out, prefix=prefix, env=env, log=log),
                             terminate_first=True) as driver:
            first = wait_for(mid_training(run_dir), 300, "a Ray task past its first epoch", proc=None)
            history = json.loads(safe_torch_load(run_dir / "checkpoint.pt")["history"])
            os.kill(first[0]["pid"], signal.SIGKILL)     # the Ray worker process running the task
            rc = driver.wait(timeout=300)
    finally:
        log.close()
    output = (tmp_path / "driver.log").read_text(errors="replace")
    assert rc == 0, output[-3000:]
    frame = read_results(out).set_index(["space", "index"])
    assert (frame.status == "done").all() and len(frame) == 3
    row = frame.loc[("anynetx_a", 0)]
    assert row.attempts == 2 and row.last_error
    run_starts = starts(run_dir)
    assert len(run_starts) == 2 and run_starts[1]["checkpoint"]
    epochs = json.loads(row.epochs)
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and epochs[0] == history[0]
    for space, index in frame.index:
        assert len(starts(out / "runs" / space / str(index))) == (2 if (space, index) == ("anynetx_a", 0) else 1)
