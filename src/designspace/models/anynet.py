"""AnyNet: stem -> stages -> head, built from a NetSpec (a pure function of it).

Module names, stable because checkpoints depend on them:
    stem.{conv,bn}
    stage{i}.block{j}.{conv_a,bn_a,conv_b,bn_b,se.reduce,se.expand,conv_c,bn_c,shortcut.conv,shortcut.bn}
    head.{conv,bn} (only with head_width > 0), head.fc
Stages and blocks count from 1, as in the paper's figures.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..complexity import Cx, batchnorm, conv, global_pool, linear
from ..spec import NetSpec, StageSpec
from .blocks import BLOCKS
from .stems import STEMS


def _block_kwargs(stage: StageSpec) -> dict:
    return dict(bottleneck_ratio=stage.bottleneck_ratio, group_width=stage.group_width, se_ratio=stage.se_ratio)


class Stage(nn.Sequential):
    def __init__(self, w_in: int, stage: StageSpec):
        super().__init__()
        block = BLOCKS[stage.block]
        for j in range(stage.depth):
            stride = stage.stride if j == 0 else 1
            self.add_module(f"block{j + 1}", block(w_in if j == 0 else stage.width, stage.width, stride, **_block_kwargs(stage)))

    @staticmethod
    def complexity(cx: Cx, w_in, stage: StageSpec, depth=None, width=None) -> Cx:
        """Cost of one stage; `depth`/`width` override the stage's (arrays allowed)."""
        depth = stage.depth if depth is None else depth
        width = stage.width if width is None else width
        block = BLOCKS[stage.block]
        kw = _block_kwargs(stage)
        first = block.complexity(cx, w_in, width, stage.stride, **kw)
        rest = block.complexity(Cx(first.h, first.w), width, width, 1, **kw)
        return first.add_scaled(rest, depth - 1)


class Head(nn.Module):
    """[1x1 conv + BN + ReLU to head_width] -> global average pool -> FC (with bias)."""

    def __init__(self, w_in: int, head_width: int, num_classes: int):
        super().__init__()
        if head_width:
            self.conv = nn.Conv2d(w_in, head_width, 1, bias=False)
            self.bn = nn.BatchNorm2d(head_width)
            w_in = head_width
        self.fc = nn.Linear(w_in, num_classes)
        self.head_width = head_width

    def forward(self, x):
        if self.head_width:
            x = torch.relu(self.bn(self.conv(x)))
        return self.fc(torch.flatten(x.mean((2, 3)), 1))

    @staticmethod
    def complexity(cx: Cx, w_in, head_width, num_classes) -> Cx:
        if head_width:
            cx = batchnorm(conv(cx, 1, w_in, head_width), head_width)
            w_in = head_width
        return linear(global_pool(cx), w_in, num_classes)


class AnyNet(nn.Module):
    def __init__(self, spec: NetSpec, zero_init_last_bn: bool = False):
        super().__init__()
        self.spec = spec
        self.stem = STEMS[spec.stem](spec.in_channels, spec.stem_width)
        w_in = spec.stem_width
        for i, stage in enumerate(spec.stages):
            self.add_module(f"stage{i + 1}", Stage(w_in, stage))
            w_in = stage.width
        self.head = Head(w_in, spec.head_width, spec.num_classes)
        init_weights(self, zero_init_last_bn)

    def stages(self):
        return [getattr(self, f"stage{i + 1}") for i in range(len(self.spec.stages))]

    def forward_features(self, x):
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x):
        return self.head(self.forward_features(x))

    @staticmethod
    def complexity(cx: Cx, spec: NetSpec) -> Cx:
        cx = STEMS[spec.stem].complexity(cx, spec.in_channels, spec.stem_width)
        w_in = spec.stem_width
        for stage in spec.stages:
            cx = Stage.complexity(cx, w_in, stage)
            w_in = stage.width
        return Head.complexity(cx, w_in, spec.head_width, spec.num_classes)


def init_weights(model: nn.Module, zero_init_last_bn: bool = False) -> None:
    """Conv: N(0, sqrt(2 / (k*k*out))); BN: 1, 0; FC: N(0, 0.01), bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            last = zero_init_last_bn and getattr(m, "final_bn", False)
            nn.init.constant_(m.weight, 0.0 if last else 1.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


def build_model(spec: NetSpec, zero_init_last_bn: bool = False) -> AnyNet:
    """The nn.Module for `spec`."""
    return AnyNet(spec, zero_init_last_bn=zero_init_last_bn)
