"""DDP: two CPU processes (gloo) under torchrun train an epoch and write the single-process result format."""
import json
import os
import subprocess
import sys

from designspace import NetSpec, StageSpec
from designspace.data import DataConfig
from designspace.train import Recipe, train

SPEC = NetSpec(stages=(StageSpec(depth=1, width=8, group_width=4), StageSpec(depth=1, width=16, group_width=4)),
               stem="cifar", stem_width=8, num_classes=10)


def test_two_gloo_processes_match_the_single_process_format(tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.to_json())
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "designspace",
               "train", str(spec_file), "--data", "synthetic", "--train-subset", "8", "--test-subset", "5",
               "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--threads", "1", "--channels-last", "off",
               "--out", str(out), "--quiet", "--json"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["status"] == "done"  # only rank 0 reports
    ddp = json.loads((out / "result.json").read_text())
    assert ddp["settings"]["world_size"] == 2 and ddp["settings"]["backend"] == "gloo"
    assert ddp["settings"]["per_process_batch"] == 8 and ddp["settings"]["steps_per_epoch"] == 80 // 16
    assert len(ddp["epochs"]) == 1 and 0 <= ddp["epochs"][0]["test_error"] <= 100
    assert os.path.isfile(out / "checkpoint.pt")

    single = train(SPEC, DataConfig("synthetic", train_subset=8, test_subset=5),
                   Recipe(epochs=1, batch_size=16, channels_last="off"), device="cpu", progress=False).to_dict()
    assert set(single) == set(ddp)
    assert set(single["epochs"][0]) == set(ddp["epochs"][0])
    assert set(single["settings"]) == set(ddp["settings"])
    assert single["settings"]["steps_per_epoch"] == ddp["settings"]["steps_per_epoch"]


def test_two_processes_stop_together_on_divergence(tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.to_json())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "designspace",
               "train", str(spec_file), "--data", "synthetic", "--train-subset", "8", "--test-subset", "2",
               "--epochs", "2", "--batch-size", "16", "--lr", "1e30", "--device", "cpu", "--threads", "1",
               "--channels-last", "off", "--out", str(tmp_path / "nan"), "--quiet"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)  # a hang would time out
    result = json.loads((tmp_path / "nan" / "result.json").read_text())
    assert result["status"] == "diverged" and proc.returncode != 0
