"""Network modules built from a NetSpec, and their exact complexity (docs/design.md, The network; Complexity)."""
from .anynet import AnyNet, Head, Stage, build_model, count_network, init_weights, new_classifier, take_rows
from .blocks import BLOCKS, ResBasicBlock, SqueezeExcitation, VanillaBlock, XBlock
from .stems import STEMS, CifarStem, ResStem, SimpleStem

__all__ = ["AnyNet", "Head", "Stage", "build_model", "count_network", "take_rows", "init_weights", "new_classifier",
           "BLOCKS", "XBlock", "ResBasicBlock", "VanillaBlock", "SqueezeExcitation", "STEMS", "SimpleStem", "ResStem",
           "CifarStem"]
