"""Statistics of docs/design.md, Analysis against hand-computed answers and scipy."""
import numpy as np
import pytest
from scipy import stats as sps

from designspace.analysis import stats
from designspace.analysis.complexity import power_law, runtime_model
from designspace.errors import DesignspaceError


def test_edf_counts_strictly_smaller_errors():
    errors = [30.0, 25.0, 40.0, 35.0]
    np.testing.assert_allclose(stats.edf(errors, [25.0, 26.0, 36.0, 40.0, 41.0]), [0, 0.25, 0.75, 0.75, 1.0])
    x, y = stats.edf_steps(errors)
    np.testing.assert_allclose(x, [25, 30, 35, 40])
    np.testing.assert_allclose(y, [0.25, 0.5, 0.75, 1.0])


def test_normalized_weights_by_hand():
    # Range 1..10 in 2 bins: [1, 5.5) holds 3 models, [5.5, 10] holds 1 -> weights 1/(3*2), 1/(1*2).
    w = stats.normalized_weights([1.0, 2.0, 3.0, 10.0], bins=2)
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert w.sum() == pytest.approx(1.0)
    # The normalized EDF of errors 4, 3, 2, 1 (the heavy model has the lowest error).
    np.testing.assert_allclose(stats.edf([4.0, 3.0, 2.0, 1.0], [1.5, 2.5, 3.5, 4.5], weights=w),
                               [0.5, 0.5 + 1 / 6, 0.5 + 2 / 6, 1.0])


def test_shared_bins_and_empty_bin_error():
    a, b = [1.0, 2.0, 9.0, 10.0], [2.0, 5.0, 6.0, 8.0]
    edges = stats.shared_bins([a, b], 3)
    np.testing.assert_allclose(edges, [1, 4, 7, 10])
    np.testing.assert_allclose(stats.normalized_weights(b, edges=edges), [1 / 3, 1 / 6, 1 / 6, 1 / 3])
    with pytest.raises(DesignspaceError, match=r"space 'a'.*bin 2 of 3.*fewer bins"):
        stats.normalized_weights(a, edges=edges, name="space 'a'")
    assert stats.largest_valid_bins([a, b], 3) == 2  # [1, 5.5) and [5.5, 10] both filled
    assert stats.largest_valid_bins([np.arange(10.0), np.arange(10.0)], 5) == 5
    with pytest.raises(DesignspaceError):
        stats.shared_bins([a], 0)


def test_bootstrap_on_a_sample_whose_best_is_known():
    # x = 0..99 with error 100 - x: the best of 25 draws is their maximum x, so
    # P(best <= m) = ((m + 1) / 100) ** 25: median 97, 2.5% quantile 86, 97.5% quantile 99.
    x = np.arange(100.0)
    result = stats.bootstrap_best(x, 100.0 - x, seed=0)
    assert result.sample_size == 25 and result.repeats == 10_000
    assert result.median == 97.0
    assert result.high == 99.0
    assert 85.0 <= result.low <= 87.0
    assert stats.bootstrap_best(x, 100.0 - x, seed=0) == result  # seeded
    # One clearly best pair among 4: 4 draws miss it with probability (3/4)^4 = 0.32 < 0.5, so it is the median.
    xs, es = np.array([1.0, 2.0, 3.0, 4.0]), np.array([9.0, 1.0, 9.5, 9.7])
    r = stats.bootstrap_best(xs, es, fraction=1.0, seed=3)
    assert r.median == 2.0


def test_bootstrap_rejects_mismatched_lengths():
    with pytest.raises(DesignspaceError, match="differ in length"):
        stats.bootstrap_best([1.0, 2.0], [1.0])


@pytest.mark.parametrize("sizes", [(30, 45), (200, 150), (7, 9)])
def test_ks_agrees_with_scipy(sizes):
    rng = np.random.default_rng(sum(sizes))
    a = rng.normal(20, 2, sizes[0]).round(1)  # rounded: ties inside and across samples
    b = rng.normal(20.8, 2, sizes[1]).round(1)
    ours = stats.ks_test(a, b)
    ref = sps.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    # Uniform weights give the same statistic, and the p-value of scipy's asymptotic method.
    weighted = stats.ks_test(a, b, np.ones(a.size), np.ones(b.size))
    assert weighted.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert weighted.pvalue == pytest.approx(sps.ks_2samp(a, b, method="asymp").pvalue, rel=1e-9)


def test_best_of_k_by_hand():
    # Uniform over {1, 2, 3, 4}; best of 2: P = 7/16, 5/16, 3/16, 1/16 -> mean 30/16, E[X^2] = 70/16.
    result = stats.best_of_k([4.0, 2.0, 1.0, 3.0], ks=[1, 2])
    assert result.mean == pytest.approx([2.5, 30 / 16])
    assert result.std[0] == pytest.approx(np.sqrt(1.25))
    assert result.std[1] == pytest.approx(np.sqrt(70 / 16 - (30 / 16) ** 2))
    assert result.lower[1] == pytest.approx(30 / 16 - 2 * result.std[1])
    assert stats.best_of_k(np.arange(10.0)).k == [1, 2, 4, 8]


def test_best_of_k_weighted_matches_simulation():
    errors = np.array([5.0, 6.0, 7.0, 8.0])
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    exact = stats.best_of_k(errors, ks=[3], weights=weights)
    rng = np.random.default_rng(0)
    sim = errors[rng.choice(4, size=(200_000, 3), p=weights)].min(axis=1)
    assert exact.mean[0] == pytest.approx(sim.mean(), abs=0.01)
    assert exact.std[0] == pytest.approx(sim.std(), abs=0.01)


