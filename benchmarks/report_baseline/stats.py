# Baseline: designspace/analysis/stats.py as it was before the report speed-up (see __init__.py).
"""Statistics for comparing design spaces (docs/design.md, Analysis), on plain numpy arrays.

    >>> import numpy as np
    >>> from designspace.analysis import stats
    >>> errors = np.array([30.0, 25.0, 40.0, 35.0])
    >>> stats.edf(errors, [26.0, 36.0])                   # F(e) = share of models with error < e
    array([0.25, 0.75])
    >>> w = stats.normalized_weights([1e8, 2e8, 3e8, 4e8], bins=2)   # complexity-normalized weights
    >>> stats.bootstrap_best(x, errors, seed=0)           # paper's bootstrap: median and 95% interval
    >>> stats.ks_test(errors_a, errors_b)                 # KS statistic and p-value
    >>> stats.best_of_k(errors, ks=[1, 2, 4])             # random-search efficiency

Everything is seeded and vectorized; no loops over the 10^4 bootstrap repeats.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from designspace.errors import DesignspaceError


def _as_1d(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise DesignspaceError(f"{what}: no values")
    if not np.all(np.isfinite(arr)):
        raise DesignspaceError(f"{what}: values must be finite numbers")
    return arr


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != n or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise DesignspaceError(f"weights must be {n} non-negative numbers with a positive sum")
    return w / w.sum()


# ---------------------------------------------------------------- EDFs

def edf(errors, at, weights=None) -> np.ndarray:
    """F(e) = (weighted) share of models with error strictly below e, for every e in `at`."""
    e = _as_1d(errors, "errors")
    w = _weights(weights, e.size)
    order = np.argsort(e, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    idx = np.searchsorted(e[order], np.asarray(at, dtype=np.float64), side="left")
    return np.clip(cum[idx], 0.0, 1.0)


def edf_steps(errors, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """The EDF as a step curve: sorted errors and F just after each (for `plt.step(where="post")`)."""
    e = _as_1d(errors, "errors")
    w = _weights(weights, e.size)
    order = np.argsort(e, kind="stable")
    return e[order], np.clip(np.cumsum(w[order]), 0.0, 1.0)


def shared_bins(complexities, bins: int) -> np.ndarray:
    """B equal-width bin edges over the range shared by several spaces (list of arrays)."""
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise DesignspaceError(f"bins must be an integer >= 1, got {bins!r}")
    arrays = [_as_1d(c, "complexity") for c in complexities]
    lo = min(float(a.min()) for a in arrays)
    hi = max(float(a.max()) for a in arrays)
    if hi <= lo:
        hi = lo + 1.0  # all equal: one meaningful bin
    return np.linspace(lo, hi, bins + 1)


def bin_counts(complexity, edges) -> np.ndarray:
    c = _as_1d(complexity, "complexity")
    # Right-closed last bin so the maximum falls inside.
    idx = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1), idx


def normalized_weights(complexity, bins: int | None = None, edges=None, name: str = "models") -> np.ndarray:
    """Weights 1 / (bin count * B) for the complexity-normalized EDF; they sum to 1.

    Bins are B equal-width bins over `edges` (shared by the spaces being compared) or over this
    sample's own range. An empty bin would make the weights undefined: DesignspaceError.
    """
    if edges is None:
        if bins is None:
            raise DesignspaceError("give bins or edges")
        edges = shared_bins([complexity], bins)
    edges = np.asarray(edges, dtype=np.float64)
    n_bins = len(edges) - 1
    counts, idx = bin_counts(complexity, edges)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        b = int(empty[0])
        raise DesignspaceError(
            f"{name}: complexity bin {b + 1} of {n_bins} ({edges[b]:.4g}..{edges[b + 1]:.4g}) has no model; "
            f"use fewer bins (--bins) or more models ({len(idx)} here)")
    return 1.0 / (counts[idx] * n_bins)


def largest_valid_bins(complexities, start: int) -> int:
    """The largest B <= start for which every space fills every shared bin (1 always works)."""
    for b in range(int(start), 1, -1):
        edges = shared_bins(complexities, b)
        if all((bin_counts(c, edges)[0] > 0).all() for c in complexities):
            return b
    return 1


def edf_band(errors, at, weights=None, repeats: int = 1000, level: float = 0.95, seed: int = 0):
    """Bootstrap confidence band of the EDF: resample the models with replacement.

    Returns (lower, upper) arrays over `at`. Vectorized: the resamples become a count matrix C
    (repeats x n), and every resampled EDF is C*w @ [e_i < at] at once.
    """
    e = _as_1d(errors, "errors")
    w = _weights(weights, e.size)
    n = e.size
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(repeats, n))
    counts = np.zeros((repeats, n))
    np.add.at(counts, (np.repeat(np.arange(repeats), n), draws.reshape(-1)), 1.0)
    mass = counts * w[None, :]
    below = (e[:, None] < np.asarray(at, dtype=np.float64)[None, :]).astype(np.float64)
    curves = (mass @ below) / mass.sum(axis=1, keepdims=True)
    alpha = (1.0 - level) / 2.0
    return np.quantile(curves, alpha, axis=0), np.quantile(curves, 1.0 - alpha, axis=0)


# ---------------------------------------------------------------- bootstrap of the best model

@dataclass(frozen=True)
class BootstrapResult:
    median: float
    low: float
    high: float
    best_error_median: float
    repeats: int
    sample_size: int

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_best(x, errors, fraction: float = 0.25, repeats: int = 10_000, level: float = 0.95,
                   seed: int = 0) -> BootstrapResult:
    """The paper's empirical bootstrap: draw `fraction` of the (x, error) pairs with replacement,
    keep the best pair, repeat; the median and `level` interval of the kept x values."""
    xs = _as_1d(x, "x")
    e = _as_1d(errors, "errors")
    if xs.size != e.size:
        raise DesignspaceError(f"x and errors differ in length ({xs.size} vs {e.size})")
    m = max(1, int(np.ceil(fraction * e.size)))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, e.size, size=(repeats, m))
    best = draws[np.arange(repeats), np.argmin(e[draws], axis=1)]
    kept = xs[best]
    alpha = (1.0 - level) / 2.0
    low, med, high = np.quantile(kept, [alpha, 0.5, 1.0 - alpha])
    return BootstrapResult(median=float(med), low=float(low), high=float(high),
                           best_error_median=float(np.median(e[best])), repeats=repeats, sample_size=m)


# ---------------------------------------------------------------- KS test

@dataclass(frozen=True)
class KSResult:
    statistic: float
    pvalue: float
    n1: float  # (effective) sample sizes
    n2: float
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def ks_statistic(a, b, weights_a=None, weights_b=None) -> float:
    """sup_e |F_a(e) - F_b(e)| of two (weighted) EDFs."""
    ea, eb = _as_1d(a, "errors"), _as_1d(b, "errors")
    grid = np.union1d(ea, eb)
    # The sup is reached just after a jump: compare F with "<=" at every observed value.
    fa = edf(ea, np.nextafter(grid, np.inf), weights_a)
    fb = edf(eb, np.nextafter(grid, np.inf), weights_b)
    return float(np.max(np.abs(fa - fb)))


def _effective_size(weights, n: int) -> float:
    w = _weights(weights, n)
    return float(1.0 / np.sum(w * w))  # Kish's effective sample size


def ks_test(a, b, weights_a=None, weights_b=None) -> KSResult:
    """Two-sample KS statistic and p-value.

    Unweighted: the p-value is scipy's (`ks_2samp`, exact for small samples). Weighted (normalized
    EDFs): scipy's asymptotic rule with Kish effective sample sizes, an approximation.
    """
    from scipy import stats as sps

    ea, eb = _as_1d(a, "errors"), _as_1d(b, "errors")
    d = ks_statistic(ea, eb, weights_a, weights_b)
    if weights_a is None and weights_b is None:
        p = float(sps.ks_2samp(ea, eb).pvalue)
        return KSResult(d, p, float(ea.size), float(eb.size), "scipy ks_2samp")
    n1, n2 = _effective_size(weights_a, ea.size), _effective_size(weights_b, eb.size)
    # scipy's asymptotic two-sample rule (Kolmogorov distribution at n = n1*n2/(n1+n2)), with effective sizes.
    en = max(1, int(round(n1 * n2 / (n1 + n2))))
    p = float(sps.kstwo.sf(d, en))
    return KSResult(d, min(1.0, max(0.0, p)), n1, n2, "asymptotic, effective sizes")


# ---------------------------------------------------------------- random-search efficiency

@dataclass(frozen=True)
class BestOfK:
    k: list[int]
    mean: list[float]
    std: list[float]

    @property
    def lower(self) -> list[float]:
        return [m - 2 * s for m, s in zip(self.mean, self.std)]

    @property
    def upper(self) -> list[float]:
        return [m + 2 * s for m, s in zip(self.mean, self.std)]

    def to_dict(self) -> dict:
        return {"k": self.k, "mean": self.mean, "std": self.std, "lower": self.lower, "upper": self.upper}


def powers_of_two(limit: int) -> list[int]:
    ks, k = [], 1
    while k <= max(1, limit):
        ks.append(k)
        k *= 2
    return ks


def best_of_k(errors, ks=None, weights=None) -> BestOfK:
    """Expected minimum error of k models drawn from the (weighted) EDF, and its std, exactly.

    With sorted errors e_1 <= ... <= e_n of probabilities p_i and tail S_i = p_i + ... + p_n,
    P(best of k = e_i) = S_i^k - S_{i+1}^k.
    """
    e = _as_1d(errors, "errors")
    w = _weights(weights, e.size)
    order = np.argsort(e, kind="stable")
    e, w = e[order], w[order]
    tail = np.clip(np.cumsum(w[::-1])[::-1], 0.0, 1.0)
    tail_next = np.concatenate([tail[1:], [0.0]])
    ks = powers_of_two(e.size) if ks is None else [int(k) for k in ks]
    if any(k < 1 for k in ks):
        raise DesignspaceError("k must be >= 1")
    kk = np.asarray(ks, dtype=np.float64)[:, None]
    prob = tail[None, :] ** kk - tail_next[None, :] ** kk
    mean = prob @ e
    var = np.maximum(prob @ (e * e) - mean * mean, 0.0)
    return BestOfK(k=list(ks), mean=mean.tolist(), std=np.sqrt(var).tolist())
