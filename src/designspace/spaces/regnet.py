"""RegNet design spaces: RegNetX, RegNetY, constrained RegNetX and the paper's variants.

    >>> from designspace.spaces import get_space
    >>> s = get_space("regnetx").sample(1, seed=0, flops=(360e6, 400e6))[0]
    >>> sorted(s.values)
    ['bottleneck_ratio', 'depth', 'group_width', 'w0', 'wa', 'wm']

Candidates are generated with a vectorized quantized-linear rule that performs the
same float operations as `designspace.regnet.quantized_linear`, so the stored spec
equals `regnet_spec(**values)`. Candidates that skip an exponent, or whose stage
count differs from the space's (4 by default), are rejected.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DesignspaceError
from .base import Batch, DesignSpace, adjust_widths_groups_batch, space_factory
from .distributions import Distribution, Fixed, LogUniform, PowerOfTwo, Uniform

PARAMETERS = ("depth", "w0", "wa", "wm", "bottleneck_ratio", "group_width")
QUANTUM = 8


def paper_distributions() -> dict:
    """Paper ranges: d < 64, w0 and wa up to 256, 1.5 <= wm <= 3, b and g as in AnyNetX."""
    return {"depth": Uniform(1, 63, 1, "depth"), "w0": LogUniform(8, 256, 8, "w0"), "wa": LogUniform(8, 256, 0.1, "wa"),
            "wm": LogUniform(1.5, 3, 0.001, "wm"), "bottleneck_ratio": PowerOfTwo(1, 4, "bottleneck_ratio"),
            "group_width": PowerOfTwo(1, 32, "group_width")}


def quantized_linear_batch(depth, w0, wa, wm, q: int = QUANTUM):
    """Per-block widths and exponents for a batch: (widths (N, D), exponents (N, D), valid (N, D)).

    Row n uses its first depth[n] columns; same operations as the scalar rule.
    """
    j = np.arange(int(depth.max()), dtype=np.float64)
    log_wm = np.fromiter(map(math.log, wm.tolist()), dtype=np.float64, count=len(wm))  # = scalar's math.log
    w0f = w0.astype(np.float64)
    u = j[None, :] * wa[:, None] + w0f[:, None]
    k = np.round(np.log(u / w0f[:, None]) / log_wm[:, None])
    w = np.round(w0f[:, None] * np.power(wm[:, None], k) / q) * q
    return w.astype(np.int64), k.astype(np.int64), j[None, :] < depth[:, None]


class RegNetSpace(DesignSpace):
    """RegNet(d, w0, wa, wm, b, g) with a fixed stage count; Y blocks when se_ratio > 0."""

    max_batch = 16384  # (batch x depth) float arrays

    def __init__(self, name: str, distributions: dict | None = None, se_ratio: float = 0.0,
                 w0_equals_wa: bool = False, limit_params_acts: bool = False, block: str = "X", **frame):
        super().__init__(name, **frame)
        if block not in ("X", "R", "V"):
            raise DesignspaceError(f"space {name}: block must be X, R or V (Y is X with se_ratio), got {block!r}")
        if block != "X" and se_ratio:
            raise DesignspaceError(f"space {name}: SE is only defined for X blocks")
        dists = paper_distributions()
        if block != "X":  # R and V blocks have no bottleneck and no groups
            dists.update(bottleneck_ratio=Fixed(1.0), group_width=Fixed(1))
        unknown = sorted(set(distributions or {}) - set(PARAMETERS))
        if unknown:
            raise DesignspaceError(f"space {name}: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(PARAMETERS)})")
        dists.update(distributions or {})
        for p, d in dists.items():
            if not isinstance(d, Distribution):
                raise DesignspaceError(f"space {name}: parameter {p} needs a distribution, got {d!r}")
        if dists["w0"].support().min() % QUANTUM or np.any(dists["w0"].support() % QUANTUM):
            raise DesignspaceError(f"space {name}: w0 values must be multiples of {QUANTUM}")
        if dists["wm"].support().min() <= 1:
            raise DesignspaceError(f"space {name}: wm must be > 1")
        if not 0 <= se_ratio <= 1:
            raise DesignspaceError(f"space {name}: se_ratio must be in [0, 1], got {se_ratio}")
        self.dists, self.w0_equals_wa, self.limit_params_acts = dists, bool(w0_equals_wa), bool(limit_params_acts)
        self.se_ratio = float(se_ratio)
        self.block = "Y" if self.se_ratio > 0 else block
        used = [p for p in PARAMETERS if not (p == "wa" and self.w0_equals_wa)]
        self.free_parameters = [f"{p}: {dists[p]!r}" for p in used if not isinstance(dists[p], Fixed)]
        self.constraints = [f"{p} = {dists[p].values[0]:g}" for p in used if isinstance(dists[p], Fixed)]
        if self.w0_equals_wa:
            self.constraints.append("wa = w0")
        if self.se_ratio:
            self.constraints.append(f"SE ratio {self.se_ratio:g} (Y blocks)")
        self.constraints.append(f"exactly {self.num_stages} stages, no skipped exponent")
        if self.limit_params_acts:
            self.constraints += ["params <= 3 + 5.5 F million (F = flops in GF)", "acts <= 6.5 sqrt(F) million"]

    def draw(self, rng, size):
        raw = {p: self.dists[p].from_uniform(rng.random(size)) for p in PARAMETERS}  # fixed order
        if self.w0_equals_wa:
            raw["wa"] = raw["w0"].astype(np.float64)
        depth, w0 = raw["depth"].astype(np.int64), raw["w0"].astype(np.int64)
        wa, wm = raw["wa"].astype(np.float64), raw["wm"].astype(np.float64)
        w, k, valid = quantized_linear_batch(depth, w0, wa, wm)
        rows = np.arange(size)
        changes = (w[:, 1:] != w[:, :-1]) & valid[:, 1:]
        num_stages = 1 + changes.sum(axis=1)
        k_max = k[rows, depth - 1]  # exponents never decrease along a row
        ok = (num_stages == k_max + 1) & (num_stages == self.num_stages)
        w, k, valid = w[ok], k[ok], valid[ok]
        s = self.num_stages
        depths = np.stack([((k == i) & valid).sum(axis=1) for i in range(s)], axis=1)
        widths = np.stack([np.where((k == i) & valid, w, 0).max(axis=1) for i in range(s)], axis=1)
        b = np.repeat(raw["bottleneck_ratio"][ok].astype(float)[:, None], s, axis=1)
        g = np.repeat(raw["group_width"][ok][:, None], s, axis=1)
        widths, groups = adjust_widths_groups_batch(widths, b, g)
        values = {p: raw[p][ok] for p in PARAMETERS}
        return Batch(depths.astype(np.int64), widths, b, groups, values)

    def values_at(self, batch, i):
        v = batch.values
        out = {"depth": int(v["depth"][i]), "w0": int(v["w0"][i]), "wa": float(v["wa"][i]), "wm": float(v["wm"][i]),
               "bottleneck_ratio": float(v["bottleneck_ratio"][i]), "group_width": int(v["group_width"][i])}
        if self.se_ratio:
            out["se_ratio"] = self.se_ratio
        return out

    def limits(self, flops, params, acts):
        if not self.limit_params_acts:
            return super().limits(flops, params, acts)
        gf = flops / 1e9
        return (params <= (3 + 5.5 * gf) * 1e6) & (acts <= 6.5 * np.sqrt(gf) * 1e6)

    def _size_terms(self):
        return [math.log10(self.dists[p].size()) for p in PARAMETERS if not (p == "wa" and self.w0_equals_wa)]


def builtin_regnet_spaces() -> dict:
    """name -> factory(**frame) for the built-in RegNet spaces."""

    def space(name, text, parent, **opts):
        return space_factory(RegNetSpace, name, text, parent, **opts)

    wm2 = {"wm": LogUniform(2, 3, 0.001, "wm")}
    return {
        "regnetx": space("regnetx", "RegNetX: d, w0, wa, wm, b, g (paper ranges), 4 stages", "anynetx_e"),
        "regnet_r": space("regnet_r", "RegNet with R blocks (residual basic, two 3x3): d, w0, wa, wm", None, block="R"),
        "regnet_v": space("regnet_v", "RegNet with V blocks (vanilla, no residual): d, w0, wa, wm", None, block="V"),
        "regnety": space("regnety", "RegNetY: RegNetX with squeeze-excitation (ratio 0.25)", None, se_ratio=0.25),
        "regnetx_c": space("regnetx_c", "Constrained RegNetX: b = 1, d <= 40, wm >= 2, params and acts limits",
                           "regnetx", limit_params_acts=True,
                           distributions={"bottleneck_ratio": Fixed(1.0), "depth": Uniform(1, 40, 1, "depth"), **wm2}),
        "regnetx_wm2": space("regnetx_wm2", "RegNetX with wm >= 2", "regnetx", distributions=wm2),
        "regnetx_w0wa": space("regnetx_w0wa", "RegNetX with w0 = wa", "regnetx", w0_equals_wa=True),
        "regnetx_pycls": space("regnetx_pycls", "RegNetX with the later pycls sampler ranges: d 12..28, wm 2..3, "
                               "g 1..128", "regnetx",
                               distributions={"depth": Uniform(12, 28, 1, "depth"), **wm2,
                                              "group_width": PowerOfTwo(1, 128, "group_width")}),
        "regnetx_ib": space("regnetx_ib", "RegNetX with an inverted bottleneck (b = 1/4)", "regnetx",
                            distributions={"bottleneck_ratio": Fixed(0.25)}),
        "regnetx_dw": space("regnetx_dw", "RegNetX with depthwise convs (g = 1)", "regnetx",
                            distributions={"group_width": Fixed(1)}),
        "regnetx_5stage": space("regnetx_5stage", "RegNetX with exactly 5 stages", None, num_stages=5),
    }
