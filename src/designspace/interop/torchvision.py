"""torchvision RegNet and ResNet/ResNeXt state dicts.

RegNet: `stem.0/1`, `trunk_output.block{i}.block{i}-{j}` (j from 0) with `proj.0/1`
and `f.a/b/c.0/1`, SE `f.se.fc1/fc2`, head `fc`. ResNet: `conv1`, `bn1`,
`layer{i}.{j}.conv1..3/bn1..3`, `downsample.0/1`, `fc` (timm's ResNets use the
same names).

torchvision rounds the group compatibility step differently (docs/design.md,
RegNet generation, fact 7): RegNetX-400MF, RegNetY-800MF and RegNetY-8.0GF need
`rounding="torchvision"`; `designspace.create_model` picks it for these
checkpoints.

    from designspace.interop import torchvision
    torchvision.REGNET.rename("trunk_output.block2.block2-0.f.b.0.weight")  # 'stage2.block1.conv_b.weight'
"""
from ._mapping import Layout

FORMAT = "torchvision"

REGNET = Layout(
    name="torchvision-regnet",
    block_pattern=r"trunk_output\.block(?P<stage>\d+)\.block(?P=stage)-(?P<block>\d+)\.(?P<part>.+)",
    block_base=0,
    block_parts={
        "proj.0": "shortcut.conv", "proj.1": "shortcut.bn",
        "f.a.0": "conv_a", "f.a.1": "bn_a", "f.b.0": "conv_b", "f.b.1": "bn_b", "f.c.0": "conv_c", "f.c.1": "bn_c",
        "f.se.fc1": "se.reduce", "f.se.fc2": "se.expand",
    },
    other_parts={"stem.0": "stem.conv", "stem.1": "stem.bn", "fc": "head.fc"},
)

RESNET = Layout(
    name="resnet",
    block_pattern=r"layer(?P<stage>\d+)\.(?P<block>\d+)\.(?P<part>.+)",
    block_base=0,
    block_parts={
        "conv1": "conv_a", "bn1": "bn_a", "conv2": "conv_b", "bn2": "bn_b", "conv3": "conv_c", "bn3": "bn_c",
        "downsample.0": "shortcut.conv", "downsample.1": "shortcut.bn",
    },
    other_parts={"conv1": "stem.conv", "bn1": "stem.bn", "fc": "head.fc"},
)
LAYOUTS = (REGNET, RESNET)
