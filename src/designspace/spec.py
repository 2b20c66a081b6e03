"""NetSpec: a frozen, validated description of one AnyNet-family network.

A network is a stem, a body of stages and a head (see docs/design.md, The network).
Every field is explicit, so a model and its complexity are pure functions of the spec:

    >>> spec = NetSpec(stages=(StageSpec(depth=1, width=24, group_width=8),))
    >>> NetSpec.from_dict(spec.to_dict()) == spec
    True
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .errors import SpecError, check_keys

BLOCK_TYPES = ("X", "Y", "R", "V")
STEM_TYPES = ("simple", "resnet", "cifar")
DEFAULT_SE_RATIO = 0.25


def bottleneck_width(width, bottleneck_ratio):
    """Width of the 3x3 conv inside an X/Y block: round(w / b), half to even.

    The one place this rule is written: the spec's validation, the X block and its
    counter all call it. Scalars give an int, numpy arrays an int64 array (batched counting):

        >>> bottleneck_width(20, 8.0), bottleneck_width(np.array([20, 28]), 8.0).tolist()
        (2, [2, 4])
    """
    w_b = width / bottleneck_ratio
    if isinstance(w_b, np.ndarray):
        return np.rint(w_b).astype(np.int64)
    return int(round(w_b))


def _check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{owner}.{name} must be an integer, got {value!r}")
    if value < minimum:
        raise SpecError(f"{owner}.{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class StageSpec:
    """One stage: `depth` identical blocks of `width` channels.

    The first block has stride `stride` and takes the previous stage's width.
    `bottleneck_ratio` is the paper's b (b < 1 is an inverted bottleneck);
    `group_width` is channels per group of the 3x3 conv (1 = depthwise).
    Block types: X (bottleneck + group conv), Y (X + squeeze-excitation),
    R (residual basic, two 3x3), V (vanilla, two 3x3, no residual).

    Construction does not validate (`validate()` does, and NetSpec calls it), so the
    batched counter may hold one numpy array per field, one entry per candidate network.
    """

    depth: int
    width: int
    stride: int = 2
    bottleneck_ratio: float = 1.0
    group_width: int = 1
    block: str = "X"
    se_ratio: float | None = None  # None: 0.25 for Y blocks, 0 otherwise

    def __post_init__(self):
        # Samplers build thousands of specs a second: plain type checks keep this cheap.
        if self.se_ratio is None:
            object.__setattr__(self, "se_ratio", DEFAULT_SE_RATIO if self.block == "Y" else 0.0)
        elif type(self.se_ratio) is int:
            object.__setattr__(self, "se_ratio", float(self.se_ratio))
        if type(self.bottleneck_ratio) is int:
            object.__setattr__(self, "bottleneck_ratio", float(self.bottleneck_ratio))

    def validate(self, where: str = "stage") -> None:
        ints = (self.depth, self.width, self.stride, self.group_width)
        if not all(type(v) is int and v >= 1 for v in ints):
            for name in ("depth", "width", "stride", "group_width"):
                _check_int(where, name, getattr(self, name), 1)
        if self.block not in BLOCK_TYPES:
            raise SpecError(f"{where}.block must be one of {', '.join(BLOCK_TYPES)}, got {self.block!r}")
        b = self.bottleneck_ratio
        if not isinstance(b, float) or not 0.0 < b < math.inf:
            raise SpecError(f"{where}.bottleneck_ratio must be a positive number, got {b!r}")
        se = self.se_ratio
        if not isinstance(se, float) or not 0.0 <= se <= 1.0:
            raise SpecError(f"{where}.se_ratio must be in [0, 1], got {se!r}")
        if self.block == "Y" and se <= 0:
            raise SpecError(f"{where}.se_ratio must be > 0 for a Y block, got {se}")
        if self.block in ("X", "R", "V") and se != 0:
            raise SpecError(f"{where}.se_ratio must be 0 for a {self.block} block (use block Y for SE), got {se}")
        if self.block in "XY":
            w_b = bottleneck_width(self.width, b)
            if w_b < 1:
                raise SpecError(f"{where}: bottleneck width round({self.width}/{b}) is < 1")
            if w_b % self.group_width:
                raise SpecError(
                    f"{where}.group_width {self.group_width} does not divide the bottleneck width "
                    f"{w_b} (= round(width {self.width} / bottleneck_ratio {b}))"
                )

    @property
    def bottleneck_width(self) -> int:
        return bottleneck_width(self.width, self.bottleneck_ratio)

    @property
    def groups(self) -> int:
        return self.bottleneck_width // self.group_width


@dataclass(frozen=True)
class NetSpec:
    """A whole network. `stem_width` is 32 for every RegNet (it does not follow w0).

    `num_classes=0` means no classifier: the network ends with the pooled features.
    """

    stages: tuple[StageSpec, ...]
    stem: str = "simple"
    stem_width: int = 32
    in_channels: int = 3
    head_width: int = 0
    num_classes: int = 1000
    name: str | None = None

    def __post_init__(self):
        stages = tuple(s if isinstance(s, StageSpec) else StageSpec(**s) for s in self.stages)
        object.__setattr__(self, "stages", stages)
        self.validate()

    def validate(self) -> None:
        if not self.stages:
            raise SpecError("stages must hold at least one stage")
        if self.stem not in STEM_TYPES:
            raise SpecError(f"stem must be one of {', '.join(STEM_TYPES)}, got {self.stem!r}")
        _check_int("spec", "stem_width", self.stem_width, 1)
        _check_int("spec", "in_channels", self.in_channels, 1)
        _check_int("spec", "head_width", self.head_width, 0)
        _check_int("spec", "num_classes", self.num_classes, 0)
        if self.name is not None and not isinstance(self.name, str):
            raise SpecError(f"spec.name must be a string, got {self.name!r}")
        for i, stage in enumerate(self.stages):
            stage.validate(f"stages[{i}]")

    # Convenience views -----------------------------------------------------
    @property
    def depths(self) -> list[int]:
        return [s.depth for s in self.stages]

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.stages]

    @property
    def strides(self) -> list[int]:
        return [s.stride for s in self.stages]

    @property
    def group_widths(self) -> list[int]:
        return [s.group_width for s in self.stages]

    @property
    def bottleneck_ratios(self) -> list[float]:
        return [s.bottleneck_ratio for s in self.stages]

    @property
    def depth(self) -> int:
        return sum(self.depths)

    def block_widths(self) -> list[int]:
        """Per-block widths w_j, j = 0..d-1 (what the quantized linear fit sees)."""
        return [s.width for s in self.stages for _ in range(s.depth)]

    def with_(self, **changes) -> "NetSpec":
        return replace(self, **changes)

    # Serialization ---------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [asdict(s) for s in self.stages]
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "NetSpec":
        check_keys(data, cls, "spec", SpecError)
        if "stages" not in data:
            raise SpecError("spec has no 'stages'")
        stages = data["stages"]
        if not isinstance(stages, (list, tuple)):
            raise SpecError("spec.stages must be a list of stages")
        parsed = []
        for i, s in enumerate(stages):
            check_keys(s, StageSpec, f"stages[{i}]", SpecError)
            missing = [k for k in ("depth", "width") if k not in s]
            if missing:
                raise SpecError(f"stages[{i}] is missing {', '.join(missing)}")
            parsed.append(StageSpec(**s))
        rest = {k: v for k, v in data.items() if k != "stages"}
        return cls(stages=tuple(parsed), **rest)

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_json(cls, text: str) -> "NetSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec is not valid JSON: {e}") from None
        return cls.from_dict(data)