def test_edf_band_brackets_the_edf():
    rng = np.random.default_rng(1)
    errors = rng.normal(20, 2, 80)
    grid = np.linspace(14, 26, 50)
    lo, hi = stats.edf_band(errors, grid, repeats=400, seed=0)
    f = stats.edf(errors, grid)
    assert np.all(lo <= f + 1e-12) and np.all(f <= hi + 1e-12)
    assert np.all(np.diff(lo) >= -1e-12) and hi.max() <= 1.0 and (hi - lo).max() > 0.05


def test_power_law_and_runtime_model_recover_exact_relations():
    flops = np.geomspace(1e8, 1e10, 20)
    law = power_law(flops, 3.0 * flops ** 0.5)
    assert law.exponent == pytest.approx(0.5) and law.coefficient == pytest.approx(3.0) and law.r2 == pytest.approx(1)
    acts = np.sqrt(flops) * 50 + np.linspace(0, 1e5, 20)
    seconds = 2e-12 * flops + 3e-9 * acts + 0.004
    model = runtime_model(flops, acts, seconds)
    assert (model.a, model.b, model.c) == pytest.approx((2e-12, 3e-9, 0.004), rel=1e-6)
    np.testing.assert_allclose(model.predict(flops, acts), seconds, rtol=1e-9)
    with pytest.raises(DesignspaceError, match="at least 3"):
        runtime_model(flops[:2], acts[:2], seconds[:2])
    with pytest.raises(DesignspaceError):
        power_law([1.0], [2.0])


def test_weighted_ks_statistic_by_hand():
    # F_a jumps 0.9 at 1 and 0.1 at 2; F_b jumps 1 at 1.5: the largest gap is 0.9 just after 1.
    assert stats.ks_statistic([1.0, 2.0], [1.5], weights_a=[0.9, 0.1]) == pytest.approx(0.9)
    assert stats.ks_statistic([1.0, 2.0], [1.5]) == pytest.approx(0.5)


# ---------------------------------------------------------------- faster code paths against the original ones

def _reference_bootstrap_best(x, errors, fraction=0.25, repeats=10_000, level=0.95, seed=0):
    """The bootstrap as first written: one call per parameter, its own draws."""
    m = max(1, int(np.ceil(fraction * errors.size)))
    draws = np.random.default_rng(seed).integers(0, errors.size, size=(repeats, m))
    best = draws[np.arange(repeats), np.argmin(errors[draws], axis=1)]
    alpha = (1.0 - level) / 2.0
    low, med, high = np.quantile(x[best], [alpha, 0.5, 1.0 - alpha])
    return {"median": float(med), "low": float(low), "high": float(high),
            "best_error_median": float(np.median(errors[best])), "repeats": repeats, "sample_size": m}


def _reference_edf_band(errors, at, weights=None, repeats=1000, level=0.95, seed=0):
    """edf_band as first written: counts by np.add.at, one quantile call per bound."""
    e = np.asarray(errors, dtype=np.float64)
    w = np.full(e.size, 1.0 / e.size) if weights is None else np.asarray(weights, float) / np.sum(weights)
    draws = np.random.default_rng(seed).integers(0, e.size, size=(repeats, e.size))
    counts = np.zeros((repeats, e.size))
    np.add.at(counts, (np.repeat(np.arange(repeats), e.size), draws.reshape(-1)), 1.0)
    mass = counts * w[None, :]
    below = (e[:, None] < np.asarray(at, dtype=np.float64)[None, :]).astype(np.float64)
    curves = (mass @ below) / mass.sum(axis=1, keepdims=True)
    alpha = (1.0 - level) / 2.0
    return np.quantile(curves, alpha, axis=0), np.quantile(curves, 1.0 - alpha, axis=0)


def test_bootstrap_columns_equal_one_bootstrap_per_column():
    rng = np.random.default_rng(7)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        errors = np.round(rng.normal(20, 3, n), int(rng.integers(0, 3)))  # rounded: tied errors
        x = rng.uniform(0, 10, n)
        x[rng.random(n) < 0.3] = np.nan  # e.g. w4 of 3-stage models
        columns = {"x": x, "twice": 2 * x, "floor": np.floor(x), "all": np.arange(n, dtype=float),
                   "none": np.full(n, np.nan)}
        repeats, fraction = int(rng.integers(1, 3000)), float(rng.uniform(0.01, 1.0))
        got = stats.bootstrap_best_columns(columns, errors, fraction=fraction, repeats=repeats, seed=trial)
        assert list(got) == [k for k, v in columns.items() if np.isfinite(v).any()]  # "none" is left out
        for name, result in got.items():
            ok = np.isfinite(columns[name])
            expected = _reference_bootstrap_best(columns[name][ok], errors[ok], fraction, repeats, seed=trial)
            assert result.to_dict() == expected, (trial, name)
            assert stats.bootstrap_best(columns[name][ok], errors[ok], fraction, repeats, seed=trial) == result
    with pytest.raises(DesignspaceError):
        stats.bootstrap_best_columns({"x": [1.0, 2.0]}, [1.0])


def test_edf_band_equals_the_original_computation():
    rng = np.random.default_rng(8)
    for trial in range(40):
        n = int(rng.integers(1, 200))
        errors = np.round(rng.normal(20, 3, n), 1)
        weights = rng.random(n) + 0.01 if trial % 2 else None
        at = np.linspace(errors.min() - 1, errors.max() + 1, int(rng.integers(1, 80)))
        repeats = int(rng.integers(1, 400))
        got = stats.edf_band(errors, at, weights, repeats=repeats, seed=trial)
        expected = _reference_edf_band(errors, at, weights, repeats=repeats, seed=trial)
        assert all(np.array_equal(g, e) for g, e in zip(got, expected)), trial
