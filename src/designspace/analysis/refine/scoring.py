"""Scoring candidate restrictions at matched complexity, with vectorized bootstraps.

    >>> from designspace.analysis.refine.scoring import Scorer, holm
    >>> scorer = Scorer(errors, flops, repeats=2000, seed=0)
    >>> split = scorer.split(mask)       # satisfying vs not: weighted KS, median and mean shift [95%]
    >>> scorer.best_of_k(mask)           # expected best of k satisfying models minus best of k of all
    >>> scorer.trend(spread)             # slope of error on a per-model spread, within complexity bins
    >>> scorer.joint([mask_a, mask_b])   # mask_b's effect given mask_a (both in one regression)
    >>> holm([0.01, 0.04, 0.3])          # Holm's step-down adjusted p-values

Matched complexity: each comparison weights its two groups to complexity-normalized EDFs
(`stats.normalized_weights`) over the same equal-width bins, the most (up to 10) that both groups
fill. The mean shift is the signed area between the two normalized EDFs: the integral of
F_others(e) - F_satisfying(e) over e equals mean_satisfying - mean_others. Negative shifts mean
lower error.

Every bootstrap shares one resampling of the models (a repeats x models count matrix, as in
`stats.edf_band`), so a candidate costs a few passes over that matrix and no loop over repeats.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import stats

MAX_BINS = 10
BEST_OF_K = (8, 16)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap (or t) interval; low/high None when no interval was computed."""

    value: float
    low: float | None = None
    high: float | None = None

    def negated(self) -> "Interval":
        return Interval(-self.value, None if self.high is None else -self.high, None if self.low is None else -self.low)

    def scaled(self, factor: float) -> "Interval":
        ends = sorted(x * factor for x in (self.low, self.high)) if self.low is not None else (None, None)
        return Interval(self.value * factor, ends[0], ends[1])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SplitScore:
    """The satisfying models against the others (shifts: satisfying minus others, in error points)."""

    satisfied: int
    total: int
    bins: int
    median_shift: Interval
    mean_shift: Interval
    ks_statistic: float
    pvalue: float
    ks_method: str

    def flipped(self) -> "SplitScore":
        """The same test read from the other side (the opposite restriction)."""
        return replace(self, satisfied=self.total - self.satisfied, median_shift=self.median_shift.negated(),
                       mean_shift=self.mean_shift.negated())

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BestOfKScore:
    """Expected best error among k models of the satisfying models' normalized EDF, and of all models'."""

    k: tuple
    satisfying: tuple
    everyone: tuple
    difference: tuple   # Intervals of satisfying minus everyone (> 0: the best models get worse)
    harmed: bool        # some difference's whole interval lies above 0

    def to_dict(self) -> dict:
        return {"k": list(self.k), "satisfying": list(self.satisfying), "all": list(self.everyone),
                "difference": [d.to_dict() for d in self.difference], "harmed": self.harmed}


