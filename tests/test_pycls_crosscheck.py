"""Cross-check against an independent implementation: pycls 0.1.1 (the paper's code).

Same flops/params/acts from pycls's complexity functions, and the same parameter
count from pycls's instantiated modules, for zoo models and random AnyNet specs.
"""
import numpy as np
import pytest

from designspace import complexity, get_spec
from designspace.spec import NetSpec, StageSpec

pycls_anynet = pytest.importorskip("pycls.models.anynet", reason="pycls 0.1.1 is installed by `make test`")

STEMS = {"simple": "simple_stem_in", "resnet": "res_stem_in", "cifar": "res_stem_cifar"}
BLOCKS = {"X": "res_bottleneck_block", "Y": "res_bottleneck_block", "R": "res_basic_block", "V": "vanilla_block"}


def pycls_kwargs(spec: NetSpec) -> dict:
    """pycls's AnyNet arguments for the same network (pycls uses one block type and SE ratio for all stages)."""
    block = spec.stages[0].block
    bottleneck = block in ("X", "Y")
    return {
        "stem_type": STEMS[spec.stem], "stem_w": spec.stem_width, "block_type": BLOCKS[block],
        "ds": spec.depths, "ws": spec.widths, "ss": spec.strides,
        "bms": [1.0 / b for b in spec.bottleneck_ratios] if bottleneck else None,  # pycls's bm = 1 / b
        "gws": spec.group_widths if bottleneck else None,
        "se_r": spec.stages[0].se_ratio or None, "nc": spec.num_classes,
    }


def pycls_complexity(spec, res):
    cx = {"h": res, "w": res, "flops": 0, "params": 0, "acts": 0}
    cx = pycls_anynet.AnyNet.complexity(cx, **pycls_kwargs(spec))
    return {k: cx[k] for k in ("flops", "params", "acts")}


def pycls_param_count(spec):
    import torch

    with torch.device("meta"):
        model = pycls_anynet.AnyNet(**pycls_kwargs(spec))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["RegNetX-200MF", "RegNetX-400MF", "RegNetX-8.0GF", "RegNetY-800MF", "RegNetY-4.0GF",
                                  "ResNet-50", "ResNeXt-101-32x4d", "CIFAR-ResNet-56"])
def test_zoo_models_agree_with_pycls(name):
    spec = get_spec(name)
    res = 32 if spec.stem == "cifar" else 224
    assert complexity(spec, res) == pycls_complexity(spec, res)
    assert complexity(spec, res)["params"] == pycls_param_count(spec)


@pytest.mark.parametrize("seed", range(20))
def test_random_anynets_agree_with_pycls(seed):
    rng = np.random.default_rng(seed)
    block = str(rng.choice(["X", "Y", "R", "V"]))
    se = 0.25 if block == "Y" else 0.0
    b = float(rng.choice([0.25, 1.0, 2.0, 4.0])) if block in "XY" else 1.0
    stages = []
    for _ in range(int(rng.integers(3, 6))):
        width = int(rng.integers(1, 64)) * 8
        w_b = int(round(width / b))
        g = int(rng.choice([g for g in (1, 2, 4, 8, 16, 32) if w_b % g == 0])) if block in "XY" else 1
        stages.append(StageSpec(depth=int(rng.integers(1, 5)), width=width, stride=int(rng.choice([1, 2])),
                                bottleneck_ratio=b, group_width=g, block=block, se_ratio=se))
    spec = NetSpec(stages=tuple(stages), stem=str(rng.choice(list(STEMS))), stem_width=int(rng.integers(1, 9)) * 8,
                   num_classes=int(rng.integers(2, 1001)))
    res = int(rng.choice([32, 64, 224]))
    assert complexity(spec, res) == pycls_complexity(spec, res)
    assert complexity(spec, res)["params"] == pycls_param_count(spec)
