"""Recipe: schedule values at given steps, lr scaling, weight-decay groups by type, the SGD update."""
import math

import pytest
import torch
from torch import nn

from designspace import DesignspaceError
from designspace.train import SGD, Recipe, parameter_groups


def test_half_period_cosine_per_iteration():
    recipe = Recipe(epochs=10, batch_size=128, lr=0.1)
    steps = 100  # per epoch -> 1000 in all
    assert recipe.lr_at(0, steps) == pytest.approx(0.1)
    assert recipe.lr_at(500, steps) == pytest.approx(0.05)
    assert recipe.lr_at(250, steps) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert recipe.lr_at(1000, steps) == pytest.approx(0.0, abs=1e-12)
    assert recipe.lr_at(999, steps) < recipe.lr_at(998, steps)  # changes every iteration, not per epoch
    table = recipe.lr_table(steps)
    assert table.shape == (1001,) and float(table[500]) == pytest.approx(0.05)


def test_lr_scales_linearly_with_batch_size():
    assert Recipe(batch_size=512, lr=0.1).peak_lr == pytest.approx(0.4)
    assert Recipe(batch_size=64, lr=0.1).lr_at(0, 10) == pytest.approx(0.05)


def test_linear_warmup_then_cosine():
    recipe = Recipe(epochs=10, lr=0.1, warmup_epochs=1, warmup_factor=0.1)
    steps = 100
    cosine = lambda s: 0.05 * (1 + math.cos(math.pi * s / 1000))  # noqa: E731
    assert recipe.lr_at(0, steps) == pytest.approx(0.01)
    assert recipe.lr_at(50, steps) == pytest.approx(cosine(50) * (0.1 * 0.5 + 0.5))
    assert recipe.lr_at(100, steps) == pytest.approx(cosine(100))
    assert Recipe(epochs=2, lr=0.1, min_lr=0.1).lr_at(20, 10) == pytest.approx(0.01)


def test_recipe_validation_and_round_trip():
    recipe = Recipe(epochs=3, nesterov=True, label_smoothing=0.1)
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    with pytest.raises(DesignspaceError, match="unknown key"):
        Recipe.from_dict({"epoch": 3})
    with pytest.raises(DesignspaceError, match="lr must be positive"):
        Recipe(lr=-1)
    with pytest.raises(DesignspaceError, match="warmup_epochs"):
        Recipe(epochs=2, warmup_epochs=5)


class Odd(nn.Module):
    """Parameter names chosen to fool a name-substring rule."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)  # weight: decayed; bias: not decayed
        self.bn = nn.BatchNorm2d(4)  # weight and bias: not decayed
        self.bias_scale = nn.Parameter(torch.ones(4))  # a weight that merely has "bias" in its name
        self.register_parameter("bn_gain", nn.Parameter(torch.ones(4)))  # "bn" in the name, not a norm layer


def test_weight_decay_exclusion_by_parameter_type():
    model = Odd()
    groups = parameter_groups(model, 5e-5, exclude_norm_and_bias=True)
    decay, no_decay = ({id(p) for p in params} for params, _ in groups)
    assert [wd for _, wd in groups] == [5e-5, 0.0]
    for p in (model.conv.weight, model.bias_scale, model.bn_gain):
        assert id(p) in decay
    for p in (model.conv.bias, model.bn.weight, model.bn.bias):
        assert id(p) in no_decay
    (everything, wd), = parameter_groups(model, 5e-5, exclude_norm_and_bias=False)
    assert len(everything) == 6 and wd == 5e-5


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_matches_torch_sgd(nesterov):
    torch.manual_seed(0)
    ours, ref = nn.Linear(5, 3), nn.Linear(5, 3)
    ref.load_state_dict(ours.state_dict())
    opt = SGD([(list(ours.parameters()), 1e-2)], momentum=0.9, nesterov=nesterov)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-2)
    for step in range(5):
        x = torch.randn(8, 5)
        lr = 0.1 * (1 - step / 10)
        for group in ref_opt.param_groups:
            group["lr"] = lr
        for model, optimizer, kw in ((ours, opt, {"lr": torch.tensor(lr)}), (ref, ref_opt, {})):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step(**kw)
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
