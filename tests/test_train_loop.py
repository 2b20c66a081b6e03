"""The training loop: result format, diverged/oom statuses, resume == uninterrupted, checkpoint refusal, CLI."""
import json
import os

import pytest
import torch

from designspace import DesignspaceError, NetSpec, StageSpec
from designspace.data import DataConfig, load_dataset
from designspace.train import Recipe, TrainResult, train
from designspace.train.checkpoint import load_checkpoint
from designspace.train.progress import Progress
from designspace.train.result import EPOCH_KEYS

SPEC = NetSpec(stages=(StageSpec(depth=1, width=8, group_width=4), StageSpec(depth=1, width=16, group_width=4)),
               stem="cifar", stem_width=8, num_classes=10)
DATA = DataConfig("synthetic", synthetic_train=256, synthetic_test=64, resolution=8)
FAST = dict(channels_last="off", eval_batch_size=64)


def run(tmp_path=None, **recipe):
    return train(SPEC, DATA, Recipe(**{"epochs": 2, "batch_size": 32, **FAST, **recipe}),
                 out_dir=None if tmp_path is None else str(tmp_path), device="cpu", seed=0, progress=False)


def test_result_format_and_files(tmp_path):
    result = run(tmp_path)
    assert result.status == "done" and len(result.epochs) == 2
    for record in result.epochs:
        assert set(EPOCH_KEYS) <= set(record)
        assert 0 <= record["test_error"] <= 100 and record["test_top5_error"] <= record["test_error"]
        assert record["images_per_sec"] > 0 and record["peak_mem_mb"] > 0
    assert result.best_error == min(e["test_error"] for e in result.epochs)
    assert result.final_error == result.epochs[-1]["test_error"]
    assert result.settings["recipe"]["epochs"] == 2 and result.settings["steps_per_epoch"] == 8
    assert result.settings["spec"]["in_channels"] == 3 and result.device.startswith("cpu") and result.host
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert TrainResult.from_dict(on_disk).to_dict() == on_disk and on_disk["status"] == "done"
    assert os.path.isfile(tmp_path / "checkpoint.pt")
    assert result.epochs[0]["lr"] > result.epochs[1]["lr"]


def test_the_loop_learns_the_synthetic_set():
    result = run(epochs=3, batch_size=16, lr=0.8, augment=False)  # 48 steps
    assert result.epochs[-1]["train_loss"] < 0.7 * result.epochs[0]["train_loss"]
    assert result.best_error < 50  # 10 classes: chance is 90%


def test_same_seed_same_result_on_cpu():
    a, b = run(epochs=1), run(epochs=1)
    assert a.epochs[0]["train_loss"] == b.epochs[0]["train_loss"] and a.best_error == b.best_error


def test_huge_lr_diverges_with_metrics_so_far():
    result = run(epochs=2, lr=1e30)
    assert result.status == "diverged" and "non-finite" in result.message
    assert result.epochs == [] and result.best_error != result.best_error  # NaN: no finished epoch


def test_oom_becomes_a_status(monkeypatch):
    import designspace.train.loop as loop

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(loop, "evaluate", out_of_memory)
    result = run(epochs=1)
    assert result.status == "oom" and "out of memory" in result.message


class StopAfterFirstEpoch(Progress):
    def end_epoch(self, record, epochs):
        raise KeyboardInterrupt


@pytest.mark.parametrize("precise_bn_images", [0, 64])
def test_resume_gives_the_same_final_weights(tmp_path, precise_bn_images):
    recipe = Recipe(epochs=3, batch_size=32, ema_decay=0.9, precise_bn_images=precise_bn_images, **FAST)
    full = train(SPEC, DATA, recipe, out_dir=str(tmp_path / "full"), device="cpu", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(SPEC, DATA, recipe, out_dir=str(tmp_path / "cut"), device="cpu", progress=StopAfterFirstEpoch())
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    torch.manual_seed(123)  # the global RNG comes back from the checkpoint
    resumed = train(SPEC, DATA, recipe, out_dir=str(tmp_path / "cut"), device="cpu", progress=False)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3]
    assert [e["train_loss"] for e in resumed.epochs] == [e["train_loss"] for e in full.epochs]
    a, b = (load_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("full", "cut"))
    assert a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for x, y in zip(a["optimizer"]["momentum_buffers"], b["optimizer"]["momentum_buffers"]):
        assert torch.equal(x, y)
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])
    again = train(SPEC, DATA, recipe, out_dir=str(tmp_path / "cut"), device="cpu", progress=False)
    assert again.epochs == resumed.epochs  # finished: nothing is trained again


