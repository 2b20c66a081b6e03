"""pycls 0.1.1 weights (RegNet, AnyNet, ResNet) give the same outputs in our models.

Needs only pycls (installed in both environments), so it is not marked interop.
Also covers the BGR flag, checkpoint containers, key mapping and its errors.
"""
import contextlib

import pytest
import torch
from interop_helpers import randomize

from designspace import DesignspaceError, NetSpec, StageSpec, build_model, get_spec
from designspace.interop import convert_state_dict, detect_format, load_foreign_state_dict, pycls as pycls_layout
from designspace.interop import timm as timm_layout, torchvision as tv_layout
from designspace.registry import create_model

pycls_config = pytest.importorskip("pycls.core.config")
TOL = 1e-5


@contextlib.contextmanager
def pycls_cfg(**settings):
    """Set pycls's global config for one model, then restore it."""
    cfg = pycls_config.cfg
    saved = cfg.clone()
    try:
        for dotted, value in settings.items():
            node = cfg
            *path, leaf = dotted.split("__")
            for part in path:
                node = getattr(node, part)
            setattr(node, leaf, value)
        yield cfg
    finally:
        cfg.merge_from_other_cfg(saved)


def pycls_regnet(name, num_classes=1000):
    from pycls.models.regnet import RegNet

    from designspace.zoo import REGNETX, REGNETY

    p = {**REGNETX, **REGNETY}[name]
    with pycls_cfg(REGNET__DEPTH=p["depth"], REGNET__W0=p["w0"], REGNET__WA=p["wa"], REGNET__WM=p["wm"],
                   REGNET__GROUP_W=p["group_width"],
                   REGNET__SE_ON=name in REGNETY, MODEL__NUM_CLASSES=num_classes):
        return RegNet()


def pycls_resnet(depth, dataset="imagenet", trans_fun="bottleneck_transform", groups=1, width_per_group=64, nc=1000):
    from pycls.models.resnet import ResNet

    # pycls's released ResNe(X)t configs put the stride on the 3x3 conv, as ours do.
    with pycls_cfg(MODEL__DEPTH=depth, TRAIN__DATASET=dataset, TEST__DATASET=dataset, RESNET__TRANS_FUN=trans_fun,
                   RESNET__STRIDE_1X1=False, RESNET__NUM_GROUPS=groups, RESNET__WIDTH_PER_GROUP=width_per_group,
                   MODEL__NUM_CLASSES=nc):
        return ResNet()


def max_diff(a, b, x):
    with torch.no_grad():
        ya, yb = a(x), b(x)
    assert ya.abs().max() > 1e-2
    return float((ya - yb).abs().max())


def inputs(res, channels=3, batch=2):
    return torch.randn(batch, channels, res, res, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name, res", [("RegNetX-400MF", 64), ("RegNetY-400MF", 64), ("RegNetY-800MF", 64),
                                       ("RegNetX-200MF", 96)])
def test_pycls_regnet_outputs_match(name, res, tmp_path):
    theirs = randomize(pycls_regnet(name))
    # pycls's own checkpoint container.
    torch.save({"epoch": 99, "model_state": theirs.state_dict(), "optimizer_state": {}, "cfg": "MODEL: {}"},
               tmp_path / f"{name}.pyth")
    ours = create_model(name, checkpoint=tmp_path / f"{name}.pyth").eval()
    assert ours.spec == get_spec(name)  # pycls rounding
    assert max_diff(theirs, ours, inputs(res)) <= TOL


def test_pycls_resnet50_outputs_match():
    theirs = randomize(pycls_resnet(50))
    ours = create_model("ResNet-50", checkpoint=theirs.state_dict(), pretrained_format="pycls").eval()
    assert max_diff(theirs, ours, inputs(64)) <= TOL


