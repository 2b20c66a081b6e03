"""RegNet: from (d, w0, wa, wm, b, g) to a NetSpec, by the exact rules of docs/design.md, RegNet generation.

    u_j = w0 + wa * j                          (continuous widths, j < d)
    k_j = round(log(u_j / w0) / log(wm))       (half to even)
    w_j = round(w0 * wm**k_j / q) * q          (q = 8, half to even)
    stages = runs of equal w_j; then the group-compatibility step per stage.

Then RegNet is AnyNet with those stage parameters, nothing more.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import SpecError
from .spec import NetSpec, StageSpec

ROUNDINGS = ("pycls", "torchvision")


@dataclass(frozen=True)
class RegNetWidths:
    """Per-block view of a quantized linear width rule."""

    block_widths: list[int]  # w_j after quantization, before group compatibility
    continuous: list[float]  # u_j
    exponents: list[int]  # k_j
    stage_widths: list[int]
    stage_depths: list[int]

    @property
    def num_stages(self) -> int:
        return len(self.stage_widths)

    @property
    def skips_exponent(self) -> bool:
        """True when some exponent k was skipped (samplers reject these)."""
        return max(self.exponents) + 1 != self.num_stages


def check_regnet_params(depth, w0, wa, wm, q: int = 8) -> None:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise SpecError(f"regnet depth must be an integer >= 1, got {depth!r}")
    if not isinstance(w0, (int, np.integer)) or isinstance(w0, bool) or w0 <= 0 or w0 % q:
        raise SpecError(f"regnet w0 must be a positive multiple of {q}, got {w0!r}")
    if not isinstance(wa, (int, float)) or not math.isfinite(wa) or wa < 0:
        raise SpecError(f"regnet wa must be >= 0, got {wa!r}")
    if not isinstance(wm, (int, float)) or not math.isfinite(wm) or wm <= 1:
        raise SpecError(f"regnet wm must be > 1, got {wm!r}")


def quantized_linear(depth: int, w0: int, wa: float, wm: float, q: int = 8, rounding: str = "pycls") -> RegNetWidths:
    """Facts 1-4 (docs/design.md, RegNet generation): per-block widths and the stages they form (before compatibility)."""
    check_regnet_params(depth, w0, wa, wm, q)
    if rounding == "torchvision":
        u, k, w = _torchvision_widths(depth, w0, wa, wm, q)
    else:
        u = np.arange(depth, dtype=np.float64) * wa + w0
        k = np.round(np.log(u / w0) / math.log(wm))
        w = np.round(w0 * np.power(wm, k) / q) * q
    widths, depths = np.unique(w.astype(np.int64), return_counts=True)
    return RegNetWidths(
        block_widths=w.astype(np.int64).tolist(),
        continuous=u.astype(np.float64).tolist(),
        exponents=k.astype(np.int64).tolist(),
        stage_widths=widths.tolist(),
        stage_depths=depths.tolist(),
    )


def _torchvision_widths(depth, w0, wa, wm, q):
    """torchvision's float32 torch arithmetic: numpy's float32 pow can land on the other side of a tie."""
    import torch

    u = torch.arange(depth, dtype=torch.float32, device="cpu") * wa + w0  # "cpu" even under a meta-device context
    k = torch.round(torch.log(u / w0) / math.log(wm))
    w = torch.round(torch.divide(w0 * torch.pow(wm, k), q)) * q
    return u.double().numpy(), k.double().numpy(), w.double().numpy()


def _make_divisible_torchvision(v: float, divisor: int) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # never round down by more than 10%
        new_v += divisor
    return new_v


def adjust_widths_groups(widths, bottleneck_ratios, group_widths, rounding: str = "pycls"):
    """Fact 6 (docs/design.md, RegNet generation): make each stage's bottleneck width a multiple of its group width.

    Returns (widths, group_widths), per stage. `bottleneck_ratios` are the paper's b.
    """
    if rounding not in ROUNDINGS:
        raise SpecError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    out_w, out_g = [], []
    for w, b, g in zip(widths, bottleneck_ratios, group_widths):
        b_mul = 1.0 / b
        v = int(w * b_mul)
        g = min(g, v)
        if rounding == "pycls":
            v = max(g, int(round(v / g) * g))
        else:
            v = _make_divisible_torchvision(v, g)
        out_w.append(int(v / b_mul))
        out_g.append(g)
    return out_w, out_g


def regnet_spec(depth: int, w0: int, wa: float, wm: float, group_width: int, bottleneck_ratio: float = 1.0,
                se_ratio: float = 0.0, q: int = 8, rounding: str = "pycls", stem: str = "simple",
                stem_width: int = 32, in_channels: int = 3, num_classes: int = 1000, head_width: int = 0,
                stride: int = 2, name: str | None = None, block: str = "X") -> NetSpec:
    """The NetSpec of RegNet(d, w0, wa, wm, b, g) (Y when se_ratio > 0; `block` R or V for the block study)."""
    if not isinstance(group_width, (int, np.integer)) or isinstance(group_width, bool) or group_width < 1:
        raise SpecError(f"regnet group_width must be an integer >= 1, got {group_width!r}")
    if not isinstance(bottleneck_ratio, (int, float)) or bottleneck_ratio <= 0:
        raise SpecError(f"regnet bottleneck_ratio must be > 0, got {bottleneck_ratio!r}")
    rw = quantized_linear(depth, w0, wa, wm, q, rounding)
    n = rw.num_stages
    widths, groups = adjust_widths_groups(rw.stage_widths, [bottleneck_ratio] * n, [group_width] * n, rounding)
    block = "Y" if se_ratio > 0 else block
    stages = tuple(
        StageSpec(depth=int(d), width=int(w), stride=stride, bottleneck_ratio=float(bottleneck_ratio),
                  group_width=int(g), block=block, se_ratio=float(se_ratio))
        for d, w, g in zip(rw.stage_depths, widths, groups)
    )
    return NetSpec(stages=stages, stem=stem, stem_width=stem_width, in_channels=in_channels,
                   head_width=head_width, num_classes=num_classes, name=name)
