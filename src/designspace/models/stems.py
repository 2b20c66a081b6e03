"""Stems: the first layers, before the stages (see docs/design.md, The network)."""
from __future__ import annotations

from torch import nn

from .counting import Cx, batchnorm, conv, maxpool
from .small_maps import SmallMapConv2d


class ConvStem(nn.Module):
    """3x3 conv, BN, ReLU with the subclass's stride."""

    stride = 1

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.conv = SmallMapConv2d(in_channels, width, 3, stride=self.stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))

    @classmethod
    def complexity(cls, cx: Cx, in_channels, width) -> Cx:
        return batchnorm(conv(cx, 3, in_channels, width, stride=cls.stride), width)


class SimpleStem(ConvStem):
    """3x3 conv, stride 2, BN, ReLU: every RegNet (width 32)."""

    stride = 2


class ResStem(nn.Module):
    """7x7 conv stride 2, BN, ReLU, 3x3 max-pool stride 2: ResNe(X)t."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.conv = SmallMapConv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(self.relu(self.bn(self.conv(x))))

    @staticmethod
    def complexity(cx: Cx, in_channels, width) -> Cx:
        cx = batchnorm(conv(cx, 7, in_channels, width, stride=2), width)
        return maxpool(cx, 3, 2, width)


class CifarStem(ConvStem):
    """3x3 conv stride 1, BN, ReLU: small images keep their resolution."""

    stride = 1


STEMS = {"simple": SimpleStem, "resnet": ResStem, "cifar": CifarStem}
