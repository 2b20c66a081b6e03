"""AnyNet: stem -> stages -> head, built from a NetSpec (a pure function of it).

    model = build_model(get_spec("RegNetX-200MF"))
    features = model.forward_features(x)                 # [N, 368, 7, 7] for 224x224 inputs
    pooled = model.forward_head(features, pre_logits=True)   # [N, 368]; forward_head(features) gives the logits
    model.reset_classifier(10)                           # a new 10-way head.fc; model.spec.num_classes == 10

Module names, stable because checkpoints depend on them:
    stem.{conv,bn}
    stage{i}.block{j}.{conv_a,bn_a,conv_b,bn_b,se.reduce,se.expand,conv_c,bn_c,shortcut.conv,shortcut.bn}
    head.{conv,bn} (only with head_width > 0), head.fc
Stages and blocks count from 1, as in the paper's figures (see docs/design.md, The network).

`count_network` is the one complexity walk (stem, stages, head; docs/design.md,
Complexity): `AnyNet.complexity` feeds it a spec's ints, the design-space
sampler feeds it one numpy array per stage field and prunes rows as it goes.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..spec import NetSpec, StageSpec
from .blocks import BLOCKS
from .counting import Cx, batchnorm, conv, global_pool, linear, take
from .small_maps import SmallMapConv2d
from .stems import STEMS

STAGE_FIELDS = ("depth", "width", "stride", "bottleneck_ratio", "group_width", "se_ratio")


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
    """[1x1 conv + BN + ReLU to head_width] -> global average pool -> FC (with bias).

    With num_classes 0 the FC is an identity: the head returns the pooled features.
    """

    def __init__(self, w_in: int, head_width: int, num_classes: int):
        super().__init__()
        if head_width:
            self.conv = SmallMapConv2d(w_in, head_width, 1, bias=False)
            self.bn = nn.BatchNorm2d(head_width)
            w_in = head_width
        self.num_features = w_in  # what the FC sees
        self.fc = nn.Linear(w_in, num_classes) if num_classes else nn.Identity()
        self.head_width = head_width

    def forward(self, x, pre_logits: bool = False):
        if self.head_width:
            x = torch.relu(self.bn(self.conv(x)))
        x = torch.flatten(x.mean((2, 3)), 1)
        return x if pre_logits else self.fc(x)

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

    @property
    def num_features(self) -> int:
        """Width of the pooled features the classifier sees (head_width, or the last stage's width)."""
        return self.head.num_features

    def stages(self):
        return [getattr(self, f"stage{i + 1}") for i in range(len(self.spec.stages))]

    def forward_features(self, x):
        """Stem and stages: the last feature map, before the head."""
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return x

    def forward_head(self, x, pre_logits: bool = False):
        """Head on a feature map; `pre_logits=True` stops at the pooled features (after the head conv)."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final layer, `head.fc` (an nn.Linear; nn.Identity after reset_classifier(0))."""
        return self.head.fc

    def reset_classifier(self, num_classes: int) -> None:
        """A freshly initialised `head.fc` for `num_classes` (0: none, return the pooled features).

        `self.spec` follows, so the model stays a pure function of its spec.
        """
        spec = self.spec.with_(num_classes=num_classes)  # validates num_classes
        like = self.stem.conv.weight  # the new layer lives where the model does
        self.head.fc = new_classifier(self.num_features, num_classes, device=like.device, dtype=like.dtype)
        self.spec = spec

    @staticmethod
    def complexity(cx: Cx, spec: NetSpec) -> Cx:
        cx, _ = count_network(cx, spec.stem, spec.in_channels, spec.stem_width, spec.stages, spec.head_width,
                              spec.num_classes)
        return cx


def take_rows(stage: StageSpec, rows) -> StageSpec:
    """The stage of a batch restricted to `rows`: fields holding arrays are indexed, scalars are shared."""
    return replace(stage, **{f: take(getattr(stage, f), rows) for f in STAGE_FIELDS
                             if isinstance(getattr(stage, f), np.ndarray)})


def count_network(cx: Cx, stem: str, in_channels, stem_width, stages, head_width, num_classes, prune=None):
    """The complexity walk: stem -> stages -> head, from the input state `cx`. Returns (cx, rows).

    With plain ints (a NetSpec's stages) this counts one network. With StageSpecs whose
    fields are numpy arrays (one entry per candidate), it counts a batch at once.
    `prune(cx)`, called after every stage but the last, may return a boolean mask of
    the rows to keep counting (None or all True: keep all); the others are dropped, since
    totals only grow. `rows` are then the original indices of the rows left, which the
    returned totals follow; None means no row was dropped.

        >>> from designspace import get_spec
        >>> spec = get_spec("RegNetX-200MF")
        >>> count_network(Cx(224, 224), "simple", 3, 32, spec.stages, 0, 1000)[0].flops
        199040872
    """
    cx = STEMS[stem].complexity(cx, in_channels, stem_width)
    w_in, rows = stem_width, None
    last = len(stages) - 1
    for i, stage in enumerate(stages):
        if rows is not None:
            stage = take_rows(stage, rows)
        cx = Stage.complexity(cx, w_in, stage)
        w_in = stage.width
        keep = prune(cx) if prune is not None and i < last else None
        if keep is not None and not np.all(keep):
            rows = np.flatnonzero(keep) if rows is None else rows[keep]
            cx, w_in = cx.take(keep), take(w_in, keep)
    return Head.complexity(cx, w_in, head_width, num_classes), rows


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


def new_classifier(num_features: int, num_classes: int, **factory) -> nn.Module:
    """A fresh final FC, initialised as `init_weights` does (N(0, 0.01), bias 0); Identity for 0 classes."""
    if not num_classes:
        return nn.Identity()
    fc = nn.Linear(num_features, num_classes, **factory)
    init_weights(fc)
    return fc
