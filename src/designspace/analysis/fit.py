"""The quantized linear fit (docs/design.md, Analysis).

Given a network's per-block widths w_j (j < d), find the (w0, wa, wm) whose
quantized linear widths u'_j (the `designspace.regnet.quantized_linear` rule:
k_j = round(log(u_j / w0) / log(wm)), u'_j = round(w0 * wm**k_j / 8) * 8, both
half to even) minimize

    e_fit = mean_j |log(w_j / u'_j)|

    >>> from designspace.analysis.fit import fit_many, fit_quantized_linear
    >>> fit = fit_quantized_linear([24, 56, 56, 152, 152, 152, 368, 368])
    >>> fit.w0, round(fit.e_fit, 3)
    >>> fits = fit_many(widths_of_every_model)      # the same fits, the searches batched

The search is a vectorized grid over (w0, wa, wm) followed by a finer grid
around the best cells. Among candidates with the same e_fit the one whose
continuous line u_j = w0 + wa * j stays closest to the widths wins, so that a
generated RegNet gets back parameters near its own rather than any of the many
that quantize to the same widths.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import DesignspaceError

QUANTUM = 8
WM_RANGE = (1.05, 4.0)
BATCH_CELLS = 2_000_000  # grid cells x blocks per batch of models: amortizes numpy's per-call cost
REFINE_POINTS = 22  # per axis of a refinement grid: 21 even steps and the best value so far


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
    log_w: (d,), or (S, d) when the grids belong to different models. Returns e_fit, shape (S, P, Q),
    and the misfit, shape (S, P, 1) (it does not depend on wm). The coarse search runs in float32
    for speed; every candidate it keeps is re-scored in float64.

    The values are those of the direct computation (per cell: k_j, u'_j, mean_j |log w_j - log u'_j|)
    bit for bit, computed cheaper: log u'_j depends on (s, q, k_j) only, so it comes from a small
    table instead of an exp and a log per cell and block; the cells are laid out (P, Q, S), so that
    numpy's inner loops run over all grids at once; and the blocks are summed one at a time, in
    numpy's own order for a mean over blocks (`_pairwise_sum`), with buffers that stay in cache.
    """
    log_w, w0, wa, wm, j = (np.asarray(a, dtype=dtype) for a in (log_w, w0, wa, wm, j))
    log_w = log_w.T if log_w.ndim == 2 else log_w[:, None]  # (d, S) or (d, 1)
    u = np.ascontiguousarray(wa.T)[None, :, :] * j[:, None, None] + w0  # (d, P, S)
    growth = np.log(u / w0)  # log(u_j / w0) >= 0
    log_wm = np.ascontiguousarray(np.log(wm).T)  # (Q, S), > 0
    table, starts = _log_quantized_table(w0, log_wm, growth.max(axis=(0, 1)))
    shape = (wa.shape[1], wm.shape[1], w0.size)
    k, index = np.empty(shape, dtype), np.empty(shape, np.int32)  # int32: the cheapest conversion from float
    first_is_w0 = not growth[0].any()  # u_0 = w0, so k_0 = 0 in every cell

    def term(i, out):  # |log w_i - log u'_i| of every cell, written to out
        if i == 0 and first_is_w0:
            out[...] = table[starts]
        else:
            np.divide(growth[i][:, None, :], log_wm, out=k)
            np.rint(k, out=k)
            np.copyto(index, k, casting="unsafe")
            np.add(index, starts, out=index)
            np.take(table, index, out=out, mode="clip")  # in range by construction: no check
        np.subtract(log_w[i], out, out=out)
        return np.abs(out, out=out)

    e_fit = (_pairwise_sum(term, 0, j.size, shape, dtype) / j.size).transpose(2, 0, 1)
    misfit = np.abs(log_w[:, None, :] - np.log(u))  # (d, P, S)

    def misfit_term(i, out):
        out[...] = misfit[i]
        return out

    misfit = _pairwise_sum(misfit_term, 0, j.size, misfit.shape[1:], dtype) / j.size
    return e_fit, misfit.T[:, :, None]  # misfit: the tie-breaker


