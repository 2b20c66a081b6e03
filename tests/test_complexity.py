"""Analytic complexity: the paper's reference values (docs/design.md, Complexity) and agreement with real modules."""
import numpy as np
import pytest
import torch
from torch import nn

from designspace import build_model, complexity, get_spec
from designspace.complexity import Cx
from designspace.spec import NetSpec, StageSpec
from designspace.zoo import MODELS

REFERENCE = {  # the paper's values, 224x224, 1000 classes
    "RegNetX-200MF": (199_040_872, 2_684_792, 2_164_056, [24, 56, 152, 368], [1, 1, 4, 7]),
    "RegNetX-400MF": (397_678_568, 5_157_512, 3_143_272, [32, 64, 160, 384], [1, 2, 7, 12]),
    "RegNetY-800MF": (797_183_328, 6_263_168, 5_249_888, [64, 128, 320, 768], [1, 3, 8, 2]),
    "ResNet-50": (4_089_185_256, 25_557_032, 11_315_688, [256, 512, 1024, 2048], [3, 4, 6, 3]),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_values(name):
    flops, params, acts, widths, depths = REFERENCE[name]
    spec = get_spec(name)
    assert complexity(spec) == {"flops": flops, "params": params, "acts": acts}
    assert spec.widths == widths and spec.depths == depths


def _meta_model(spec):
    with torch.device("meta"):
        return build_model(spec)


def _hooked_acts(model, spec, res):
    """Output elements of every conv, linear and max-pool layer on a real (meta) forward pass."""
    total = [0]
    hooks = [m.register_forward_hook(lambda m, i, o: total.__setitem__(0, total[0] + o[0].numel()))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d))]
    with torch.no_grad():
        model(torch.empty(1, spec.in_channels, res, res, device="meta"))
    for h in hooks:
        h.remove()
    return total[0]


def _hooked_flops(model, spec, res):
    """Multiply-adds of every conv/linear from its real output shape."""
    total = [0]

    def hook(m, i, o):
        out = o[0]
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            total[0] += out.numel() * k + (out.numel() if m.bias is not None else 0)
        else:
            total[0] += out.numel() * m.in_features + out.numel()

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.empty(1, spec.in_channels, res, res, device="meta"))
    for h in hooks:
        h.remove()
    return total[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_analytic_matches_module(name):
    spec = get_spec(name)
    res = 32 if spec.stem == "cifar" else 224
    model = _meta_model(spec)
    cx = complexity(spec, res)
    assert cx["params"] == sum(p.numel() for p in model.parameters())
    assert cx["acts"] == _hooked_acts(model, spec, res)
    assert cx["flops"] == _hooked_flops(model, spec, res)


def random_spec(rng, max_stages=5):
    stages = []
    for _ in range(int(rng.integers(1, max_stages + 1))):
        block = str(rng.choice(["X", "Y", "R", "V"]))
        width = int(rng.integers(1, 33)) * 8
        b = float(rng.choice([0.25, 0.5, 1.0, 2.0, 4.0])) if block in "XY" else 1.0
        w_b = int(round(width / b))
        divisors = [g for g in (1, 2, 4, 8, 16, 32, 64) if w_b % g == 0]
        g = int(rng.choice(divisors)) if block in "XY" else 1
        stages.append(StageSpec(depth=int(rng.integers(1, 4)), width=width, stride=int(rng.choice([1, 2])),
                                bottleneck_ratio=b, group_width=g, block=block))
    return NetSpec(stages=tuple(stages), stem=str(rng.choice(["simple", "resnet", "cifar"])),
                   stem_width=int(rng.integers(1, 9)) * 8, in_channels=int(rng.choice([1, 3])),
                   head_width=int(rng.choice([0, 64])), num_classes=int(rng.integers(2, 100)))


@pytest.mark.parametrize("seed", range(25))
def test_random_specs_analytic_matches_module(seed):
    rng = np.random.default_rng(seed)
    spec = random_spec(rng)
    res = int(rng.choice([28, 32, 37, 64]))
    model = _meta_model(spec)
    cx = complexity(spec, res)
    assert cx["params"] == sum(p.numel() for p in model.parameters())
    assert cx["acts"] == _hooked_acts(model, spec, res)
    assert cx["flops"] == _hooked_flops(model, spec, res)


def test_resolution_and_classes_change_counts():
    spec = get_spec("RegNetX-400MF")
    small = complexity(spec, 32)
    assert small["params"] == complexity(spec, 224)["params"]
    assert small["flops"] < complexity(spec, 224)["flops"]
    ten = complexity(spec.with_(num_classes=10), 224)
    assert complexity(spec)["params"] - ten["params"] == 384 * 990 + 990


def test_batched_counting_equals_scalar():
    """The primitives accept arrays: one call counts a batch sharing a stage layout."""
    rng = np.random.default_rng(0)
    n = 64
    widths = rng.integers(1, 40, size=(n, 4)) * 8
    depths = rng.integers(1, 6, size=(n, 4))
    template = get_spec("RegNetX-200MF").with_(stages=tuple(StageSpec(depth=1, width=8, group_width=8) for _ in range(4)))
    from designspace.models import Head, Stage, SimpleStem

    cx = SimpleStem.complexity(Cx(224, 224), 3, 32)
    w_in = np.full(n, 32)
    for i, stage in enumerate(template.stages):
        cx = Stage.complexity(cx, w_in, stage, depth=depths[:, i], width=widths[:, i])
        w_in = widths[:, i]
    cx = Head.complexity(cx, w_in, 0, 1000)
    for k in range(n):
        spec = template.with_(stages=tuple(StageSpec(depth=int(d), width=int(w), group_width=8)
                                           for d, w in zip(depths[k], widths[k])))
        assert complexity(spec) == {"flops": cx.flops[k], "params": cx.params[k], "acts": cx.acts[k]}


def test_count_network_prunes_rows_and_keeps_exact_counts():
    """The one walk, batched: a prune hook after every stage but the last drops rows; the rest stay exact."""
    from designspace.models import count_network

    rng = np.random.default_rng(1)
    n = 32
    depths, widths = rng.integers(1, 5, size=(n, 4)), rng.integers(1, 40, size=(n, 4)) * 8
    stages = [StageSpec(depth=depths[:, i], width=widths[:, i], group_width=8) for i in range(4)]
    seen = []

    def every_other_row(cx):
        seen.append(len(cx.flops))
        return np.arange(len(cx.flops)) % 2 == 0

    cx, rows = count_network(Cx(224, 224), "simple", 3, 32, stages, 0, 1000, prune=every_other_row)
    assert seen == [32, 16, 8] and rows.tolist() == [0, 8, 16, 24]
    full, no_rows = count_network(Cx(224, 224), "simple", 3, 32, stages, 0, 1000)
    assert no_rows is None and len(full.flops) == n
    for k, r in enumerate(rows.tolist()):
        spec = NetSpec(stages=tuple(StageSpec(depth=int(d), width=int(w), group_width=8)
                                    for d, w in zip(depths[r], widths[r])))
        assert complexity(spec) == {"flops": cx.flops[k], "params": cx.params[k], "acts": cx.acts[k]}
        assert (full.flops[r], full.params[r], full.acts[r]) == (cx.flops[k], cx.params[k], cx.acts[k])
