"""pycls (facebookresearch/pycls) AnyNet / RegNet / ResNet state dicts.

pycls names blocks `s{i}.b{j}` (from 1), the residual branch `f.a`, `f.a_bn`, ...,
the projection shortcut `proj` + `bn`, and SE `f.se.f_ex.0/2`. Its checkpoints
wrap the weights as {"model_state": ..., "epoch": ..., "cfg": ...}.

pycls's released ImageNet weights were trained on BGR images: load them with
`bgr_to_rgb=True` (see `designspace.interop.convert_state_dict`) to feed RGB.
pycls ResNets match ours only with RESNET.STRIDE_1X1 False (stride on the 3x3
conv, as in its released ResNe(X)t configs); the shapes cannot tell.

    from designspace.interop import pycls
    pycls.LAYOUT.rename("s1.b1.f.a_bn.weight")   # 'stage1.block1.bn_a.weight'
"""
from ._mapping import Layout

FORMAT = "pycls"

LAYOUT = Layout(
    name="pycls",
    block_pattern=r"s(?P<stage>\d+)\.b(?P<block>\d+)\.(?P<part>.+)",
    block_base=1,
    block_parts={
        "proj": "shortcut.conv", "bn": "shortcut.bn",
        "f.a": "conv_a", "f.a_bn": "bn_a", "f.b": "conv_b", "f.b_bn": "bn_b", "f.c": "conv_c", "f.c_bn": "bn_c",
        "f.se.f_ex.0": "se.reduce", "f.se.f_ex.2": "se.expand",
        # The vanilla block has no residual branch module.
        "a": "conv_a", "a_bn": "bn_a", "b": "conv_b", "b_bn": "bn_b",
    },
    other_parts={"stem.conv": "stem.conv", "stem.bn": "stem.bn", "head.fc": "head.fc"},
)
LAYOUTS = (LAYOUT,)