def test_pycls_cifar_resnet_outputs_match():
    theirs = randomize(pycls_resnet(20, dataset="cifar10", trans_fun="basic_transform", nc=10))
    ours = create_model("CIFAR-ResNet-20", checkpoint=theirs.state_dict()).eval()
    assert max_diff(theirs, ours, inputs(32)) <= TOL


@pytest.mark.parametrize("block_type, block, stem_type, stem, bms, gws, se_r", [
    ("vanilla_block", "V", "simple_stem_in", "simple", None, None, None),
    ("res_basic_block", "R", "res_stem_cifar", "cifar", None, None, None),
    ("res_bottleneck_block", "Y", "res_stem_in", "resnet", [0.5, 0.25], [8, 16], 0.25),
])
def test_pycls_anynet_outputs_match(block_type, block, stem_type, stem, bms, gws, se_r):
    from pycls.models.anynet import AnyNet

    ds, ws, ss = [2, 3], [32, 64], [1, 2]
    theirs = randomize(AnyNet(stem_type=stem_type, stem_w=24, block_type=block_type, ds=ds, ws=ws, ss=ss,
                              bms=bms, gws=gws, se_r=se_r, nc=7))
    stages = tuple(StageSpec(depth=d, width=w, stride=s, block=block,
                             bottleneck_ratio=1 / bms[i] if bms else 1.0, group_width=gws[i] if gws else 1)
                   for i, (d, w, s) in enumerate(zip(ds, ws, ss)))
    ours = build_model(NetSpec(stages=stages, stem=stem, stem_width=24, num_classes=7))
    assert load_foreign_state_dict(ours, theirs.state_dict()) == "pycls"
    assert max_diff(theirs, ours.eval(), inputs(32)) <= TOL


def test_bgr_flag_makes_rgb_input_right():
    """pycls's released weights expect BGR: with bgr_to_rgb our model on RGB == pycls on BGR."""
    theirs = randomize(pycls_regnet("RegNetY-200MF"))
    ours = create_model("RegNetY-200MF", checkpoint=theirs.state_dict(), bgr_to_rgb=True).eval()
    rgb = inputs(64)
    bgr = rgb[:, [2, 1, 0]]
    with torch.no_grad():
        assert float((theirs(bgr) - ours(rgb)).abs().max()) <= TOL
        assert float((theirs(rgb) - ours(rgb)).abs().max()) > 1e-3  # the flag does something
    gray = build_model(get_spec("RegNetY-200MF", in_channels=1))
    with pytest.raises(DesignspaceError, match="3-channel stem"):
        convert_state_dict(gray.state_dict(), gray, bgr_to_rgb=True)


# --- key mapping, detection and errors (no foreign library needed) ---

@pytest.mark.parametrize("layout, key, ours", [
    (pycls_layout.LAYOUT, "s2.b3.f.b_bn.running_var", "stage2.block3.bn_b.running_var"),
    (pycls_layout.LAYOUT, "s1.b1.proj.weight", "stage1.block1.shortcut.conv.weight"),
    (pycls_layout.LAYOUT, "s1.b1.bn.bias", "stage1.block1.shortcut.bn.bias"),
    (pycls_layout.LAYOUT, "s4.b1.f.se.f_ex.2.weight", "stage4.block1.se.expand.weight"),
    (pycls_layout.LAYOUT, "head.fc.bias", "head.fc.bias"),
    (tv_layout.REGNET, "trunk_output.block3.block3-0.proj.1.running_mean", "stage3.block1.shortcut.bn.running_mean"),
    (tv_layout.REGNET, "trunk_output.block1.block1-4.f.se.fc1.bias", "stage1.block5.se.reduce.bias"),
    (tv_layout.REGNET, "stem.0.weight", "stem.conv.weight"),
    (tv_layout.RESNET, "layer4.2.bn3.weight", "stage4.block3.bn_c.weight"),
    (tv_layout.RESNET, "layer1.0.downsample.0.weight", "stage1.block1.shortcut.conv.weight"),
    (tv_layout.RESNET, "bn1.num_batches_tracked", "stem.bn.num_batches_tracked"),
    (timm_layout.REGNET, "s3.b2.conv3.bn.weight", "stage3.block2.bn_c.weight"),
    (timm_layout.REGNET, "s1.b1.downsample.conv.weight", "stage1.block1.shortcut.conv.weight"),
])
def test_layout_renames(layout, key, ours):
    assert layout.rename(key) == ours


