# Baseline: designspace/analysis/fit.py as it was before the report speed-up (see __init__.py).
"""The quantized linear fit of docs/design.md, Analysis.

Given a network's per-block widths w_j (j < d), find the (w0, wa, wm) whose
quantized linear widths u'_j (the `designspace.regnet.quantized_linear` rule:
k_j = round(log(u_j / w0) / log(wm)), u'_j = round(w0 * wm**k_j / 8) * 8, both
half to even) minimize

    e_fit = mean_j |log(w_j / u'_j)|

    >>> from designspace.analysis.fit import fit_quantized_linear
    >>> fit = fit_quantized_linear([24, 56, 56, 152, 152, 152, 368, 368])
    >>> fit.w0, round(fit.e_fit, 3)

The search is a vectorized grid over (w0, wa, wm) followed by a finer grid
around the best cells. Among candidates with the same e_fit the one whose
continuous line u_j = w0 + wa * j stays closest to the widths wins, so that a
generated RegNet gets back parameters near its own rather than any of the many
that quantize to the same widths.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from designspace.errors import DesignspaceError

QUANTUM = 8
WM_RANGE = (1.05, 4.0)


@dataclass(frozen=True)
class LinearFit:
    w0: int
    wa: float
    wm: float
    e_fit: float
    block_widths: list[int]  # the fitted (quantized) per-block widths u'_j
    stage_widths: list[int]
    stage_depths: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def _check_widths(widths) -> np.ndarray:
    try:
        w = np.asarray(widths, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DesignspaceError(f"block widths must be numbers, got {widths!r}") from None
    if w.size == 0:
        raise DesignspaceError("give at least one block width")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise DesignspaceError(f"block widths must be positive, got {list(widths)!r}")
    return w


def _round_q(x):
    return np.round(x / QUANTUM) * QUANTUM


def _grid_costs(log_w, w0, wa, wm, j, dtype=np.float64):
    """e_fit and continuous misfit for a batch of grids.

    w0: (S,); wa: (S, P); wm: (S, Q): grid s pairs w0[s] with every wa[s, p] and wm[s, q].
    Returns two arrays of shape (S, P, Q). The coarse search runs in float32 for speed; every
    candidate it keeps is re-scored in float64.
    """
    log_w, w0, wa, wm, j = (np.asarray(a, dtype=dtype) for a in (log_w, w0, wa, wm, j))
    w0_ = w0[:, None, None, None]
    u = w0_ + wa[:, :, None, None] * j  # (S, P, 1, d)
    log_wm = np.log(wm)[:, None, :, None]  # (S, 1, Q, 1)
    k = np.round(np.log(u / w0_) / log_wm)  # (S, P, Q, d)
    predicted = np.maximum(_round_q(w0_ * np.exp(k * log_wm)), QUANTUM)  # a width never quantizes to 0
    e_fit = np.abs(log_w - np.log(predicted)).mean(axis=-1)
    misfit = np.abs(log_w - np.log(u)).mean(axis=-1)  # tie-breaker, shape (S, P, 1)
    return e_fit, np.broadcast_to(misfit, e_fit.shape)


def _score(e_fit, misfit):
    """Lowest e_fit first; the continuous misfit only breaks (near) ties."""
    return np.round(e_fit, 6) + 1e-7 * misfit / (1.0 + misfit)


def _best(e_fit, misfit, top: int):
    """Indices (s, p, q) of the `top` best cells over the whole batch."""
    score = _score(e_fit, misfit).reshape(-1)
    flat = np.argpartition(score, top - 1)[:top] if score.size > top else np.arange(score.size)
    flat = flat[np.argsort(score[flat], kind="stable")]
    return [np.unravel_index(i, e_fit.shape) for i in flat]


def _w0_candidates(first: float, widths: np.ndarray) -> np.ndarray:
    # Block 0 is always predicted as exactly w0 (k_0 = 0), so the best w0 is near the first width.
    base = max(QUANTUM, float(_round_q(first)))
    factors = np.array([0.5, 0.75, 0.875, 1.0, 1.125, 1.25, 1.5])
    cands = np.unique(np.maximum(QUANTUM, _round_q(base * factors)))
    return cands[cands <= max(base, float(widths.max())) * 2]


def _wm_seeds(widths: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """wm values that map the first width exactly onto each later distinct width after k steps."""
    levels = np.unique(widths)
    ratios = levels[levels > widths[0]] / widths[0]
    k = np.arange(1, levels.size + 1)
    seeds = (ratios[:, None] ** (1.0 / k[None, :])).reshape(-1)
    return seeds[(seeds >= lo) & (seeds <= hi)]


def _neighbours(grid, idx):
    """Per row of `grid`, the values one step below and above column idx[row] (clipped)."""
    rows = np.arange(grid.shape[0])
    return grid[rows, np.maximum(idx - 1, 0)], grid[rows, np.minimum(idx + 1, grid.shape[1] - 1)]


def _refine(log_w, j, w0, wa_grid, wm_grid, rounds: int = 3, points: int = 21):
    """Zoom in on several coarse cells at once: per seed s, a finer (wa, wm) grid over the
    neighbours of its best cell, `rounds` times. wa_grid, wm_grid: (S, P), (S, Q) with each
    seed's cell at the middle column. Returns (score, e_fit, w0, wa, wm) of the best cell found."""
    seeds = np.arange(w0.size)
    mid_a, mid_m = np.full(w0.size, wa_grid.shape[1] // 2), np.full(w0.size, wm_grid.shape[1] // 2)
    wa_best, wm_best = wa_grid[seeds, mid_a], wm_grid[seeds, mid_m]
    (wa_lo, wa_hi), (wm_lo, wm_hi) = _neighbours(wa_grid, mid_a), _neighbours(wm_grid, mid_m)
    steps = np.linspace(0.0, 1.0, points)[None, :]
    for _ in range(rounds):
        # The current best stays on the grid, so a round never loses it.
        fine_wa = np.sort(np.column_stack([wa_lo[:, None] + (wa_hi - wa_lo)[:, None] * steps, wa_best]), axis=1)
        fine_wm = np.sort(np.column_stack([wm_lo[:, None] + (wm_hi - wm_lo)[:, None] * steps, wm_best]), axis=1)
        e_fit, misfit = _grid_costs(log_w, w0, fine_wa, fine_wm, j)
        score = _score(e_fit, misfit).reshape(w0.size, -1)
        flat = np.argmin(score, axis=1)
        ja, jm = np.unravel_index(flat, e_fit.shape[1:])
        wa_best, wm_best = fine_wa[seeds, ja], fine_wm[seeds, jm]
        (wa_lo, wa_hi), (wm_lo, wm_hi) = _neighbours(fine_wa, ja), _neighbours(fine_wm, jm)
    s = int(np.argmin(score[seeds, flat]))
    return int(w0[s]), float(wa_best[s]), float(wm_best[s])


def _exact_solution(w: np.ndarray, wm_lo: float, wm_hi: float, exponents=None):
    """(w0, wa, wm) reproducing w exactly when w is itself a quantized linear sequence, else None.

    Stage s (the s-th distinct width L_s, exponent k_s = s unless `exponents` says otherwise) must be
    round(w0 * wm**k_s / 8) * 8, which bounds wm; block j of stage s needs
    round(log(1 + wa*j/w0) / log(wm)) = k_s, which bounds wa for that wm.
    """
    if np.any(np.diff(w) < 0) or w[0] % QUANTUM:
        return None
    levels, stage = np.unique(w, return_inverse=True)
    w0 = float(w[0])
    s = np.arange(1, levels.size) if exponents is None else np.asarray(exponents[1:], dtype=np.float64)
    if s.size == 0:
        return int(w0), 0.0, float(np.sqrt(wm_lo * wm_hi))
    margin = 1e-9  # stay off the rounding edges
    lo = max(wm_lo, float(np.max(((levels[1:] - QUANTUM / 2 + margin) / w0) ** (1.0 / s))))
    hi = min(wm_hi, float(np.min(((levels[1:] + QUANTUM / 2 - margin) / w0) ** (1.0 / s))))
    if lo > hi:
        return None
    j = np.arange(1, w.size, dtype=np.float64)
    k = np.concatenate([[0.0], s])[stage[1:]]
    candidates = np.linspace(lo, hi, 41)
    for wm in candidates[np.argsort(np.abs(np.arange(41) - 20), kind="stable")]:  # the middle of the interval first
        wa_lo = float(np.max(np.maximum(0.0, w0 * (wm ** (k - 0.5) - 1.0) / j))) if j.size else 0.0
        wa_hi = float(np.min(w0 * (wm ** (k + 0.5) - 1.0) / j)) if j.size else 0.0
        if wa_lo < wa_hi:
            return int(w0), (wa_lo + wa_hi) / 2.0, float(wm)
    return None


def fit_quantized_linear(widths, wm_range=WM_RANGE) -> LinearFit:
    """Best (w0, wa, wm) for per-block widths `widths` (see the module docstring)."""
    w = _check_widths(widths)
    exact = _exact_solution(w, *wm_range)
    if exact is not None:
        fit = _make_fit(w, *exact)
        if fit.e_fit == 0.0:
            return fit
    d = w.size
    log_w = np.log(w)
    j = np.arange(d, dtype=np.float64)
    w0_grid = _w0_candidates(w[0], w)
    wm_lo, wm_hi = wm_range
    if d == 1 or np.all(w == w[0]):
        wa_max = 8.0
    else:
        wa_max = max(8.0, 2.0 * float(w.max()) / (d - 1))
    wa_grid = np.concatenate([[0.0], np.geomspace(0.25, wa_max, 39)])
    wm_grid = np.union1d(np.geomspace(wm_lo, wm_hi, 32), _wm_seeds(w, wm_lo, wm_hi))
    n_w0 = w0_grid.size
    e_fit, misfit = _grid_costs(log_w, w0_grid, np.tile(wa_grid, (n_w0, 1)), np.tile(wm_grid, (n_w0, 1)), j,
                                dtype=np.float32)
    cells = _best(e_fit, misfit, top=5)
    seed_w0 = np.array([w0_grid[i0] for i0, _, _ in cells], dtype=np.float64)
    # Each seed's coarse cell with its two neighbours, as 3-column grids centred on the cell.
    seed_wa = np.array([wa_grid[np.clip([ia - 1, ia, ia + 1], 0, wa_grid.size - 1)] for _, ia, _ in cells])
    seed_wm = np.array([wm_grid[np.clip([im - 1, im, im + 1], 0, wm_grid.size - 1)] for _, _, im in cells])
    w0, wa, wm = _refine(log_w, j, seed_w0, seed_wa, seed_wm)
    fit = _make_fit(w, w0, wa, wm)
    if fit.e_fit > 0:
        # The widths may still be exact with skipped exponents: take them from the grid's best fit.
        from designspace.regnet import quantized_linear

        ks = quantized_linear(w.size, w0, wa, wm, q=QUANTUM).exponents
        levels, first = np.unique(w, return_index=True)
        exponents = [ks[i] for i in first]
        distinct = all(a < b for a, b in zip(exponents, exponents[1:])) and exponents[0] == 0
        exact = _exact_solution(w, wm_lo, wm_hi, exponents=exponents) if distinct else None
        if exact is not None:
            candidate = _make_fit(w, *exact)
            if candidate.e_fit < fit.e_fit:
                return candidate
    return fit


def _make_fit(w: np.ndarray, w0: int, wa: float, wm: float) -> LinearFit:
    # Recompute with the library rule itself so the reported widths are exactly what it generates.
    from designspace.regnet import quantized_linear

    qw = quantized_linear(int(w.size), int(w0), float(wa), float(wm), q=QUANTUM)
    predicted = np.maximum(np.asarray(qw.block_widths, dtype=np.float64), QUANTUM)
    e_fit = float(np.abs(np.log(w) - np.log(predicted)).mean())
    return LinearFit(w0=int(w0), wa=float(wa), wm=float(wm), e_fit=e_fit,
                     block_widths=[int(x) for x in predicted], stage_widths=list(qw.stage_widths),
                     stage_depths=list(qw.stage_depths))


def e_fit_of(widths, w0: int, wa: float, wm: float) -> float:
    """e_fit of given parameters (no search)."""
    return _make_fit(_check_widths(widths), w0, wa, wm).e_fit
