"""The quantized linear fit (docs/design.md, Analysis) and `designspace fit`."""
import json

import numpy as np
import pytest

from designspace.analysis import fit as fit_mod
from designspace.analysis.fit import e_fit_of, fit_quantized_linear
from designspace.cli import main
from designspace.errors import DesignspaceError
from designspace.regnet import quantized_linear, regnet_spec
from designspace.zoo import get_spec


def _regnet_params(rng, count):
    """Random RegNet parameters like the RegNetX space's, without skipped exponents (as samplers do)."""
    out = []
    while len(out) < count:
        d, w0 = int(rng.integers(12, 29)), int(rng.integers(1, 33)) * 8
        wa, wm = float(rng.uniform(8, 256)), float(rng.uniform(1.5, 3.0))
        if not quantized_linear(d, w0, wa, wm).skips_exponent:
            out.append((d, w0, wa, wm))
    return out


def test_fit_recovers_generated_regnets():
    for d, w0, wa, wm in _regnet_params(np.random.default_rng(5), 40):
        widths = quantized_linear(d, w0, wa, wm).block_widths
        fit = fit_quantized_linear(widths)
        assert fit.e_fit == 0.0, (d, w0, wa, wm)
        assert fit.block_widths == widths
        assert fit.w0 == w0
        # Many (wa, wm) quantize to the same widths; the fit lands inside that set, near the truth.
        assert fit.wm == pytest.approx(wm, rel=0.03)
        assert fit.wa == pytest.approx(wa, rel=0.2)
        assert quantized_linear(d, fit.w0, fit.wa, fit.wm).block_widths == widths


def test_fit_of_regnet_specs_after_group_compatibility_is_small():
    # Group compatibility moves widths off the exact rule (RegNetX-400MF 24/64/152/392 -> 32/64/160/384).
    for name in ("RegNetX-200MF", "RegNetX-400MF", "RegNetX-1.6GF", "RegNetY-800MF"):
        fit = fit_quantized_linear(get_spec(name).block_widths())
        assert 0.0 <= fit.e_fit < 0.1, name
    spec = regnet_spec(16, 48, 36.0, 2.5, group_width=8)
    assert fit_quantized_linear(spec.block_widths()).e_fit == 0.0  # these widths survive compatibility


def test_random_anynets_have_positive_e_fit():
    rng = np.random.default_rng(0)
    values = []
    for _ in range(20):
        depths = rng.integers(1, 5, 4)
        widths = rng.integers(1, 129, 4) * 8  # unordered, unrelated stage widths
        values.append(fit_quantized_linear(np.repeat(widths, depths)).e_fit)
    assert min(values) > 0.0
    assert np.median(values) > 0.05


def test_e_fit_definition_by_hand():
    # w0=24, wa=24, wm=2: u = 24, 48 -> k = 0, 1 -> u' = 24, 48.
    assert e_fit_of([24, 48], 24, 24.0, 2.0) == 0.0
    assert e_fit_of([24, 56], 24, 24.0, 2.0) == pytest.approx(abs(np.log(56 / 48)) / 2)
    fit = fit_quantized_linear([24, 56])
    assert fit.e_fit <= e_fit_of([24, 56], 24, 24.0, 2.0)
    assert fit_quantized_linear([64, 64, 64]).e_fit == 0.0  # one stage


@pytest.mark.parametrize("bad", [[], [24, -8], [24, float("nan")], ["a"]])
def test_fit_rejects_bad_widths(bad):
    with pytest.raises(DesignspaceError):
        fit_quantized_linear(bad)


