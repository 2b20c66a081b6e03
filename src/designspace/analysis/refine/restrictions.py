"""Candidate restrictions of a design space: what the good models might share.

    >>> from designspace.analysis.refine.restrictions import Restriction, candidates, register_restriction
    >>> [r.name for r in candidates(space, frame)]      # space: the parent DesignSpace; frame: refine.frame
    ['shared b', 'shared g', 'widths non-decreasing', ..., 'd <= 15', 'd <= 22', '15 < d <= 22', ...]

A restriction is a vectorized predicate over the refine frame, judged one of two ways (docs/refine.md):

- kind "subset": the predicate says which models satisfy it (a bool per model); those models are
  compared with the others at matched complexity;
- kind "sharing": the predicate gives each model's spread of a per-stage parameter (the std of
  log2 of its per-stage values, 0 when shared); the trend of error against the spread says what
  sharing the parameter would cost. A sub-population cannot judge it: the parent's models almost
  never have all values equal.

Thresholds come from a small fixed grid (the tertiles of the observed values, or every value but
the largest when there are at most four), so the number of tests is known before any error is
looked at. A split "x <= t" is one test; its `opposite` "x > t" is the same test read the other
way, reported instead when the models above t are the better ones.

Your own restrictions join the built-in ones of their family ('anynet', 'regnet' or 'any'):

    >>> register_restriction(Restriction("w4 >= 256", "anynet", "subset", lambda f: f["w4"].to_numpy() >= 256))
    >>> register_restriction(lambda space, frame: [...])   # or a function of (space, frame) returning some
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ...errors import DesignspaceError
from ...spaces.distributions import Fixed
from .frame import stage_values
from .spacedoc import add_listed, family_of, narrow

SUBSET, SHARING = "subset", "sharing"
KINDS = (SUBSET, SHARING)
FAMILIES = ("anynet", "regnet", "any")


@dataclass(frozen=True)
class Restriction:
    """A candidate: `predicate(frame)` -> bool per model (subset) or spread per model (sharing).

    `refine(document)` -> the space document restricted by it (spacedoc); None when no space file
    can express it (then its kept share of the space is estimated with the space's own sampler).
    At most one restriction of a `group` goes on the proposed path. `needs_fit`: the predicate
    reads the quantized linear fit (e_fit, fit_w0, ...), which is costly on prior draws.
    """

    name: str
    family: str
    kind: str
    predicate: Callable[[pd.DataFrame], np.ndarray]
    group: str = ""
    refine: Callable[[dict], dict] | None = None
    needs_fit: bool = False
    opposite: "Restriction | None" = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise DesignspaceError(f"a restriction needs a name, got {self.name!r}")
        if self.family not in FAMILIES:
            raise DesignspaceError(f"restriction {self.name!r}: family must be one of {', '.join(FAMILIES)}")
        if self.kind not in KINDS:
            raise DesignspaceError(f"restriction {self.name!r}: kind must be subset or sharing, got {self.kind!r}")
        if not callable(self.predicate):
            raise DesignspaceError(f"restriction {self.name!r}: predicate must be callable")

    @property
    def expressible(self) -> bool:
        return self.refine is not None


# ---------------------------------------------------------------- thresholds

def cut_points(values) -> list[float]:
    """The fixed grid of split points: tertiles (observed values), or every value but the largest if <= 4."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    distinct = np.unique(v[np.isfinite(v)])
    if distinct.size < 2:
        return []
    if distinct.size <= 4:
        return [float(x) for x in distinct[:-1]]
    cuts = np.unique(np.quantile(v[np.isfinite(v)], [1 / 3, 2 / 3], method="inverted_cdf"))
    return [float(c) for c in cuts if c < distinct[-1]]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _next_above(support, t: float):
    above = support[support > t + 1e-9 * max(1.0, abs(t))]
    return None if above.size == 0 else float(above.min())


@dataclass(frozen=True)
class Quantity:
    """A scalar per model to cut into ranges: its name, how to read it, and the parameter it narrows."""

    label: str
    read: Callable[[pd.DataFrame], np.ndarray]
    parameter: str | None = None   # the space parameter whose range it is (None: not expressible)
    support: np.ndarray | None = None
    needs_fit: bool = False


def _narrowing(parameter, low, high):
    if parameter is None:
        return None
    return lambda doc: narrow(doc, parameter, low=low, high=high)


def range_candidates(q: Quantity, cuts: list[float], family: str) -> list[Restriction]:
    """Per cut t: 'x <= t' (opposite 'x > t'); with two cuts also the middle range. One test each.

    Where the parameter's support is known, 'x > t' is named and narrowed as 'x >= the next value'."""
    group, out = f"range:{q.label}", []
    ends = (float(q.support.min()), float(q.support.max())) if q.support is not None else (None, None)

    def above(t):
        return _next_above(q.support, t) if q.support is not None else None

    def named(low, high):  # 'x = v' where the range holds one value of the support
        if low is not None and low == high:
            return f"{q.label} = {_fmt(low)}"
        if high is None:
            return f"{q.label} >= {_fmt(low)}" if low != ends[1] else f"{q.label} = {_fmt(low)}"
        if low is None:
            return f"{q.label} <= {_fmt(high)}" if high != ends[0] else f"{q.label} = {_fmt(high)}"
        return f"{q.label} in [{_fmt(low)}, {_fmt(high)}]"

    for t in cuts:
        high = above(t)
        name = named(high, None) if high is not None else f"{q.label} > {_fmt(t)}"
        opposite = Restriction(name, family, SUBSET, lambda f, t=t: q.read(f) > t, group,
                               _narrowing(q.parameter, high, None), q.needs_fit)
        out.append(Restriction(named(None, t), family, SUBSET, lambda f, t=t: q.read(f) <= t, group,
                               _narrowing(q.parameter, None, t), q.needs_fit, opposite))
    if len(cuts) == 2:
        lo, hi = cuts
        first = above(lo)
        name = named(first, hi) if first is not None else f"{_fmt(lo)} < {q.label} <= {_fmt(hi)}"
        out.append(Restriction(name, family, SUBSET, lambda f: (q.read(f) > lo) & (q.read(f) <= hi), group,
                               _narrowing(q.parameter, first, hi), q.needs_fit))
    return out


# ---------------------------------------------------------------- AnyNet

def _spread(letter: str):
    """Per model: the std of log2 of its per-stage sampled values (0 when one value is shared)."""
    return lambda f: np.std(np.log2(stage_values(f, letter)), axis=1)


def _non_decreasing(letter: str, stages: int):
    return lambda f: np.all(np.diff(stage_values(f, letter)[:, :stages], axis=1) >= 0, axis=1)


def _sharing(space) -> list[Restriction]:
    out = []
    for parameter, letter in (("bottleneck_ratio", "b"), ("group_width", "g")):
        if parameter in space.shared or isinstance(space.dists[parameter], Fixed) or space.num_stages < 2:
            continue
        out.append(Restriction(f"shared {letter}", "anynet", SHARING, _spread(letter), f"shared:{letter}",
                               lambda doc, p=parameter: add_listed(doc, "shared", p)))
    return out


def _monotone(space) -> list[Restriction]:
    out, s = [], space.num_stages
    for parameter, letter, word in (("width", "w", "widths"), ("depth", "d", "depths")):
        exempt = parameter == "depth" and space.exempt_last_depth
        if isinstance(space.dists[parameter], Fixed) or s < 2 or (parameter in space.monotone and not exempt):
            continue
        group = f"monotone:{letter}"
        out.append(Restriction(f"{word} non-decreasing", "anynet", SUBSET, _non_decreasing(letter, s), group,
                               lambda doc, p=parameter: add_listed(doc, "monotone", p, exempt_last_depth=False)))
        if parameter in space.monotone:
            continue  # depths already non-decreasing but for the last stage
        for k in range(s - 1, 1, -1):
            # Depths non-decreasing except the last stage is the space option exempt_last_depth.
            refine = (lambda doc: add_listed(doc, "monotone", "depth", exempt_last_depth=True)) \
                if parameter == "depth" and k == s - 1 else None
            out.append(Restriction(f"{word} non-decreasing over stages 1..{k}", "anynet", SUBSET,
                                   _non_decreasing(letter, k), group, refine))
    return out


def _every_stage(letter: str, compare):
    return lambda f: np.all(compare(stage_values(f, letter)), axis=1)


def _stage_values_candidates(space, frame) -> list[Restriction]:
    """b = 1 in every stage; g at most / at least a value in every stage (one test per split if g is shared)."""
    out = []
    b_dist, g_dist = space.dists["bottleneck_ratio"], space.dists["group_width"]
    if not isinstance(b_dist, Fixed) and 1.0 in b_dist.support():
        out.append(Restriction("b = 1", "anynet", SUBSET, _every_stage("b", lambda b: b == 1.0), "range:b",
                               lambda doc: narrow(doc, "bottleneck_ratio", low=1.0, high=1.0)))
    if isinstance(g_dist, Fixed):
        return out
    cuts = cut_points(stage_values(frame, "g").reshape(-1))
    if "group_width" in space.shared:
        q = Quantity("g", lambda f: stage_values(f, "g")[:, 0], "group_width", g_dist.support())
        return out + range_candidates(q, cuts, "anynet")
    support = g_dist.support()
    for t in cuts:
        above = _next_above(support, t)
        out.append(Restriction(f"g <= {_fmt(t)} in every stage", "anynet", SUBSET,
                               _every_stage("g", lambda g, t=t: g <= t), "range:g", _narrowing("group_width", None, t)))
        out.append(Restriction(f"g >= {_fmt(above)} in every stage", "anynet", SUBSET,
                               _every_stage("g", lambda g, t=t: g > t), "range:g",
                               _narrowing("group_width", above, None)))
    return out


def _column(name: str):
    return lambda f: f[name].to_numpy(dtype=np.float64)


def _fit_candidates(space, frame) -> list[Restriction]:
    """The route from AnyNetX_E to RegNet: e_fit at most t, and ranges of the fit's w0, wa, wm.

    Only where widths are non-decreasing: a quantized linear rule makes nothing else, so on other
    spaces e_fit mostly measures what the monotone candidates test directly."""
    if "width" not in space.monotone or "e_fit" not in frame:
        return []
    out = []
    q = Quantity("e_fit", _column("e_fit"), needs_fit=True)
    for t in cut_points(frame["e_fit"]):
        out += range_candidates(q, [t], "anynet")  # no middle range: only a small e_fit is of interest
    for key in ("w0", "wa", "wm"):
        q = Quantity(f"fit {key}", _column(f"fit_{key}"), needs_fit=True)
        out += range_candidates(q, cut_points(frame[f"fit_{key}"]), "anynet")
    return out


def anynet_candidates(space, frame) -> list[Restriction]:
    total_depth = Quantity("d", _column("d"))
    return (_sharing(space) + _monotone(space) + _stage_values_candidates(space, frame)
            + range_candidates(total_depth, cut_points(frame["d"]), "anynet") + _fit_candidates(space, frame))


# ---------------------------------------------------------------- RegNet

REGNET_QUANTITIES = (("d", "depth", "d"), ("w0", "w0", "w0"), ("wa", "wa", "wa"), ("wm", "wm", "wm"),
                     ("b", "bottleneck_ratio", "b1"), ("g", "group_width", "g1"))


def regnet_candidates(space, frame) -> list[Restriction]:
    """Ranges of d, w0, wa, wm, b and g (every one a narrower distribution of the RegNet space)."""
    out = []
    for label, parameter, column in REGNET_QUANTITIES:
        dist = space.dists[parameter]
        if isinstance(dist, Fixed) or (parameter == "wa" and space.w0_equals_wa) or column not in frame:
            continue
        q = Quantity(label, _column(column), parameter, dist.support())
        out += range_candidates(q, cut_points(frame[column]), "regnet")
    return out


# ---------------------------------------------------------------- registry

_REGISTERED: list = []


def register_restriction(item):
    """Add a Restriction, or a function (space, frame) -> Restrictions, to every later refine. Returns it."""
    if not isinstance(item, Restriction) and not callable(item):
        raise DesignspaceError("register_restriction takes a Restriction or a function (space, frame) -> Restrictions")
    _REGISTERED.append(item)
    return item


def unregister_restriction(item) -> None:
    if item in _REGISTERED:
        _REGISTERED.remove(item)


def _registered(space, frame, family: str) -> list[Restriction]:
    out = []
    for item in _REGISTERED:
        made = [item] if isinstance(item, Restriction) else list(item(space, frame) or [])
        for r in made:
            if not isinstance(r, Restriction):
                raise DesignspaceError(f"a registered restriction function returned {type(r).__name__}, "
                                       "not a Restriction")
        out += [r for r in made if r.family in (family, "any")]
    return out


def candidates(space, frame: pd.DataFrame) -> list[Restriction]:
    """The built-in candidates of the space's family, then the registered ones; names must be distinct."""
    family = family_of(space)
    built = anynet_candidates(space, frame) if family == "anynet" else regnet_candidates(space, frame)
    found = built + _registered(space, frame, family)
    names = [r.name for r in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DesignspaceError(f"two restrictions are named {twice[0]!r}; give each a distinct name")
    return found
