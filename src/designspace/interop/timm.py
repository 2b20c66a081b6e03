"""timm (pytorch-image-models) RegNetX/Y and ResNet/ResNeXt state dicts.

RegNet: `stem.conv/bn`, `s{i}.b{j}` (from 1) with `conv1/2/3.conv|bn`, SE
`se.fc1/fc2`, shortcut `downsample.conv/bn`, head `head.fc`. timm's ResNets use
torchvision's names. timm's `*_tv` RegNets (e.g. `regnetx_004_tv`) are
torchvision's shapes: `designspace.create_model` tries the torchvision rounding
when the default one does not fit.

    from designspace.interop import timm
    timm.REGNET.rename("s3.b2.conv2.bn.running_var")  # 'stage3.block2.bn_b.running_var'
"""
from ._mapping import Layout
from .torchvision import RESNET

FORMAT = "timm"

REGNET = Layout(
    name="timm-regnet",
    block_pattern=r"s(?P<stage>\d+)\.b(?P<block>\d+)\.(?P<part>.+)",
    block_base=1,
    block_parts={
        "conv1.conv": "conv_a", "conv1.bn": "bn_a", "conv2.conv": "conv_b", "conv2.bn": "bn_b",
        "conv3.conv": "conv_c", "conv3.bn": "bn_c", "se.fc1": "se.reduce", "se.fc2": "se.expand",
        "downsample.conv": "shortcut.conv", "downsample.bn": "shortcut.bn",
    },
    other_parts={"stem.conv": "stem.conv", "stem.bn": "stem.bn", "head.fc": "head.fc"},
)
LAYOUTS = (REGNET, RESNET)
