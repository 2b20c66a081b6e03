"""DesignSpace, Sample and the batched rejection sampler.

A design space (docs/design.md, Design spaces) draws candidate networks in batches
of numpy arrays, applies the group-compatibility step (docs/design.md, RegNet
generation, fact 6) to all of them at once, and counts their complexity with the
walk the scalar counter uses (`designspace.models.count_network`), fed arrays
instead of ints. Candidates outside the bands, breaking a constraint, or equal to
an earlier sample are dropped:

    >>> from designspace.spaces import get_space
    >>> samples = get_space("anynetx_a").sample(10, seed=0, flops=(360e6, 400e6))
    >>> all(360e6 <= s.flops <= 400e6 for s in samples)
    True

Batch sizes grow 4096, 8192, ... independently of n, so with one seed the first
k samples of `sample(n)` are the samples of `sample(k)`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import DesignspaceError
from ..models.anynet import count_network
from ..models.counting import Cx
from ..spec import NetSpec, StageSpec
from ..units import format_count, parse_band

FIRST_BATCH = 4096


@dataclass(frozen=True)
class Sample:
    """One accepted model: its (group-adjusted) spec, the sampled values and its complexity."""

    index: int
    spec: NetSpec
    values: dict
    flops: int
    params: int
    acts: int
    space: str = ""

    def to_dict(self) -> dict:
        return {"space": self.space, "index": self.index, "spec": self.spec.to_dict(), "values": self.values,
                "flops": self.flops, "params": self.params, "acts": self.acts}

    @classmethod
    def from_dict(cls, data: dict) -> "Sample":
        return cls(index=int(data["index"]), spec=NetSpec.from_dict(data["spec"]), values=dict(data["values"]),
                   flops=int(data["flops"]), params=int(data["params"]), acts=int(data["acts"]),
                   space=str(data.get("space", "")))


@dataclass
class Batch:
    """Candidates as arrays: one row per network, one column per stage (after compatibility)."""

    depths: np.ndarray
    widths: np.ndarray
    bottleneck_ratios: np.ndarray
    group_widths: np.ndarray
    values: dict = field(default_factory=dict)  # name -> (N,) or (N, S) array of sampled values

    def __len__(self) -> int:
        return len(self.depths)

    def take(self, mask) -> "Batch":
        return Batch(self.depths[mask], self.widths[mask], self.bottleneck_ratios[mask], self.group_widths[mask],
                     {k: v[mask] for k, v in self.values.items()})


def adjust_widths_groups_batch(widths, bottleneck_ratios, group_widths):
    """Vectorized `designspace.regnet.adjust_widths_groups` (pycls rounding), same float operations.

    Arrays broadcast elementwise; returns int64 (widths, group_widths).
    """
    b_mul = 1.0 / np.asarray(bottleneck_ratios, dtype=float)
    v = np.trunc(np.asarray(widths) * b_mul)
    g = np.minimum(np.asarray(group_widths), v)
    v = np.maximum(g, np.rint(v / g) * g)
    return np.trunc(v / b_mul).astype(np.int64), g.astype(np.int64)


def space_factory(space_class, name: str, text: str, parent, **options):
    """factory(**frame) -> a `space_class` space named `name`; the frame may override `options` and `refines`."""
    def make(**frame):
        merged = {**options, **frame}
        merged.setdefault("refines", parent)
        return space_class(name, description=text, **merged)
    return make


def _band(value, what: str):
    lo, hi = parse_band(value, what)
    return lo, hi


def _within_caps(caps):
    """The sampler's prune hook: keep the rows whose running totals are all within `caps` (None: no cap)."""
    def prune(cx):
        keep = None
        for cap, total in zip(caps, (cx.flops, cx.params, cx.acts)):
            if cap is not None:
                keep = total <= cap if keep is None else keep & (total <= cap)
        return keep
    return prune


def format_draws(draws: int) -> str:
    """1000000 -> '10^6', 2000000 -> '2x10^6', 31744 -> '31,744'."""
    exponent = int(math.floor(math.log10(draws))) if draws > 0 else 0
    mantissa, rest = divmod(draws, 10 ** exponent)
    if exponent < 3 or rest:
        return f"{draws:,}"
    return f"10^{exponent}" if mantissa == 1 else f"{mantissa}x10^{exponent}"


