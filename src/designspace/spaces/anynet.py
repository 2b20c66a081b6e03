"""AnyNet design spaces: AnyNetX_A..E (paper section 3) and the alternates.

    >>> from designspace.spaces import get_space
    >>> space = get_space("anynetx_e", resolution=32, stem="cifar", num_classes=10)
    >>> space.sample(3, seed=1, flops=(None, 50e6))[0].spec.num_classes
    10

Per stage: depth d_i, width w_i, bottleneck ratio b_i and group width g_i.
A refinement shares a parameter across stages (one draw per model) or asks a
parameter to be non-decreasing across stages (drawn exactly from the i.i.d.
distribution conditioned on order, without rejection). Every candidate then goes through the group-compatibility step.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DesignspaceError
from .base import Batch, DesignSpace, adjust_widths_groups_batch, space_factory
from .distributions import Distribution, Fixed, LogUniform, PowerOfTwo

PARAMETERS = ("depth", "width", "bottleneck_ratio", "group_width")
PLURAL = {"depth": "depths", "width": "widths", "bottleneck_ratio": "bottleneck_ratios", "group_width": "group_widths"}


def paper_distributions() -> dict:
    """AnyNetX_A: d in 1..16, w in 8..1024 (step 8), b in {1,2,4}, g in {1..32}, all log-uniform."""
    return {"depth": LogUniform(1, 16, 1, "depth"), "width": LogUniform(8, 1024, 8, "width"),
            "bottleneck_ratio": PowerOfTwo(1, 4, "bottleneck_ratio"), "group_width": PowerOfTwo(1, 32, "group_width")}


def pmf(dist: Distribution) -> np.ndarray:
    """Probabilities of `dist.support()`, from its exact CDF."""
    return np.diff(np.concatenate([[0.0], dist.cdf(dist.support())]))


def sample_non_decreasing(dist: Distribution, u: np.ndarray) -> np.ndarray:
    """Rows of i.i.d. `dist` values conditioned on being non-decreasing, exactly, from uniforms u (N, k).

    P(x_1..x_k) is proportional to p(x_1)...p(x_k) on sorted tuples. Position t is drawn from
    its conditional given x_{t-1}: weight T_r(i) = p_i * (sum of T_{r-1} over i' >= i), r = k - t + 1.
    """
    support, p = dist.support(), pmf(dist)
    n, k = u.shape
    weights = [p]  # weights[r - 1] = T_r
    for _ in range(k - 1):
        weights.append(p * np.cumsum(weights[-1][::-1])[::-1])
    idx = np.zeros((n, k), dtype=np.int64)
    lo = np.zeros(n, dtype=np.int64)
    for t in range(k):
        cum = np.concatenate([[0.0], np.cumsum(weights[k - t - 1])])
        start, total = cum[lo], cum[-1] - cum[lo]
        pick = np.searchsorted(cum, start + u[:, t] * total, side="right") - 1
        lo = idx[:, t] = np.clip(pick, lo, len(support) - 1)
    return support[idx]


def _log10_comb(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(10)


class AnyNetSpace(DesignSpace):
    """AnyNet with per-stage (or shared, or non-decreasing) d, w, b, g."""

    def __init__(self, name: str, distributions: dict | None = None, shared=(), monotone=(),
                 exempt_last_depth: bool = False, block: str = "X", se_ratio: float | None = None, **frame):
        super().__init__(name, **frame)
        dists = paper_distributions()
        unknown = sorted(set(distributions or {}) - set(PARAMETERS))
        if unknown:
            raise DesignspaceError(f"space {name}: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(PARAMETERS)})")
        dists.update(distributions or {})
        if block in ("R", "V"):  # no bottleneck, no groups
            dists["bottleneck_ratio"], dists["group_width"] = Fixed(1.0), Fixed(1)
        for p, d in dists.items():
            if not isinstance(d, Distribution):
                raise DesignspaceError(f"space {name}: parameter {p} needs a distribution, got {d!r}")
        for what, names in (("shared", shared), ("monotone", monotone)):
            bad = sorted(set(names) - set(PARAMETERS))
            if bad:
                raise DesignspaceError(f"space {name}: {what} names unknown parameter(s) {', '.join(bad)}")
        both = sorted(set(shared) & set(monotone))
        if both:
            raise DesignspaceError(f"space {name}: {', '.join(both)} cannot be both shared and monotone")
        if block not in ("X", "Y", "R", "V"):
            raise DesignspaceError(f"space {name}: block must be X, Y, R or V, got {block!r}")
        self.dists, self.shared, self.monotone = dists, tuple(shared), tuple(monotone)
        self.exempt_last_depth = bool(exempt_last_depth)
        self.block = block
        self.se_ratio = 0.0 if block != "Y" else (0.25 if se_ratio is None else float(se_ratio))
        if block == "Y" and not 0 < self.se_ratio <= 1:
            raise DesignspaceError(f"space {name}: se_ratio must be in (0, 1] for Y blocks, got {se_ratio}")
        s = self.num_stages
        self.free_parameters = [f"{PLURAL[p]} ({'shared' if p in self.shared else f'{s} stages'}): {dists[p]!r}"
                                for p in PARAMETERS if not isinstance(dists[p], Fixed)]
        fixed = [f"{p} = {dists[p].values[0]:g}" for p in PARAMETERS if isinstance(dists[p], Fixed)]
        self.constraints = fixed + [f"shared {p}" for p in self.shared]
        for p in self.monotone:
            last = " (last stage exempt)" if p == "depth" and self.exempt_last_depth else ""
            self.constraints.append(f"{PLURAL[p]} non-decreasing{last}")
        self.constraints.append("group compatibility: g clipped to the bottleneck width, which is rounded to a multiple of g")

    def _draw_param(self, rng, p: str, size: int) -> np.ndarray:
        s, dist = self.num_stages, self.dists[p]
        if p in self.shared:
            return np.repeat(dist.from_uniform(rng.random(size))[:, None], s, axis=1)
        u = rng.random((size, s))
        if p not in self.monotone:
            return dist.from_uniform(u)
        if p == "depth" and self.exempt_last_depth:
            return np.concatenate([sample_non_decreasing(dist, u[:, :-1]), dist.from_uniform(u[:, -1:])], axis=1)
        return sample_non_decreasing(dist, u)

    def _monotone_mask(self, p: str, arr: np.ndarray) -> np.ndarray:
        if p == "depth" and self.exempt_last_depth:
            arr = arr[:, :-1]
        return np.all(np.diff(arr, axis=1) >= 0, axis=1)

    def draw(self, rng, size):
        raw = {p: self._draw_param(rng, p, size) for p in PARAMETERS}  # fixed order: same stream everywhere
        widths, groups = adjust_widths_groups_batch(raw["width"], raw["bottleneck_ratio"], raw["group_width"])
        batch = Batch(raw["depth"].astype(np.int64), widths, raw["bottleneck_ratio"].astype(float), groups,
                      {PLURAL[p]: a for p, a in raw.items()})
        if "width" in self.monotone:  # keep the promise on the stored (adjusted) widths too
            batch = batch.take(self._monotone_mask("width", widths))
        return batch

    def values_at(self, batch, i):
        out = {PLURAL[p]: batch.values[PLURAL[p]][i].tolist() for p in PARAMETERS}
        out["bottleneck_ratios"] = [float(b) for b in out["bottleneck_ratios"]]
        return out

    def _size_terms(self):
        s, terms = self.num_stages, []
        for p in PARAMETERS:
            m = self.dists[p].size()
            if p in self.shared:
                terms.append(math.log10(m))
            elif p in self.monotone:
                k = s - 1 if (p == "depth" and self.exempt_last_depth) else s
                terms.append(_log10_comb(m + k - 1, k) + (s - k) * math.log10(m))  # multisets of size k
            else:
                terms.append(s * math.log10(m))
        return terms


def _anynetx(letter: str, **frame) -> AnyNetSpace:
    options = {
        "a": dict(), "b": dict(shared=("bottleneck_ratio",)),
        "c": dict(shared=("bottleneck_ratio", "group_width")),
        "d": dict(shared=("bottleneck_ratio", "group_width"), monotone=("width",)),
        "e": dict(shared=("bottleneck_ratio", "group_width"), monotone=("width", "depth")),
    }[letter]
    parent = {"a": None, "b": "anynetx_a", "c": "anynetx_b", "d": "anynetx_c", "e": "anynetx_d"}[letter]
    text = {"a": "AnyNetX_A: 4 stages, free d, w, b, g per stage (16 parameters), log-uniform",
            "b": "AnyNetX_B: AnyNetX_A with one bottleneck ratio b shared by all stages",
            "c": "AnyNetX_C: AnyNetX_B with one group width g shared by all stages",
            "d": "AnyNetX_D: AnyNetX_C with non-decreasing widths",
            "e": "AnyNetX_E: AnyNetX_D with non-decreasing depths"}[letter]
    frame.setdefault("refines", parent)
    if letter == "e":
        frame.setdefault("exempt_last_depth", False)
    return AnyNetSpace(f"anynetx_{letter}", description=text, **{**options, **frame})


def builtin_anynet_spaces() -> dict:
    """name -> factory(**frame) for the built-in AnyNet spaces."""
    spaces = {f"anynetx_{c}": (lambda c: lambda **kw: _anynetx(c, **kw))(c) for c in "abcde"}

    def alternate(name, text, parent, **opts):
        return space_factory(AnyNetSpace, name, text, parent, **opts)

    spaces["anynetx_a_5stage"] = alternate("anynetx_a_5stage", "AnyNetX_A with 5 stages (generalization study)",
                                           None, num_stages=5)
    spaces["anynetx_e_5stage"] = alternate("anynetx_e_5stage", "AnyNetX_E with 5 stages", None, num_stages=5,
                                           shared=("bottleneck_ratio", "group_width"), monotone=("width", "depth"))
    spaces["anynetx_e_ib"] = alternate(
        "anynetx_e_ib", "AnyNetX_E with an inverted bottleneck (b = 1/4)", "anynetx_e",
        distributions={"bottleneck_ratio": Fixed(0.25)}, shared=("bottleneck_ratio", "group_width"),
        monotone=("width", "depth"))
    spaces["anynetx_e_dw"] = alternate(
        "anynetx_e_dw", "AnyNetX_E with depthwise convs (g = 1)", "anynetx_e",
        distributions={"group_width": Fixed(1)}, shared=("bottleneck_ratio", "group_width"), monotone=("width", "depth"))
    spaces["anynet_r"] = alternate("anynet_r", "AnyNet with R blocks (residual basic, two 3x3), free d and w per stage",
                                   None, block="R")
    spaces["anynet_v"] = alternate("anynet_v", "AnyNet with V blocks (vanilla, no residual), free d and w per stage",
                                   None, block="V")
    return spaces