@dataclass(frozen=True)
class TrendScore:
    """Error against the spread of a per-stage parameter, within complexity bins (bin fixed effects)."""

    varied: float            # share of the models whose values differ across stages
    mean_spread: float
    slope: Interval          # error points per unit of spread (t interval, heteroscedasticity-robust)
    sharing_change: Interval  # predicted change of error from the mean spread to none: -slope * mean spread
    pvalue: float
    df: int
    bins: int

    def to_dict(self) -> dict:
        return asdict(self)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment: reject where the adjusted p < alpha controls the family-wise error."""
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def _resample_counts(n: int, repeats: int, seed: int) -> np.ndarray:
    """(repeats, n) counts: how often each model is drawn in each resample of n with replacement."""
    draws = np.random.default_rng(seed).integers(0, n, size=(repeats, n))
    cell = (np.arange(repeats)[:, None] * n + draws).reshape(-1)
    return np.bincount(cell, minlength=repeats * n).reshape(repeats, n).astype(np.float64)


def _powers(x: np.ndarray, ks) -> list:
    """[x ** k for k in ks] by repeated squaring where k is a power of two (several times faster than **)."""
    out, cache = [], {1: x}
    for k in ks:
        if k & (k - 1) == 0:
            while max(cache) < k:
                top = max(cache)
                cache[2 * top] = cache[top] * cache[top]
            out.append(cache[k])
        else:
            out.append(x ** k)
    return out


class Scorer:
    """The statistics of one space's models; every candidate is a mask (or a spread) over them."""

    def __init__(self, errors, complexity, repeats: int = 2000, seed: int = 0, level: float = 0.95):
        self.errors = np.asarray(errors, dtype=np.float64)
        self.complexity = np.asarray(complexity, dtype=np.float64)
        self.order = np.argsort(self.errors, kind="stable")
        self.level = level
        self.counts = _resample_counts(self.errors.size, repeats, seed) if repeats > 0 else None
        self._all_cache, self._weights = {}, {}

    # ---- weights and group statistics
    def weights(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized weights of each group (each sums to 1) over the bins both groups fill; and the edges.

        The same for a mask and its complement (a split read either way), so computed once per split."""
        key = (mask ^ mask[0]).tobytes()
        if key not in self._weights:
            groups = [self.complexity[mask], self.complexity[~mask]]
            edges = stats.shared_bins(groups, stats.largest_valid_bins(groups, MAX_BINS))
            w = np.empty(self.errors.size)
            w[mask] = stats.normalized_weights(groups[0], edges=edges)
            w[~mask] = stats.normalized_weights(groups[1], edges=edges)
            self._weights[key] = w, edges
        return self._weights[key]

    def _sorted(self, mask: np.ndarray) -> np.ndarray:
        """The group's model indices in ascending error."""
        return self.order[mask[self.order]]

    def _interval(self, value: float, draws: np.ndarray | None) -> Interval:
        if draws is None:
            return Interval(float(value))
        alpha = (1.0 - self.level) / 2.0
        low, high = np.nanquantile(draws, [alpha, 1.0 - alpha])
        return Interval(float(value), float(low), float(high))

    def _median_mean(self, idx: np.ndarray, w: np.ndarray):
        """Point (weighted median, weighted mean) of a group, and their bootstrap draws (or None)."""
        es, ws = self.errors[idx], w[idx]
        cum = np.cumsum(ws) / ws.sum()
        point = (es[min(np.searchsorted(cum, 0.5), es.size - 1)], ws @ es / ws.sum())
        if self.counts is None:
            return point, None
        mass = self.counts[:, idx] * ws
        total = mass.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample missing the whole group: NaN
            below_half = (np.cumsum(mass, axis=1) < 0.5 * total[:, None]).sum(axis=1)
            medians = np.where(total > 0, es[np.minimum(below_half, es.size - 1)], np.nan)
            means = (mass @ es) / total
        return point, (medians, means)

    # ---- the split test
    def split(self, mask: np.ndarray) -> SplitScore:
        w, edges = self.weights(mask)
        (med_in, mean_in), draws_in = self._median_mean(self._sorted(mask), w)
        (med_out, mean_out), draws_out = self._median_mean(self._sorted(~mask), w)
        ks = stats.ks_test(self.errors[mask], self.errors[~mask], w[mask], w[~mask])
        med_draws = None if draws_in is None else draws_in[0] - draws_out[0]
        mean_draws = None if draws_in is None else draws_in[1] - draws_out[1]
        return SplitScore(satisfied=int(mask.sum()), total=int(mask.size), bins=len(edges) - 1,
                          median_shift=self._interval(med_in - med_out, med_draws),
                          mean_shift=self._interval(mean_in - mean_out, mean_draws),
                          ks_statistic=ks.statistic, pvalue=ks.pvalue, ks_method=ks.method)

    # ---- are the best models harmed?
    def _best_of_k_draws(self, idx: np.ndarray, w: np.ndarray, ks) -> np.ndarray:
        """(len(ks), repeats): the exact best-of-k mean of every resampled weighted EDF of a group."""
        es = self.errors[idx]
        mass = self.counts[:, idx] * w[idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            p = mass / mass.sum(axis=1, keepdims=True)
        tail = np.clip(np.cumsum(p[:, ::-1], axis=1)[:, ::-1], 0.0, 1.0)
        powers = _powers(tail, ks)
        # P(best of k = e_i) = S_i^k - S_{i+1}^k, and S_{i+1} is S shifted by one model.
        return np.stack([(pk - np.concatenate([pk[:, 1:], np.zeros((pk.shape[0], 1))], axis=1)) @ es
                         for pk in powers])

    def _all_draws(self, w_all: np.ndarray, edges: np.ndarray, ks) -> np.ndarray:
        """All models' bootstrapped best-of-k, once per set of bins (most candidates share them)."""
        key = (edges.tobytes(), tuple(ks))
        if key not in self._all_cache:
            self._all_cache[key] = self._best_of_k_draws(self.order, w_all, ks)
        return self._all_cache[key]

    def best_of_k(self, mask: np.ndarray, ks=BEST_OF_K, bootstrap: bool = True) -> BestOfKScore:
        """Best-of-k of the satisfying models against all models, both normalized over the same bins.

        With `bootstrap` (where it can change a verdict) each difference gets its interval."""
        w_split, edges = self.weights(mask)
        w_all = stats.normalized_weights(self.complexity, edges=edges)
        inside = stats.best_of_k(self.errors[mask], ks, weights=w_split[mask]).mean
        everyone = stats.best_of_k(self.errors, ks, weights=w_all).mean
        if self.counts is None or not bootstrap:
            diffs = [Interval(a - b) for a, b in zip(inside, everyone)]
            return BestOfKScore(tuple(ks), tuple(inside), tuple(everyone), tuple(diffs), harmed=False)
        w_in = np.zeros(self.errors.size)
        w_in[mask] = w_split[mask]
        draws = self._best_of_k_draws(self._sorted(mask), w_in, ks) - self._all_draws(w_all, edges, ks)
        diffs = [self._interval(a - b, d) for a, b, d in zip(inside, everyone, draws)]
        return BestOfKScore(tuple(ks), tuple(inside), tuple(everyone), tuple(diffs),
                            harmed=any(d.low is not None and d.low > 0 for d in diffs))

    # ---- regressions within complexity bins
    def _within_bins(self, columns: np.ndarray):
        """Error and columns (n, k) less their complexity-bin means (bin fixed effects); and the bins used."""
        edges = stats.shared_bins([self.complexity], MAX_BINS)
        counts, idx = stats.bin_counts(self.complexity, edges)
        safe = np.maximum(counts, 1)

        def demeaned(v):
            sums = np.stack([np.bincount(idx, c, minlength=counts.size) for c in v.T], axis=1)
            return v - (sums / safe[:, None])[idx]
        y = demeaned(self.errors[:, None])[:, 0]
        return y, demeaned(columns), int((counts > 0).sum())

    def joint(self, masks) -> Interval | None:
        """The last mask's coefficient when error is regressed on all the masks together (bin fixed
        effects, HC1 t interval): its effect given the others. None when the masks are collinear."""
        from scipy import stats as sps

        X = np.stack([np.asarray(m, dtype=np.float64) for m in masks], axis=1)
        y, X, bins = self._within_bins(X)
        df = y.size - bins - X.shape[1]
        xtx = X.T @ X
        if df < 2 or np.linalg.matrix_rank(xtx) < X.shape[1]:
            return None
        inverse = np.linalg.inv(xtx)
        beta = inverse @ (X.T @ y)
        residual = y - X @ beta
        meat = (X * (residual ** 2)[:, None]).T @ X
        se = float(np.sqrt((inverse @ meat @ inverse)[-1, -1] * y.size / df))
        half = float(sps.t.ppf(0.5 + self.level / 2, df)) * se
        return Interval(float(beta[-1]), float(beta[-1] - half), float(beta[-1] + half))

    # ---- the sharing trend
    def trend(self, spread) -> TrendScore | None:
        """OLS slope of error on the spread with complexity-bin fixed effects; HC1 standard error, t interval.

        None when the spread does not vary within the bins (nothing to fit)."""
        from scipy import stats as sps

        x = np.asarray(spread, dtype=np.float64)
        yt, xt, bins = self._within_bins(x[:, None])
        xt = xt[:, 0]
        sxx = float(xt @ xt)
        df = x.size - bins - 1
        if sxx <= 1e-12 or df < 2:
            return None
        slope = float(xt @ yt) / sxx
        residual = yt - slope * xt
        se = float(np.sqrt((xt * xt) @ (residual * residual) * x.size / df)) / sxx
        t = abs(slope) / se if se > 0 else np.inf
        pvalue = float(2 * sps.t.sf(t, df))
        half = float(sps.t.ppf(0.5 + self.level / 2, df)) * se
        slope_iv = Interval(slope, slope - half, slope + half)
        mean_spread = float(x.mean())
        return TrendScore(varied=float(np.mean(x > 1e-12)), mean_spread=mean_spread, slope=slope_iv,
                          sharing_change=slope_iv.scaled(-mean_spread), pvalue=min(1.0, pvalue), df=df,
                          bins=bins)
