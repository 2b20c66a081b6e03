"""Precise BN statistics: the plain mean of the batch statistics, recomputed before each test; training unchanged."""
import json

import pytest
import torch
from torch import nn

from designspace import DesignspaceError
from designspace.train import Recipe, train
from designspace.train.checkpoint import load_checkpoint
from designspace.train.precise_bn import batch_norms, images_used, recompute_bn_statistics
from test_train_loop import DATA, FAST, SPEC


class Batches:
    """A loader stand-in: fixed batches, a different order for each epoch."""

    def __init__(self, batches):
        self.batches = batches

    def epoch(self, epoch):
        shift = epoch % len(self.batches)
        yield from self.batches[shift:] + self.batches[:shift]


def test_the_statistics_are_the_plain_mean_of_the_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.BatchNorm2d(5))
    batches = [(torch.randn(32, 3, 8, 8) * (1 + i), torch.zeros(32)) for i in range(5)]
    seen_by = {norm: [] for norm in batch_norms(model)}
    for norm in seen_by:
        norm.register_forward_hook(lambda module, inputs, output: seen_by[module].append(inputs[0].detach()))
    model.eval()

    used = recompute_bn_statistics(model, Batches(batches), images=70, epoch=1)

    assert used == images_used(70, 32, 5 * 32) == 96  # whole batches until at least 70 images: 3 of 32
    for norm, inputs in seen_by.items():
        assert len(inputs) == 3
        mean = torch.stack([x.mean(dim=(0, 2, 3)) for x in inputs]).mean(0)
        var = torch.stack([x.transpose(0, 1).flatten(1).var(dim=1, unbiased=True) for x in inputs]).mean(0)
        torch.testing.assert_close(norm.running_mean, mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(norm.running_var, var, rtol=1e-5, atol=1e-6)
        assert norm.momentum == 0.1
    assert not model.training
    torch.testing.assert_close(seen_by[batch_norms(model)[0]][0], nn.functional.conv2d(batches[1][0], model[0].weight,
                                                                                        model[0].bias))  # epoch 1's order


def test_more_images_than_an_epoch_use_its_full_batches():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    batches = [(torch.randn(32, 3, 8, 8), None) for _ in range(5)]
    assert recompute_bn_statistics(model, Batches(batches), images=1000, epoch=0) == images_used(1000, 32, 160) == 160
    assert images_used(1000, 32, 170) == 160 and images_used(0, 32, 160) == 0  # the loader drops a partial batch


def test_no_images_or_no_batch_norm_leaves_the_model_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert recompute_bn_statistics(model, Batches([(torch.randn(4, 3, 8, 8), None)]), images=0, epoch=0) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert recompute_bn_statistics(nn.Conv2d(3, 4, 3), Batches([(torch.randn(4, 3, 8, 8), None)]), 8, 0) == 0


def final_state(tmp_path, name, **recipe):
    result = train(SPEC, DATA, Recipe(epochs=2, batch_size=32, **FAST, **recipe), out_dir=str(tmp_path / name),
                   device="cpu", seed=0, progress=False)
    return result, load_checkpoint(tmp_path / name / "checkpoint.pt")["model"]


def test_only_the_statistics_change_not_the_training(tmp_path):
    plain, plain_state = final_state(tmp_path, "plain")
    precise, precise_state = final_state(tmp_path, "precise", precise_bn_images=64)

    assert [e["train_loss"] for e in precise.epochs] == [e["train_loss"] for e in plain.epochs]
    assert [e["precise_bn_images"] for e in precise.epochs] == [64, 64]  # 2 batches of 32, before each test
    statistics = [k for k in plain_state if k.endswith(("running_mean", "running_var"))]
    assert statistics
    for key, value in plain_state.items():
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        assert torch.equal(value, precise_state[key]), key  # every weight is the same
    assert all(not torch.equal(plain_state[k], precise_state[k]) for k in statistics)
    assert precise.settings["recipe"]["precise_bn_images"] == 64


def test_the_recipe_field_is_checked_and_left_out_of_stored_recipes_when_off():
    assert "precise_bn_images" not in Recipe().to_dict()  # runs stored before the field keep their fingerprints
    recipe = Recipe(precise_bn_images=2048)
    assert recipe.to_dict()["precise_bn_images"] == 2048 and Recipe.from_dict(recipe.to_dict()) == recipe
    assert Recipe.from_dict(Recipe().to_dict()) == Recipe()
    for wrong in (-1, 1.5, "2048"):
        with pytest.raises(DesignspaceError, match="precise_bn_images must be an integer >= 0"):
            Recipe(precise_bn_images=wrong)


def test_train_command_option(tmp_path, run_cli):
    rc, _, err = run_cli("train", "regnetx_200mf", "--data", "synthetic", "--train-subset", "4", "--test-subset", "2",
                           "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--channels-last", "off",
                           "--precise-bn", "16", "--out", tmp_path / "r", "--json", "--quiet")
    assert rc == 0, err
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["epochs"][0]["precise_bn_images"] == 16 and result["settings"]["recipe"]["precise_bn_images"] == 16
    rc, _, err = run_cli("train", "regnetx_200mf", "--data", "synthetic", "--precise-bn", "-1", "--out", tmp_path / "s")
    assert rc == 2 and err.count("\n") == 1 and "precise_bn_images must be an integer >= 0" in err
    assert not (tmp_path / "s").exists()
