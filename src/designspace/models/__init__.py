"""Network modules built from a NetSpec."""
from .anynet import AnyNet, Head, Stage, build_model, init_weights
from .blocks import BLOCKS, ResBasicBlock, SqueezeExcitation, VanillaBlock, XBlock
from .stems import STEMS, CifarStem, ResStem, SimpleStem

__all__ = ["AnyNet", "Head", "Stage", "build_model", "init_weights", "BLOCKS", "XBlock", "ResBasicBlock",
           "VanillaBlock", "SqueezeExcitation", "STEMS", "SimpleStem", "ResStem", "CifarStem"]