def _format_side(x) -> str:
    return "" if x is None else format_count(x)


class DesignSpace:
    """A named, typed design space. Subclasses implement `draw`, `values_at` and `_size_terms`.

    resolution, num_classes, in_channels, stem, stem_width set the network around the
    sampled body, so one space serves 224x224 ImageNet and 28x28 Fashion-MNIST alike.
    """

    default_max_draws = 1_000_000  # an unreachable band fails in a few seconds
    max_batch = 65536
    block = "X"
    se_ratio = 0.0

    def __init__(self, name: str, description: str = "", resolution: int = 224, num_classes: int = 1000,
                 in_channels: int = 3, stem: str = "simple", stem_width: int = 32, strides=None,
                 refines: str | None = None, num_stages: int = 4, head_width: int = 0):
        for what, v, lo in (("resolution", resolution, 1), ("num_classes", num_classes, 1),
                            ("in_channels", in_channels, 1), ("stem_width", stem_width, 1), ("num_stages", num_stages, 1),
                            ("head_width", head_width, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise DesignspaceError(f"space {name}: {what} must be an integer >= {lo}, got {v!r}")
        self.name, self.description, self.refines = name, description, refines
        self.resolution, self.num_classes, self.in_channels = int(resolution), int(num_classes), int(in_channels)
        self.stem, self.stem_width, self.head_width = stem, int(stem_width), int(head_width)
        self.num_stages = int(num_stages)
        self.strides = tuple(strides) if strides is not None else (2,) * self.num_stages
        if len(self.strides) != self.num_stages:
            raise DesignspaceError(f"space {name}: {len(self.strides)} strides for {self.num_stages} stages")
        # Validate the frame (stem, widths) once, with a throwaway one-stage spec.
        NetSpec(stages=(StageSpec(depth=1, width=8),), stem=stem, stem_width=self.stem_width,
                in_channels=self.in_channels, num_classes=self.num_classes, head_width=self.head_width)

    # --- what subclasses provide -------------------------------------------------
    free_parameters: list = []
    constraints: list = []

    def draw(self, rng: np.random.Generator, size: int) -> Batch:
        """Draw `size` raw candidates; return those that meet the structural constraints, adjusted."""
        raise NotImplementedError

    def values_at(self, batch: Batch, i: int) -> dict:
        raise NotImplementedError

    def _size_terms(self) -> list:
        """log10 of each independent factor of the space's size."""
        raise NotImplementedError

    def limits(self, flops, params, acts):
        """Extra complexity constraints of the space (a boolean mask); none by default."""
        return np.ones(np.shape(flops), dtype=bool)

    # --- shared machinery --------------------------------------------------------
    def log10_size(self) -> float:
        """log10 of the number of configurations (before complexity constraints)."""
        return float(sum(self._size_terms()))

    def count(self, batch: Batch):
        """(flops, params, acts) int64 arrays, via the models' own `complexity` methods."""
        flops, params, acts, _ = self.count_within(batch)
        return flops, params, acts

    def count_within(self, batch: Batch, caps=(None, None, None)):
        """Like `count`, but stop counting a candidate once a running total passes its cap.

        Totals only grow stage by stage, so a candidate whose partial flops, params or acts
        already exceed the band's upper ends can never be accepted. Returns
        (flops, params, acts, alive): counts are exact where `alive`, 0 elsewhere.
        This is AnyNet.complexity's walk (`count_network`), fed one array per stage field.
        """
        n = len(batch)
        # One StageSpec per stage, each field a column of the batch (validation would reject arrays; none runs).
        stages = [StageSpec(depth=batch.depths[:, i], width=batch.widths[:, i], stride=self.strides[i],
                            bottleneck_ratio=batch.bottleneck_ratios[:, i], group_width=batch.group_widths[:, i],
                            block=self.block, se_ratio=self.se_ratio)
                  for i in range(batch.depths.shape[1])]
        prune = _within_caps(caps) if any(c is not None for c in caps) else None
        cx, rows = count_network(Cx(self.resolution, self.resolution), self.stem, self.in_channels, self.stem_width,
                                 stages, self.head_width, self.num_classes, prune)
        rows = slice(None) if rows is None else rows
        out = [np.zeros(n, dtype=np.int64) for _ in range(3)]
        for arr, total in zip(out, (cx.flops, cx.params, cx.acts)):
            arr[rows] = total
        alive = np.zeros(n, dtype=bool)
        alive[rows] = True
        return out[0], out[1], out[2], alive

    def spec_at(self, batch: Batch, i: int) -> NetSpec:
        return self._spec(batch.depths[i].tolist(), batch.widths[i].tolist(), batch.bottleneck_ratios[i].tolist(),
                          batch.group_widths[i].tolist())

    def _spec(self, depths, widths, bottleneck_ratios, group_widths) -> NetSpec:
        se_ratio = float(self.se_ratio)
        stages = tuple(StageSpec(depth=d, width=w, stride=s, bottleneck_ratio=float(b), group_width=g, block=self.block,
                                 se_ratio=se_ratio)
                       for d, w, s, b, g in zip(depths, widths, self.strides, bottleneck_ratios, group_widths))
        return NetSpec(stages=stages, stem=self.stem, stem_width=self.stem_width, in_channels=self.in_channels,
                       head_width=self.head_width, num_classes=self.num_classes)

    def sample(self, n: int, seed: int = 0, flops=None, params=None, acts=None, max_draws=None) -> list:
        """n distinct models inside the bands (each (lo, hi) with None for an open side).

        Afterwards `self.last_stats` holds the candidates drawn, counted and accepted.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise DesignspaceError(f"n must be an integer >= 1, got {n!r}")
        bands = [_band(flops, "flops"), _band(params, "params"), _band(acts, "acts")]
        budget = self.default_max_draws if max_draws is None else max_draws
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise DesignspaceError(f"max_draws must be an integer >= 1, got {budget!r}")
        rng = np.random.default_rng(seed)
        samples, seen, draws, counted, size = [], set(), 0, 0, FIRST_BATCH
        while len(samples) < n and draws < budget:
            take = min(size, budget - draws)
            batch = self.draw(rng, take)
            draws += take
            size = min(2 * size, self.max_batch)
            if not len(batch):
                continue
            *counts, keep = self.count_within(batch, caps=[hi for _, hi in bands])
            counted += len(batch)
            keep &= self.limits(*counts)
            for (lo, hi), c in zip(bands, counts):
                if lo is not None:
                    keep &= c >= lo
                if hi is not None:
                    keep &= c <= hi
            rows = np.flatnonzero(keep)
            if not len(rows):
                continue
            keys = np.concatenate([batch.depths[rows], batch.widths[rows], batch.group_widths[rows],
                                   batch.bottleneck_ratios[rows]], axis=1).astype(float)
            columns = [a[rows].tolist() for a in (batch.depths, batch.widths, batch.bottleneck_ratios,
                                                  batch.group_widths, *counts)]
            for r, i in enumerate(rows.tolist()):
                key = keys[r].tobytes()
                if key in seen:
                    continue
                seen.add(key)
                d, w, b, g, f, p, a = (c[r] for c in columns)
                samples.append(Sample(index=len(samples), spec=self._spec(d, w, b, g), values=self.values_at(batch, i),
                                      flops=f, params=p, acts=a, space=self.name))
                if len(samples) == n:
                    break
        self.last_stats = {"draws": draws, "counted": counted, "accepted": len(samples)}
        if len(samples) < n:
            shown = ", ".join(f"{w} {_format_side(lo)}:{_format_side(hi)}"
                              for w, (lo, hi) in zip(("flops", "params", "acts"), bands) if (lo, hi) != (None, None))
            raise DesignspaceError(f"found {len(samples)} of {n} in {format_draws(draws)} draws; widen the band "
                                   f"(space {self.name}{', ' + shown if shown else ''})")
        return samples

    def describe(self) -> dict:
        """The `designspace spaces --json` view."""
        return {"name": self.name, "description": self.description, "free_parameters": list(self.free_parameters),
                "constraints": list(self.constraints), "log10_size": round(self.log10_size(), 4),
                "refines": self.refines, "resolution": self.resolution, "num_stages": self.num_stages,
                "block": self.block, "stem": self.stem}

    def __repr__(self) -> str:
        return f"<DesignSpace {self.name}: 10^{self.log10_size():.2f} configurations>"