@pytest.mark.parametrize("layout, key", [
    (tv_layout.REGNET, "trunk_output.block1.block2-0.f.a.0.weight"),  # stage numbers disagree
    (pycls_layout.LAYOUT, "s1.b1.f.z.weight"),
    (timm_layout.REGNET, "s1.b1.conv1.conv.scale"),
    (pycls_layout.LAYOUT, "s0.b1.f.a.weight"),
])
def test_layout_rejects_unknown_keys(layout, key):
    assert layout.rename(key) is None


def test_detect_format():
    ours = build_model(get_spec("RegNetY-200MF")).state_dict()
    assert detect_format(ours) == "designspace"
    assert detect_format(pycls_regnet("RegNetY-200MF").state_dict()) == "pycls"
    assert detect_format(pycls_resnet(50).state_dict()) == "pycls"
    with pytest.raises(DesignspaceError, match="cannot tell which library"):
        detect_format({"encoder.layers.0.weight": torch.zeros(1)})


def test_mismatches_are_named_and_nothing_is_loaded():
    theirs = pycls_regnet("RegNetX-200MF").state_dict()
    model = build_model(get_spec("RegNetX-200MF"))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    bad_shape = dict(theirs)
    bad_shape["s2.b1.f.b.weight"] = torch.zeros(56, 9, 3, 3)
    with pytest.raises(DesignspaceError, match=r"shape of 's2\.b1\.f\.b\.weight' is \(56, 9, 3, 3\), RegNetX-200MF "
                                               r"needs \(56, 8, 3, 3\) for 'stage2\.block1\.conv_b\.weight'"):
        load_foreign_state_dict(model, bad_shape)
    extra = dict(theirs, **{"s1.b1.f.extra.weight": torch.zeros(1)})
    with pytest.raises(DesignspaceError, match=r"unexpected key 's1\.b1\.f\.extra\.weight'"):
        load_foreign_state_dict(model, extra)
    missing = {k: v for k, v in theirs.items() if not k.startswith("s4.b7.f.c_bn.")}
    with pytest.raises(DesignspaceError, match=r"missing key 'stage4\.block7\.bn_c\.weight'"):
        load_foreign_state_dict(model, missing)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # The BN step counter is optional (old checkpoints lack it); all else is required.
    no_counters = {k: v for k, v in theirs.items() if not k.endswith("num_batches_tracked")}
    assert load_foreign_state_dict(model, no_counters) == "pycls"


def test_reset_classifier_for_fine_tuning():
    theirs = randomize(pycls_regnet("RegNetX-200MF"))
    with pytest.raises(DesignspaceError, match=r"head\.fc\.weight.*reset_classifier"):
        create_model("RegNetX-200MF", num_classes=10, checkpoint=theirs.state_dict())
    ours = create_model("RegNetX-200MF", num_classes=10, checkpoint=theirs.state_dict(), reset_classifier=True).eval()
    assert ours.head.fc.out_features == 10
    with torch.no_grad():
        x = inputs(64)
        features = theirs.head.avg_pool(torch.nn.Sequential(*list(theirs.children())[:-1])(x)).flatten(1)
        assert float((ours.forward_features(x).mean((2, 3)) - features).abs().max()) <= TOL


def test_not_a_state_dict():
    model = build_model(get_spec("RegNetX-200MF"))
    with pytest.raises(DesignspaceError, match="not a state dict of tensors"):
        load_foreign_state_dict(model, {"epoch": 3, "lr": 0.1})