def _log_quantized_table(w0, log_wm, top_growth):
    """log u'_k for every grid column (q, s) and exponent k the column can meet, flattened; and
    where each column's entries start: (table, starts of shape (Q, S)).

    Column (q, s) holds k = 0 .. rint(top_growth[s] / log_wm[q, s]), the largest exponent of that
    column (division and rint are monotone). The entries come from the same float operations as
    per cell (w0 * exp(k * log wm), quantized, at least one quantum, then the log), so each equals
    the value computed in place.
    """
    n_seeds = log_wm.shape[1]
    sizes = (np.rint(top_growth / log_wm).astype(np.intp) + 1).reshape(-1)
    starts = np.cumsum(sizes) - sizes
    column = np.repeat(np.arange(sizes.size), sizes)  # column q * S + s of every entry
    levels = (np.arange(column.size) - starts[column]).astype(log_wm.dtype)
    predicted = np.maximum(_round_q(w0[column % n_seeds] * np.exp(levels * log_wm.reshape(-1)[column])), QUANTUM)
    return np.log(predicted), starts.reshape(log_wm.shape).astype(np.int32)


def _pairwise_sum(term, lo: int, hi: int, shape, dtype):
    """term(lo) + ... + term(hi - 1), added in the order of numpy's pairwise summation (its
    `pairwise_sum`, which `mean(axis=-1)` uses along a contiguous row: eight running sums over
    blocks of up to 128 terms, halves above), so a sum over blocks one at a time gives the same
    floats as the mean over a row of blocks. term(i, out) writes term i (>= 0) to the array out
    of `shape` and returns it."""
    n = hi - lo
    if n < 8:
        total = term(lo, np.empty(shape, dtype))  # numpy starts from zero: 0 + t == t for t >= 0
        buffer = np.empty(shape, dtype)
        for i in range(lo + 1, hi):
            total += term(i, buffer)
        return total
    if n <= 128:
        partial = np.empty((8, *shape), dtype)
        for r in range(8):
            term(lo + r, partial[r])
        stop = hi - n % 8
        buffer = np.empty(shape, dtype)
        for i in range(lo + 8, stop):
            partial[(i - lo) % 8] += term(i, buffer)
        total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + \
            ((partial[4] + partial[5]) + (partial[6] + partial[7]))
        for i in range(stop, hi):
            total += term(i, buffer)
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(term, lo, lo + half, shape, dtype) + _pairwise_sum(term, lo + half, hi, shape, dtype)


def _score(e_fit, misfit):
    """Lowest e_fit first; the continuous misfit only breaks (near) ties."""
    return np.round(e_fit, 6) + 1e-7 * misfit / (1.0 + misfit)


def _best_cells(score, top: int):
    """Indices (s, p, q) of the `top` best cells of one model's grids (score: (S, P, Q)), best first."""
    flat_score = score.reshape(-1)
    flat = np.argpartition(flat_score, top - 1)[:top] if flat_score.size > top else np.arange(flat_score.size)
    flat = flat[np.argsort(flat_score[flat], kind="stable")]
    return list(zip(*np.unravel_index(flat, score.shape)))


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


def _refine(log_w, j, w0, wa_grid, wm_grid, rounds: int = 3, points: int = REFINE_POINTS - 1):
    """Zoom in on several coarse cells at once: per seed s, a finer (wa, wm) grid over the
    neighbours of its best cell, `rounds` times. wa_grid, wm_grid: (S, P), (S, Q) with each
    seed's cell at the middle column; log_w: (d,), or (S, d) for seeds of different models.
    Returns per seed the (score, wa, wm) of the best cell found."""
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
    return score[seeds, flat], wa_best, wm_best


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
    return fit_many([widths], wm_range)[0]


