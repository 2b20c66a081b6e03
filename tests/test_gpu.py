"""CUDA-only paths: the captured training step, bf16, out-of-memory as a status, K models per GPU.

Skipped without a GPU. On a GPU machine (see benchmarks/gpu_check.sh):

    PYTHONPATH=src python -m pytest -m gpu tests/test_gpu.py
"""
import json

import pytest
import torch

from designspace import NetSpec, StageSpec
from designspace.data import DataConfig, DeviceLoader, load_dataset
from designspace.sweep import SweepConfig, read_results, run_sweep
from designspace.train import Recipe, train
from designspace.train.checkpoint import load_checkpoint
from designspace.train.progress import Progress

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SPEC = NetSpec(stages=(StageSpec(depth=1, width=16, group_width=8), StageSpec(depth=2, width=32, group_width=8)),
               stem="cifar", stem_width=16, num_classes=10)
DATA = DataConfig("synthetic", synthetic_train=1024, synthetic_test=256, resolution=32)


def run(cuda_graph, out_dir=None, progress=False, **recipe):
    options = dict(epochs=2, batch_size=64, augment=False, amp=False, channels_last="off", cuda_graph=cuda_graph)
    options.update(recipe)
    return train(SPEC, DATA, Recipe(**options), out_dir=out_dir, device="cuda", progress=progress)


def test_the_captured_step_trains_like_the_eager_loop():
    eager, graphed = run(False), run(True)
    assert eager.status == graphed.status == "done", (eager.message, graphed.message)
    assert graphed.settings["cuda_graph"] is True and graphed.settings["graph_capture_s"] > 0
    assert eager.settings["cuda_graph"] is False
    # same data order, same initial weights, fp32 (TF32 convolutions): only cuDNN's algorithm choices differ
    for a, b in zip(eager.epochs, graphed.epochs):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-2)
        assert abs(a["test_error"] - b["test_error"]) <= 5.0
    assert graphed.epochs[1]["train_loss"] < graphed.epochs[0]["train_loss"]


def test_bf16_graph_with_augmentation_and_ema_learns():
    result = run(True, epochs=3, augment=True, amp=True, channels_last="auto", ema_decay=0.9, lr=0.2)
    assert result.status == "done", result.message
    assert result.settings["autocast"] == "bf16" and result.settings["cuda_graph"] is True
    losses = [e["train_loss"] for e in result.epochs]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert result.final_error < 80  # 10 classes: chance is 90%
    assert result.epochs[-1]["peak_mem_mb"] > 0 and result.images_per_sec > 0


class StopAfterFirstEpoch(Progress):
    def end_epoch(self, record, epochs):
        raise KeyboardInterrupt


def test_a_graphed_run_resumes_from_its_checkpoint(tmp_path):
    full = run(True, out_dir=str(tmp_path / "full"))
    with pytest.raises(KeyboardInterrupt):
        run(True, out_dir=str(tmp_path / "cut"), progress=StopAfterFirstEpoch())
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    resumed = run(True, out_dir=str(tmp_path / "cut"))
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
    assert resumed.epochs[1]["train_loss"] == pytest.approx(full.epochs[1]["train_loss"], rel=1e-2)


def test_a_huge_lr_diverges_inside_the_graph():
    result = run(True, epochs=2, lr=1e30)
    assert result.status == "diverged" and "non-finite" in result.message


def test_out_of_memory_is_a_status_and_the_gpu_stays_usable():
    wide = NetSpec(stages=(StageSpec(depth=4, width=1024, group_width=1024, stride=1),), stem="cifar",
                   stem_width=1024, num_classes=10)
    data = DataConfig("synthetic", synthetic_train=16384, synthetic_test=64, resolution=64)
    result = train(wide, data, Recipe(epochs=1, batch_size=16384, channels_last="off"), device="cuda", progress=False)
    assert result.status == "oom" and "out of memory" in result.message
    assert run(False, epochs=1).status == "done"


def test_device_loader_batches_on_cuda_equal_the_cpu_ones():
    data = load_dataset(DATA)
    cpu = DeviceLoader(data, 64, "cpu", augment=False, seed=3)
    gpu = DeviceLoader(data, 64, "cuda", augment=False, seed=3)
    for (xa, ya), (xb, yb) in zip(cpu.epoch(1), gpu.epoch(1)):
        assert torch.equal(ya, yb.cpu()) and torch.allclose(xa, xb.cpu(), atol=1e-6)


def test_local_runner_packs_two_models_per_gpu(tmp_path):
    config = SweepConfig.from_dict({
        "name": "gpu-pack", "seed": 0, "flops": "1M:4M", "resolution": 32,
        "spaces": [{"name": "anynetx_a", "n": 2, "options": {"stem": "cifar"}},
                   {"name": "regnetx", "n": 2, "options": {"stem": "cifar"}}],
        "data": {"name": "synthetic", "synthetic_train": 2048, "synthetic_test": 512},
        "recipe": {"epochs": 2, "batch_size": 256, "cuda_graph": True},
        "runner": {"type": "local", "device": "cuda", "models_per_gpu": 2, "max_attempts": 1}}, where="test")
    summary = run_sweep(config, str(tmp_path / "sweep"), progress=False)
    frame = read_results(str(tmp_path / "sweep"))
    assert list(frame.status) == ["done"] * 4, summary
    assert all(str(d).startswith("cuda") for d in frame.device)
    for row in frame.to_dict("records"):
        epochs = json.loads(row["epochs"])
        assert len(epochs) == 2 and all(e["images_per_sec"] > 0 for e in epochs)
        result = json.loads((tmp_path / "sweep" / "runs" / row["space"] / str(row["index"]) / "result.json").read_text())
        assert result["settings"]["cuda_graph"] is True


def test_bench_runtime_on_cuda(run_cli, tmp_path):
    out = tmp_path / "runtime.jsonl"
    rc, _, err = run_cli("bench", "runtime", "RegNetX-200MF", "--device", "cuda", "--batch", "8", "--res", "64",
                         "--out", out)
    assert rc == 0, err
    row = json.loads(out.read_text().splitlines()[0])
    assert row["device"].startswith("cuda") and row["forward_s"] > 0
