"""Weights from torchvision and timm give the same outputs in our models (float32, eval mode).

Runs in the interop environment (`make test` / `.venv-interop/bin/pytest -m interop`).
Each foreign model gets random weights and perturbed BN statistics, so a wrong
mapping (swapped BNs, wrong rounding, wrong SE width, stride on the wrong conv)
changes the outputs.
"""
import pytest
import torch
from interop_helpers import randomize

from designspace import DesignspaceError, build_model, get_spec
from designspace.interop import convert_state_dict, detect_format
from designspace.registry import create_model

pytestmark = pytest.mark.interop
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")

TOL = 1e-5


def imported(foreign, name, res, tmp_path, **kw):
    """Save the foreign state dict to a file, create our model from it, compare outputs."""
    torch.manual_seed(1)
    foreign = randomize(foreign)
    path = tmp_path / "foreign.pth"
    torch.save(foreign.state_dict(), path)
    ours = create_model(name, checkpoint=path, **kw).eval()
    x = torch.randn(2, 3, res, res, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = foreign(x), ours(x)
    assert expected.abs().max() > 1e-2  # the comparison means something
    return ours, float((expected - got).abs().max())


@pytest.mark.parametrize("tv_name, zoo_name, res, rounding", [
    ("regnet_x_400mf", "RegNetX-400MF", 96, "torchvision"),
    ("regnet_y_800mf", "RegNetY-800MF", 96, "torchvision"),
    ("regnet_y_8gf", "RegNetY-8.0GF", 64, "torchvision"),
    ("regnet_y_400mf", "RegNetY-400MF", 96, "pycls"),
    ("regnet_x_800mf", "RegNetX-800MF", 96, "pycls"),
])
def test_torchvision_regnet_outputs_match(tv_name, zoo_name, res, rounding, tmp_path):
    foreign = getattr(torchvision.models, tv_name)(weights=None)
    ours, diff = imported(foreign, tv_name, res, tmp_path)  # torchvision's spelling of the name
    assert diff <= TOL
    # The rounding was picked from the checkpoint's shapes.
    assert ours.spec == get_spec(zoo_name, rounding=rounding)


@pytest.mark.parametrize("tv_name, zoo_name", [("regnet_x_400mf", "RegNetX-400MF"), ("regnet_y_800mf", "RegNetY-800MF")])
def test_torchvision_rounding_is_needed(tv_name, zoo_name):
    sd = getattr(torchvision.models, tv_name)(weights=None).state_dict()
    assert get_spec(zoo_name, rounding="pycls") != get_spec(zoo_name, rounding="torchvision")
    with pytest.raises(DesignspaceError, match=r"does not fit .*nothing loaded: shape of 'trunk_output"):
        create_model(zoo_name, checkpoint=sd, rounding="pycls")


@pytest.mark.parametrize("timm_name, zoo_name, res, rounding", [
    ("regnetx_002", "RegNetX-200MF", 96, "pycls"),
    ("regnetx_004", "RegNetX-400MF", 96, "pycls"),
    ("regnety_004", "RegNetY-400MF", 96, "pycls"),
    ("regnety_008", "RegNetY-800MF", 96, "pycls"),
    ("regnetx_004_tv", "RegNetX-400MF", 96, "torchvision"),
    ("regnety_008_tv", "RegNetY-800MF", 96, "torchvision"),
])
def test_timm_regnet_outputs_match(timm_name, zoo_name, res, rounding, tmp_path):
    foreign = timm.create_model(timm_name, pretrained=False)
    ours, diff = imported(foreign, zoo_name, res, tmp_path)
    assert diff <= TOL
    assert ours.spec == get_spec(zoo_name, rounding=rounding)


@pytest.mark.parametrize("make, name", [
    (lambda: torchvision.models.resnet50(weights=None), "ResNet-50"),
    (lambda: timm.create_model("resnet50", pretrained=False), "resnet50"),
    (lambda: torchvision.models.resnext50_32x4d(weights=None), "resnext50_32x4d"),
])
def test_resnet_outputs_match(make, name, tmp_path):
    _, diff = imported(make(), name, 64, tmp_path)
    assert diff <= TOL


def test_checkpoint_wrappers_and_formats(tmp_path):
    """A timm training checkpoint ({"state_dict": ..., "epoch": ...}) with DDP prefixes loads too."""
    foreign = randomize(timm.create_model("regnety_004", pretrained=False))
    wrapped = {"state_dict": {f"module.{k}": v for k, v in foreign.state_dict().items()}, "epoch": 7, "arch": "regnety_004"}
    torch.save(wrapped, tmp_path / "ckpt.pth.tar")
    ours = create_model("regnety_400mf", checkpoint=tmp_path / "ckpt.pth.tar", pretrained_format="timm").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert float((foreign(x) - ours(x)).abs().max()) <= TOL
    assert detect_format(foreign.state_dict()) == "timm"
    assert detect_format(torchvision.models.regnet_y_400mf().state_dict()) == "torchvision"
    assert detect_format(torchvision.models.resnet50().state_dict()) == "torchvision"  # timm's ResNets: same names


def test_safetensors_weights(tmp_path):
    """timm's hub weights are .safetensors files."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    foreign = randomize(timm.create_model("regnetx_002", pretrained=False))
    safetensors_torch.save_file(foreign.state_dict(), str(tmp_path / "model.safetensors"))
    ours = create_model("regnetx_002", checkpoint=tmp_path / "model.safetensors").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert float((foreign(x) - ours(x)).abs().max()) <= TOL
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(DesignspaceError, match="bad.safetensors"):
        create_model("regnetx_002", checkpoint=tmp_path / "bad.safetensors")


def test_wrong_library_named_explicitly_is_refused():
    sd = timm.create_model("regnety_004", pretrained=False).state_dict()
    with pytest.raises(DesignspaceError, match=r"torchvision format.*unexpected key 'stem\.conv\.weight'.*look like the timm format"):
        create_model("RegNetY-400MF", checkpoint=sd, pretrained_format="torchvision")


def test_torchvision_rounding_builds_every_torchvision_regnet():
    """All 24 zoo RegNets with rounding='torchvision' have exactly torchvision's shapes (meta device: no memory)."""
    from functools import partial

    from torchvision.models.regnet import BlockParams, RegNet

    from designspace.zoo import REGNETX, REGNETY

    differs = []
    for name, p in {**REGNETX, **REGNETY}.items():
        params = BlockParams.from_init_params(depth=p["depth"], w_0=p["w0"], w_a=p["wa"], w_m=p["wm"],
                                              group_width=p["group_width"], se_ratio=0.25 if name in REGNETY else None)
        with torch.device("meta"):
            theirs = RegNet(params, norm_layer=partial(torch.nn.BatchNorm2d, eps=1e-5, momentum=0.1))
            ours = build_model(get_spec(name, rounding="torchvision"))
        convert_state_dict(theirs.state_dict(), ours, "torchvision")  # raises on any key or shape mismatch
        if get_spec(name, rounding="torchvision") != get_spec(name):
            differs.append(name)
    # Of these, torchvision ships the first, third and fifth (docs/design.md, RegNet generation, fact 7).
    assert differs == ["RegNetX-400MF", "RegNetX-4.0GF", "RegNetY-800MF", "RegNetY-4.0GF", "RegNetY-8.0GF"]


def _torchvision_stages(d, w0, wa, wm, g, b):
    from torchvision.models.regnet import BlockParams

    bp = BlockParams.from_init_params(depth=d, w_0=w0, w_a=wa, w_m=wm, group_width=g, bottleneck_multiplier=1 / b)
    return list(bp.depths), list(bp.widths), list(bp.group_widths)


def _our_stages(d, w0, wa, wm, g, b):
    from designspace.regnet import regnet_spec

    spec = regnet_spec(d, w0, wa, wm, g, bottleneck_ratio=b, rounding="torchvision")
    return spec.depths, spec.widths, spec.group_widths


def test_torchvision_rounding_on_random_regnets():
    """Beyond the zoo: random RegNet parameters give torchvision's stages."""
    import numpy as np

    rng = np.random.default_rng(1)
    for _ in range(1500):
        params = (int(rng.integers(12, 29)), int(rng.integers(1, 33)) * 8, round(float(rng.uniform(8, 256)), 1),
                  round(float(rng.uniform(1.5, 3.0)), 3), int(rng.choice([1, 8, 16, 24, 48, 56, 64])),
                  float(rng.choice([1.0, 2.0, 4.0])))
        assert _our_stages(*params) == _torchvision_stages(*params), params


def test_torchvision_rounding_float32_pow_edge_case():
    # numpy's float32 pow gives 224*1.763**4 = 2164.0 (a tie, rounds down); torch gives 2164.0002 (-> 2168).
    params = (13, 224, 142.1, 1.763, 1, 4.0)
    assert _our_stages(*params) == _torchvision_stages(*params)
