"""Residual blocks: X (and Y = X + SE), R (residual basic), V (vanilla).

Each block has a static `complexity` that mirrors its constructor argument for
argument; every argument of those may be a numpy array (batched counting). The
counting rules are in docs/design.md, Complexity; the blocks in docs/design.md, The network.
Module names (`conv_a`, `bn_a`, ..., `shortcut.conv`) are part of the checkpoint
format: do not rename them.
"""
from __future__ import annotations

import numpy as np
from torch import nn

from ..spec import bottleneck_width
from .counting import Cx, batchnorm, conv, global_pool, rint
from .small_maps import SmallMapConv2d


class SqueezeExcitation(nn.Module):
    """GAP -> 1x1 conv (reduce, bias) -> ReLU -> 1x1 conv (expand, bias) -> sigmoid -> scale."""

    def __init__(self, width: int, se_width: int):
        super().__init__()
        self.reduce = SmallMapConv2d(width, se_width, 1, bias=True)
        self.expand = SmallMapConv2d(se_width, width, 1, bias=True)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = self.expand(nn.functional.relu(self.reduce(s), inplace=True))
        return x * s.sigmoid()

    @staticmethod
    def complexity(cx: Cx, width, se_width) -> Cx:
        se = global_pool(Cx(cx.h, cx.w))
        se = conv(conv(se, 1, width, se_width, bias=True), 1, se_width, width, bias=True)
        return Cx(cx.h, cx.w, cx.flops + se.flops, cx.params + se.params, cx.acts + se.acts)


class Shortcut(nn.Module):
    """1x1 conv with stride + BN: used iff the width or resolution changes."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.conv = SmallMapConv2d(w_in, w_out, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(w_out)

    def forward(self, x):
        return self.bn(self.conv(x))

    @staticmethod
    def needed(w_in, w_out, stride):
        return (w_in != w_out) | (stride != 1)

    @staticmethod
    def complexity(cx: Cx, w_in, w_out, stride) -> Cx:
        return batchnorm(conv(cx, 1, w_in, w_out, stride=stride), w_out)


def _add_shortcut(block_cx: Cx, input_cx: Cx, w_in, w_out, stride) -> Cx:
    """Add the projection's cost (counted from the block input) where it exists."""
    proj = Shortcut.complexity(Cx(input_cx.h, input_cx.w), w_in, w_out, stride)
    use = Shortcut.needed(w_in, w_out, stride)
    return Cx(block_cx.h, block_cx.w, block_cx.flops + use * proj.flops,
              block_cx.params + use * proj.params, block_cx.acts + use * proj.acts)


class XBlock(nn.Module):
    """Bottleneck with group conv: 1x1, 3x3 group (stride here), [SE], 1x1; ReLU(shortcut + f(x)).

    With se_ratio > 0 this is the Y block; the SE width is round(se_ratio * w_in)
    of the block *input* width.
    """

    def __init__(self, w_in: int, w_out: int, stride: int, bottleneck_ratio: float,
                 group_width: int, se_ratio: float = 0.0):
        super().__init__()
        w_b = bottleneck_width(w_out, bottleneck_ratio)
        groups = w_b // group_width
        self.conv_a = SmallMapConv2d(w_in, w_b, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(w_b)
        self.conv_b = SmallMapConv2d(w_b, w_b, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn_b = nn.BatchNorm2d(w_b)
        self.se = SqueezeExcitation(w_b, int(round(se_ratio * w_in))) if se_ratio > 0 else None
        self.conv_c = SmallMapConv2d(w_b, w_out, 1, bias=False)
        self.bn_c = nn.BatchNorm2d(w_out)
        self.bn_c.final_bn = True  # zero-initialised on request
        self.shortcut = Shortcut(w_in, w_out, stride) if Shortcut.needed(w_in, w_out, stride) else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        f = self.relu(self.bn_a(self.conv_a(x)))
        f = self.relu(self.bn_b(self.conv_b(f)))
        if self.se is not None:
            f = self.se(f)
        f = self.bn_c(self.conv_c(f))
        return self.relu(f + (x if self.shortcut is None else self.shortcut(x)))

    @staticmethod
    def complexity(cx: Cx, w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio=0.0) -> Cx:
        w_b = bottleneck_width(w_out, bottleneck_ratio)
        groups = w_b // group_width
        f = batchnorm(conv(cx, 1, w_in, w_b), w_b)
        f = batchnorm(conv(f, 3, w_b, w_b, stride=stride, groups=groups), w_b)
        if np.any(se_ratio):  # a scalar, or one ratio per candidate in a batch
            se = SqueezeExcitation.complexity(Cx(f.h, f.w), w_b, rint(se_ratio * w_in))
            has = se_ratio > 0
            f = Cx(f.h, f.w, f.flops + has * se.flops, f.params + has * se.params, f.acts + has * se.acts)
        f = batchnorm(conv(f, 1, w_b, w_out), w_out)
        return _add_shortcut(f, cx, w_in, w_out, stride)


class TwoConvBlock(nn.Module):
    """Two 3x3 conv + BN (stride on the first), with or without a residual (the subclass says)."""

    residual = True

    def __init__(self, w_in: int, w_out: int, stride: int, **_ignored):
        super().__init__()
        self.conv_a = SmallMapConv2d(w_in, w_out, 3, stride=stride, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(w_out)
        self.conv_b = SmallMapConv2d(w_out, w_out, 3, padding=1, bias=False)
        self.bn_b = nn.BatchNorm2d(w_out)
        self.shortcut = None
        if self.residual:
            self.bn_b.final_bn = True  # zero-initialised on request
            self.shortcut = Shortcut(w_in, w_out, stride) if Shortcut.needed(w_in, w_out, stride) else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        f = self.bn_b(self.conv_b(self.relu(self.bn_a(self.conv_a(x)))))
        if self.residual:
            f = f + (x if self.shortcut is None else self.shortcut(x))
        return self.relu(f)

    @classmethod
    def complexity(cls, cx: Cx, w_in, w_out, stride, **_ignored) -> Cx:
        f = batchnorm(conv(cx, 3, w_in, w_out, stride=stride), w_out)
        f = batchnorm(conv(f, 3, w_out, w_out), w_out)
        return _add_shortcut(f, cx, w_in, w_out, stride) if cls.residual else f


class ResBasicBlock(TwoConvBlock):
    """Two 3x3 convs (stride on the first) with a residual: the R block."""

    residual = True


class VanillaBlock(TwoConvBlock):
    """Two 3x3 conv + BN + ReLU, no residual: the V block."""

    residual = False


BLOCKS = {"X": XBlock, "Y": XBlock, "R": ResBasicBlock, "V": VanillaBlock}