def fit_many(widths_list, wm_range=WM_RANGE) -> list[LinearFit]:
    """`fit_quantized_linear` of every widths sequence, the same fit per model, faster for many:

        >>> fits = fit_many([[24, 56, 56, 152], [32, 32, 96, 64, 64]])

    The grid searches of models with the same number of blocks run in batches: each numpy call
    covers many models, where one model's search makes thousands of small calls."""
    ws = [_check_widths(w) for w in widths_list]
    fits = [_exact_fit(w, wm_range) for w in ws]
    pending = [i for i, fit in enumerate(fits) if fit is None]
    wm_base = np.geomspace(*wm_range, 32)
    grids = {i: (_w0_candidates(ws[i][0], ws[i]), wa_grid, np.union1d(wm_base, _wm_seeds(ws[i], *wm_range)))
             for i, wa_grid in zip(pending, _wa_grids([ws[i] for i in pending]))}
    # Models of one depth with wm grids of similar length batch together with little padding.
    order = sorted(grids, key=lambda i: (ws[i].size, grids[i][2].size))
    seeds = {}
    for batch in _batches(order, ws, lambda i: grids[i][0].size * grids[i][1].size * grids[i][2].size):
        seeds.update(zip(batch, _coarse_seeds([ws[i] for i in batch], [grids[i] for i in batch])))
    for batch in _batches(order, ws, lambda i: seeds[i][0].size * REFINE_POINTS ** 2):
        for i, (w0, wa, wm) in zip(batch, _refine_seeds([ws[i] for i in batch], [seeds[i] for i in batch])):
            fits[i] = _finish(ws[i], w0, wa, wm, wm_range)
    return fits


def _batches(order, ws, cells):
    """Consecutive runs of `order` with the same number of blocks, of about BATCH_CELLS grid cells x blocks."""
    batch, total = [], 0
    for i in order:
        if batch and (ws[i].size != ws[batch[0]].size or total >= BATCH_CELLS):
            yield batch
            batch, total = [], 0
        batch.append(i)
        total += cells(i) * ws[i].size
    if batch:
        yield batch


def _exact_fit(w: np.ndarray, wm_range):
    """The fit with e_fit 0 when w is a quantized linear sequence with consecutive exponents, else None."""
    exact = _exact_solution(w, *wm_range)
    if exact is not None:
        fit = _make_fit(w, *exact)
        if fit.e_fit == 0.0:
            return fit
    return None


def _wa_grids(ws) -> np.ndarray:
    """Each model's coarse wa candidates, one row per model: 0, then 39 geometric steps from 0.25 to
    wa_max (about twice the widest width spread over the blocks)."""
    wa_max = [8.0 if w.size == 1 or np.all(w == w[0]) else max(8.0, 2.0 * float(w.max()) / (w.size - 1)) for w in ws]
    if not wa_max:
        return np.empty((0, 40))
    return np.column_stack([np.zeros(len(wa_max)), np.geomspace(0.25, np.array(wa_max), 39, axis=1)])


def _coarse_seeds(ws, grids):
    """The coarse float32 search of models with the same number of blocks: per model, the seeds
    (w0, wa, wm) for `_refine` around its 5 best cells."""
    # Every model's w0 candidates are rows of one batch; each wm grid is padded to the longest with
    # its last value, and the padding columns are dropped before choosing cells.
    rows = [w0.size for w0, _, _ in grids]
    n_wm = max(wm.size for _, _, wm in grids)
    e_fit, misfit = _grid_costs(
        np.repeat(np.log(np.stack(ws)), rows, axis=0), np.concatenate([w0 for w0, _, _ in grids]),
        np.concatenate([np.tile(wa, (w0.size, 1)) for w0, wa, _ in grids]),
        np.concatenate([np.tile(np.pad(wm, (0, n_wm - wm.size), mode="edge"), (w0.size, 1)) for w0, _, wm in grids]),
        np.arange(ws[0].size, dtype=np.float64), dtype=np.float32)
    score = _score(e_fit, misfit)
    ends = np.cumsum(rows)
    return [_seeds(score[end - n:end, :, :grid[2].size], grid) for n, end, grid in zip(rows, ends, grids)]