def test_fit_command(capsys, tmp_path):
    assert main(["fit", "24", "56", "56", "152", "152", "152", "368", "368"]) == 0
    out = capsys.readouterr().out
    assert "w0 24" in out and "e_fit 0.00000" in out and "fitted stage widths 24 56 152 368" in out
    assert main(["fit", "24,56,56,152", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["w0"] == 24 and data["e_fit"] == 0.0 and data["widths"] == [24, 56, 56, 152]
    spec_file = tmp_path / "net.json"
    spec_file.write_text(get_spec("RegNetX-400MF").to_json())
    assert main(["fit", "--spec", str(spec_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["widths"] == get_spec("RegNetX-400MF").block_widths() and data["e_fit"] > 0


@pytest.mark.parametrize("argv", [["fit"], ["fit", "24", "x"], ["fit", "0", "8"], ["fit", "--spec", "no/such.json"],
                                  ["fit", "8", "--spec", "RegNetX-400MF"]])
def test_fit_command_errors_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("designspace fit: error:") and err.count("\n") == 1


# ---------------------------------------------------------------- the batched search against the original one
# The original search, kept here as the reference: one model at a time, every cell's k_j, u'_j and
# e_fit computed directly. fit_many must return exactly its results, bit for bit.

def _reference_grid_costs(log_w, w0, wa, wm, j, dtype=np.float64):
    log_w, w0, wa, wm, j = (np.asarray(a, dtype=dtype) for a in (log_w, w0, wa, wm, j))
    w0_ = w0[:, None, None, None]
    u = w0_ + wa[:, :, None, None] * j  # (S, P, 1, d)
    log_wm = np.log(wm)[:, None, :, None]  # (S, 1, Q, 1)
    k = np.round(np.log(u / w0_) / log_wm)
    predicted = np.maximum(np.round(w0_ * np.exp(k * log_wm) / 8) * 8, 8)
    e_fit = np.abs(log_w - np.log(predicted)).mean(axis=-1)
    misfit = np.abs(log_w - np.log(u)).mean(axis=-1)
    return e_fit, np.broadcast_to(misfit, e_fit.shape)


def _reference_refine(log_w, j, w0, wa_grid, wm_grid, rounds=3, points=21):
    seeds = np.arange(w0.size)
    mid_a, mid_m = np.full(w0.size, wa_grid.shape[1] // 2), np.full(w0.size, wm_grid.shape[1] // 2)
    wa_best, wm_best = wa_grid[seeds, mid_a], wm_grid[seeds, mid_m]
    (wa_lo, wa_hi), (wm_lo, wm_hi) = fit_mod._neighbours(wa_grid, mid_a), fit_mod._neighbours(wm_grid, mid_m)
    steps = np.linspace(0.0, 1.0, points)[None, :]
    for _ in range(rounds):
        fine_wa = np.sort(np.column_stack([wa_lo[:, None] + (wa_hi - wa_lo)[:, None] * steps, wa_best]), axis=1)
        fine_wm = np.sort(np.column_stack([wm_lo[:, None] + (wm_hi - wm_lo)[:, None] * steps, wm_best]), axis=1)
        e_fit, misfit = _reference_grid_costs(log_w, w0, fine_wa, fine_wm, j)
        score = fit_mod._score(e_fit, misfit).reshape(w0.size, -1)
        flat = np.argmin(score, axis=1)
        ja, jm = np.unravel_index(flat, e_fit.shape[1:])
        wa_best, wm_best = fine_wa[seeds, ja], fine_wm[seeds, jm]
        (wa_lo, wa_hi), (wm_lo, wm_hi) = fit_mod._neighbours(fine_wa, ja), fit_mod._neighbours(fine_wm, jm)
    s = int(np.argmin(score[seeds, flat]))
    return int(w0[s]), float(wa_best[s]), float(wm_best[s])


def _reference_fit(widths, wm_range=fit_mod.WM_RANGE):
    w = fit_mod._check_widths(widths)
    exact = fit_mod._exact_solution(w, *wm_range)
    if exact is not None:
        fit = fit_mod._make_fit(w, *exact)
        if fit.e_fit == 0.0:
            return fit
    d, log_w, j = w.size, np.log(w), np.arange(w.size, dtype=np.float64)
    wm_lo, wm_hi = wm_range
    wa_max = 8.0 if d == 1 or np.all(w == w[0]) else max(8.0, 2.0 * float(w.max()) / (d - 1))
    w0_grid = fit_mod._w0_candidates(w[0], w)
    wa_grid = np.concatenate([[0.0], np.geomspace(0.25, wa_max, 39)])
    wm_grid = np.union1d(np.geomspace(wm_lo, wm_hi, 32), fit_mod._wm_seeds(w, wm_lo, wm_hi))
    n = w0_grid.size
    e_fit, misfit = _reference_grid_costs(log_w, w0_grid, np.tile(wa_grid, (n, 1)), np.tile(wm_grid, (n, 1)), j,
                                          dtype=np.float32)
    score = fit_mod._score(e_fit, misfit).reshape(-1)
    flat = np.argpartition(score, 4)[:5] if score.size > 5 else np.arange(score.size)
    cells = [np.unravel_index(i, e_fit.shape) for i in flat[np.argsort(score[flat], kind="stable")]]
    seed_w0 = np.array([w0_grid[i0] for i0, _, _ in cells], dtype=np.float64)
    seed_wa = np.array([wa_grid[np.clip([ia - 1, ia, ia + 1], 0, wa_grid.size - 1)] for _, ia, _ in cells])
    seed_wm = np.array([wm_grid[np.clip([im - 1, im, im + 1], 0, wm_grid.size - 1)] for _, _, im in cells])
    w0, wa, wm = _reference_refine(log_w, j, seed_w0, seed_wa, seed_wm)
    fit = fit_mod._make_fit(w, w0, wa, wm)
    if fit.e_fit > 0:
        ks = quantized_linear(w.size, w0, wa, wm, q=8).exponents
        levels, first = np.unique(w, return_index=True)
        exponents = [ks[i] for i in first]
        distinct = all(a < b for a, b in zip(exponents, exponents[1:])) and exponents[0] == 0
        exact = fit_mod._exact_solution(w, wm_lo, wm_hi, exponents=exponents) if distinct else None
        if exact is not None:
            candidate = fit_mod._make_fit(w, *exact)
            if candidate.e_fit < fit.e_fit:
                return candidate
    return fit


def _random_widths(rng, count):
    """AnyNet-like (unordered stages), RegNet-like (exact and off by a little) and odd ones (1 block, equal widths)."""
    out = [[8], [64, 64, 64], [24, 56]]
    for d, w0, wa, wm in _regnet_params(rng, count // 3):
        widths = np.array(quantized_linear(d, w0, wa, wm).block_widths)
        out.append(widths.tolist())
        out.append((widths + 8 * rng.integers(-1, 2, widths.size)).clip(8).tolist())
    while len(out) < count:
        depths = rng.integers(1, 6, rng.integers(1, 6))
        out.append(np.repeat(rng.integers(1, 129, depths.size) * rng.choice([1, 8]), depths).tolist())
    return out


def test_grid_costs_equal_the_direct_computation_bit_for_bit():
    rng = np.random.default_rng(3)
    for trial in range(120):
        d = int(rng.integers(130, 150)) if trial == 0 else int(rng.integers(1, 30))  # > 128: numpy's halving
        s, p, q = (int(x) for x in rng.integers(1, 8, 3) * [1, 4, 5])
        w0 = rng.integers(1, 40, s) * 8.0
        wa = np.column_stack([np.zeros(s), rng.uniform(0, 300, (s, p))])
        wm = rng.uniform(1.05, 4.0, (s, q))
        j = np.arange(d, dtype=float)
        widths = rng.integers(1, 300, (s, d)) * 8.0
        for dtype in (np.float32, np.float64):
            e_fit, misfit = fit_mod._grid_costs(np.log(widths[0]), w0, wa, wm, j, dtype)
            ref_e, ref_m = _reference_grid_costs(np.log(widths[0]), w0, wa, wm, j, dtype)
            assert e_fit.dtype == ref_e.dtype and np.array_equal(e_fit, ref_e), (trial, dtype)
            assert np.array_equal(np.broadcast_to(misfit, ref_m.shape), ref_m), (trial, dtype)
            # One model per grid row.
            e_fit, misfit = fit_mod._grid_costs(np.log(widths), w0, wa, wm, j, dtype)
            for row in range(s):
                ref_e, ref_m = _reference_grid_costs(np.log(widths[row]), w0[row:row + 1], wa[row:row + 1],
                                                     wm[row:row + 1], j, dtype)
                assert np.array_equal(e_fit[row:row + 1], ref_e), (trial, dtype, row)
                assert np.array_equal(np.broadcast_to(misfit[row:row + 1], ref_m.shape), ref_m)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_adds_in_numpys_order(dtype):
    rng = np.random.default_rng(4)
    for n in [*range(1, 40), 127, 128, 129, 255, 300]:
        rows = rng.uniform(0, 3, (50, n)).astype(dtype)
        total = fit_mod._pairwise_sum(lambda i, out, rows=rows: np.copyto(out, rows[:, i]) or out, 0, n, (50,), dtype)
        assert np.array_equal(total, rows.sum(axis=-1)), n
        assert np.array_equal(total / n, rows.mean(axis=-1)), n


def test_fit_many_equals_the_original_search_model_by_model():
    widths = _random_widths(np.random.default_rng(6), 150)
    expected = [_reference_fit(w).to_dict() for w in widths]
    assert [f.to_dict() for f in fit_mod.fit_many(widths)] == expected
    assert [fit_quantized_linear(w).to_dict() for w in widths[:20]] == expected[:20]
    assert fit_mod.fit_many([]) == []
