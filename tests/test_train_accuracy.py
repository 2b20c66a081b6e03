"""Accuracy on real Fashion-MNIST: a bounded budget reaches an error a broken loop cannot reach.

Budget: a small RegNet-style X-block net (stem 24, stages 24/56/152, depths 1/2/2, group width 8),
the full 60,000-image training set, 2 epochs, batch 128, lr 0.1, no augmentation, 1 CPU thread
(about 100 s on one core). Bound: test top-1 error < 15% (measured: 11.1%; chance is 90%, a
linear classifier needs far more than 2 epochs of SGD to reach 15%).
"""
import json
import os

import pytest

from designspace import NetSpec, StageSpec
from designspace.data import DataConfig
from designspace.train import Recipe, train

FASHION = os.environ.get("DESIGNSPACE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION, "train-images-idx3-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)")
def test_two_epochs_on_fashion_mnist_reach_under_15_percent_error():
    spec = NetSpec(stages=(StageSpec(depth=1, width=24, group_width=8), StageSpec(depth=2, width=56, group_width=8),
                           StageSpec(depth=2, width=152, group_width=8)), stem_width=24)
    result = train(spec, DataConfig("fashion-mnist", root=FASHION),
                   Recipe(epochs=2, batch_size=128, lr=0.1, augment=False), device="cpu", threads=1, seed=0,
                   progress=False)
    assert result.status == "done" and len(result.epochs) == 2
    assert result.settings["data_sizes"]["train_size"] == 60000 and result.settings["data_sizes"]["test_size"] == 10000
    assert result.epochs[1]["train_loss"] < result.epochs[0]["train_loss"]
    assert result.final_error < 15.0, result.epochs


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION, "train-images-idx3-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)")
def test_zoo_regnetx_200mf_one_epoch_with_the_readme_defaults(tmp_path, run_cli):
    """The README's command: the small-image regime is the default for 28x28 data (docs/regime.md)."""
    rc, out, err = run_cli("train", "RegNetX-200MF", "--data", "fashion-mnist", "--data-dir", FASHION, "--epochs", "1",
                           "--threads", "2", "--out", tmp_path / "rx200", "--json", "--quiet")
    assert rc == 0, err
    summary = json.loads(out)
    result = json.loads((tmp_path / "rx200" / "result.json").read_text())
    assert result["settings"]["data_sizes"]["train_size"] == 60000 and result["settings"]["recipe"]["epochs"] == 1
    assert result["settings"]["recipe"]["zero_init_last_bn"] is True
    assert summary["status"] == "done" and summary["best_error"] < 15.0, result["epochs"]