def _seeds(score, grid):
    """(w0, wa, wm) seeds for `_refine` from one model's coarse scores: each of the 5 best cells
    with its two neighbours, as 3-column grids centred on the cell."""
    w0_grid, wa_grid, wm_grid = grid
    cells = _best_cells(score, top=5)
    last_a, last_m = wa_grid.size - 1, wm_grid.size - 1
    seed_w0 = np.array([w0_grid[i0] for i0, _, _ in cells], dtype=np.float64)
    seed_wa = wa_grid[[[max(ia - 1, 0), ia, min(ia + 1, last_a)] for _, ia, _ in cells]]
    seed_wm = wm_grid[[[max(im - 1, 0), im, min(im + 1, last_m)] for _, _, im in cells]]
    return seed_w0, seed_wa, seed_wm


def _refine_seeds(ws, seeds):
    """`_refine` of the seeds of models with the same number of blocks, as one batch; per model,
    the (w0, wa, wm) of its best seed (the first of equals)."""
    counts = [w0.size for w0, _, _ in seeds]
    seed_w0 = np.concatenate([w0 for w0, _, _ in seeds])
    log_w = np.repeat(np.log(np.stack(ws)), counts, axis=0)
    best, wa, wm = _refine(log_w, np.arange(ws[0].size, dtype=np.float64), seed_w0,
                           np.concatenate([wa for _, wa, _ in seeds]), np.concatenate([wm for _, _, wm in seeds]))
    out = []
    for end, n in zip(np.cumsum(counts), counts):
        s = end - n + int(np.argmin(best[end - n:end]))
        out.append((int(seed_w0[s]), float(wa[s]), float(wm[s])))
    return out


def _finish(w: np.ndarray, w0: int, wa: float, wm: float, wm_range) -> LinearFit:
    """The fit at the searched parameters, or an exact one the search points to."""
    from ..regnet import quantized_linear

    qw = quantized_linear(int(w.size), int(w0), float(wa), float(wm), q=QUANTUM)
    fit = _make_fit(w, w0, wa, wm, qw)
    if fit.e_fit > 0:
        # The widths may still be exact with skipped exponents: take them from the grid's best fit.
        ks = qw.exponents
        _, first = np.unique(w, return_index=True)
        exponents = [ks[i] for i in first]
        distinct = all(a < b for a, b in zip(exponents, exponents[1:])) and exponents[0] == 0
        exact = _exact_solution(w, *wm_range, exponents=exponents) if distinct else None
        if exact is not None:
            candidate = _make_fit(w, *exact)
            if candidate.e_fit < fit.e_fit:
                return candidate
    return fit


def _make_fit(w: np.ndarray, w0: int, wa: float, wm: float, qw=None) -> LinearFit:
    # Recompute with the library rule itself so the reported widths are exactly what it generates.
    if qw is None:  # else the caller's quantized_linear of these parameters
        from ..regnet import quantized_linear

        qw = quantized_linear(int(w.size), int(w0), float(wa), float(wm), q=QUANTUM)
    predicted = np.maximum(np.asarray(qw.block_widths, dtype=np.float64), QUANTUM)
    e_fit = float(np.abs(np.log(w) - np.log(predicted)).mean())
    return LinearFit(w0=int(w0), wa=float(wa), wm=float(wm), e_fit=e_fit,
                     block_widths=[int(x) for x in predicted], stage_widths=list(qw.stage_widths),
                     stage_depths=list(qw.stage_depths))


def e_fit_of(widths, w0: int, wa: float, wm: float) -> float:
    """e_fit of given parameters (no search)."""
    return _make_fit(_check_widths(widths), w0, wa, wm).e_fit