@pytest.mark.parametrize("precise_bn_images", [0, 64])
def test_testing_less_often_trains_the_same_and_ends_with_the_same_test(precise_bn_images):
    every = run(epochs=3, precise_bn_images=precise_bn_images)
    last = run(epochs=3, precise_bn_images=precise_bn_images, test_every=3)
    second = run(epochs=3, precise_bn_images=precise_bn_images, test_every=2)
    assert [e["train_loss"] for e in last.epochs] == [e["train_loss"] for e in every.epochs]
    assert ["test_error" in e for e in last.epochs] == [False, False, True]
    assert ["test_error" in e for e in second.epochs] == [False, True, True]  # the last epoch is always tested
    assert last.final_error == last.best_error == every.final_error == second.final_error
    assert second.best_error == min(second.epochs[1]["test_error"], second.final_error)
    assert Recipe(epochs=4, test_every=3).tested_epochs == 2 and Recipe(epochs=4).tested_epochs == 4
    assert "test_every" not in Recipe().to_dict()  # stored runs keep their fingerprints
    with pytest.raises(DesignspaceError, match="test_every must be an integer >= 1"):
        Recipe(test_every=0)


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    run(tmp_path, epochs=1)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(DesignspaceError, match="different run .*spec"):
        train(NetSpec(stages=(StageSpec(depth=1, width=16, group_width=4),), stem="cifar", stem_width=8), DATA,
              Recipe(epochs=1, batch_size=32, **FAST), out_dir=str(tmp_path), device="cpu", progress=False)
    with pytest.raises(DesignspaceError, match="different run .*recipe"):
        run(tmp_path, epochs=1, lr=0.2)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DesignspaceError, match="not a readable checkpoint"):
        run(tmp_path, epochs=1)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(DesignspaceError, match="not a designspace training checkpoint"):
        run(tmp_path, epochs=1)
    fresh = train(SPEC, DATA, Recipe(epochs=1, batch_size=32, **FAST), out_dir=str(tmp_path), device="cpu",
                  resume=False, progress=False)
    assert fresh.status == "done" and load_checkpoint(path)["epoch"] == 1


def test_train_accepts_a_loaded_data_set_and_options():
    data = load_dataset(DATA)
    result = train(SPEC, data, Recipe(epochs=1, batch_size=32, nesterov=True, label_smoothing=0.1,
                                      exclude_norm_and_bias_from_decay=True, warmup_epochs=1, channels_last="on",
                                      eval_batch_size=64), device="cpu", progress=False)
    assert result.status == "done" and result.settings["channels_last"] is True
    assert result.settings["data_sizes"]["train_size"] == 256
    # The CPU kernels that ran: another kernel set (AVX2 vs AVX512) sums in another order (docs/regime.md, 4.11).
    assert result.settings["cpu_kernels"] == torch.backends.cpu.get_cpu_capability()
    # ... and the convolution code, which also sets the last bits (docs/regime.md, 4.15).
    assert result.settings["convolutions"] == "SmallMapConv2d"


def test_cli_train_writes_the_result(tmp_path, run_cli):
    rc, out, err = run_cli("train", "regnetx_200mf", "--data", "synthetic", "--train-subset", "4", "--test-subset", "2",
                           "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--channels-last", "off",
                           "--out", tmp_path / "r", "--json", "--quiet")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["status"] == "done" and os.path.isfile(summary["result"])
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["settings"]["spec"]["num_classes"] == 10 and result["settings"]["data_sizes"]["train_size"] == 40
    rc, out, err = run_cli("train", "regnetx_200mf", "--data", "cifar10", "--data-dir", tmp_path / "none")
    assert rc == 2 and err.count("\n") == 1 and str(tmp_path / "none") in err and "cifar" in err


def test_oom_before_the_first_epoch_is_a_status_too(monkeypatch, tmp_path):
    import designspace.train.loop as loop

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    monkeypatch.setattr(loop, "build_model", out_of_memory)
    result = run(tmp_path, epochs=1)
    assert result.status == "oom" and result.epochs == []
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "oom"


def test_channels_last_is_measured_only_when_the_run_can_pay_for_it():
    short = run(epochs=1, channels_last="auto")
    assert short.settings["channels_last"] is False and "skipped" in short.settings["channels_last_ms"]
    long = train(SPEC, DATA, Recipe(epochs=7, batch_size=32, channels_last="auto", eval_batch_size=64), device="cpu",
                 progress=False)  # 56 steps
    timings = long.settings["channels_last_ms"]
    assert set(timings) == {"contiguous", "channels_last"} and all(v > 0 for v in timings.values())
    assert long.settings["channels_last"] == (timings["channels_last"] < 0.95 * timings["contiguous"])
