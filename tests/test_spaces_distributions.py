"""Sampled parameters follow their intended distributions (KS tests on large draws)."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from designspace.errors import DesignspaceError
from designspace.spaces import get_space
from designspace.spaces.anynet import pmf, sample_non_decreasing
from designspace.spaces.distributions import (Choice, Fixed, LogUniform, PowerOfTwo, Uniform,
                                              distribution_from_dict)
from designspace.spaces.regnet import paper_distributions


def ks_distance(values, dist) -> float:
    """Discrete KS statistic: max over the support of |ECDF - CDF| (exact CDF of `dist`)."""
    support = dist.support()
    values = np.sort(np.asarray(values, dtype=float))
    ecdf = np.searchsorted(values, support.astype(float) + 1e-9, side="right") / len(values)
    assert set(np.unique(values)).issubset(set(support.astype(float).tolist()))
    return float(np.max(np.abs(ecdf - dist.cdf(support))))


def ks_limit(n: int) -> float:
    return 1.63 / math.sqrt(n)  # alpha = 0.01 (conservative for discrete distributions)


DISTS = [
    LogUniform(1, 16, 1), LogUniform(8, 1024, 8), PowerOfTwo(1, 4), PowerOfTwo(1, 32), PowerOfTwo(0.25, 4),
    Uniform(12, 28, 1), Uniform(1, 63, 1), LogUniform(8, 256, 0.1), LogUniform(1.5, 3, 0.001), Choice([1, 2, 4]),
]


@pytest.mark.parametrize("dist", DISTS, ids=repr)
def test_marginal_matches_distribution(dist):
    n = 40000
    values = dist.sample(np.random.default_rng(7), n)
    assert ks_distance(values, dist) < ks_limit(n)
    assert np.isclose(pmf(dist).sum(), 1.0)


def test_ks_check_can_fail():
    values = LogUniform(8, 1024, 8).sample(np.random.default_rng(0), 20000)
    assert ks_distance(values, Uniform(8, 1024, 8)) > 10 * ks_limit(20000)


def test_supports_and_sizes():
    assert LogUniform(8, 1024, 8).size() == 128
    assert LogUniform(1, 16, 1).size() == 16
    assert PowerOfTwo(1, 32).support().tolist() == [1, 2, 4, 8, 16, 32]
    assert PowerOfTwo(0.25, 4).support().tolist() == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert LogUniform(8, 256, 0.1).support()[:3].tolist() == [8.0, 8.1, 8.2]
    assert Uniform(12, 28).size() == 17
    assert Fixed(3).sample(np.random.default_rng(0), 4).tolist() == [3, 3, 3, 3]
    # uniform means every value equally likely, endpoints included
    assert np.allclose(pmf(Uniform(12, 28)), 1 / 17)


@pytest.mark.parametrize("make", [lambda: LogUniform(9, 15, 8), lambda: Uniform(5, 1), lambda: PowerOfTwo(3, 3.5),
                                  lambda: LogUniform(0, 8, 1), lambda: Choice([]),
                                  lambda: distribution_from_dict({"dist": "gauss"}),
                                  lambda: distribution_from_dict({"dist": "uniform", "low": 1, "hi": 3})])
def test_bad_ranges_are_user_errors(make):
    with pytest.raises(DesignspaceError):
        make()


def test_non_decreasing_sampler_is_the_exact_conditional():
    dist = LogUniform(1, 4, 1)  # non-uniform pmf
    p = dict(zip(dist.support().tolist(), pmf(dist)))
    rows = sample_non_decreasing(dist, np.random.default_rng(3).random((60000, 3)))
    assert np.all(np.diff(rows, axis=1) >= 0)
    tuples = [t for t in itertools.product(p, repeat=3) if list(t) == sorted(t)]
    weights = np.array([p[a] * p[b] * p[c] for a, b, c in tuples])
    expected = weights / weights.sum() * len(rows)
    counts = {t: 0 for t in tuples}
    for r in map(tuple, rows.tolist()):
        counts[r] += 1
    observed = np.array([counts[t] for t in tuples])
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # and a sorted i.i.d. draw (the tempting shortcut) is a different distribution
    sorted_iid = np.sort(dist.sample(np.random.default_rng(4), 60000 * 3).reshape(-1, 3), axis=1)
    c2 = {t: 0 for t in tuples}
    for r in map(tuple, sorted_iid.tolist()):
        c2[r] += 1
    assert stats.chisquare(np.array([c2[t] for t in tuples]), expected).pvalue < 1e-6


def test_anynetx_a_sample_marginals():
    space = get_space("anynetx_a")
    samples = space.sample(4000, seed=11)  # unconstrained: no band
    n = len(samples)
    for key, dist in (("depths", LogUniform(1, 16, 1)), ("widths", LogUniform(8, 1024, 8)),
                      ("bottleneck_ratios", PowerOfTwo(1, 4)), ("group_widths", PowerOfTwo(1, 32))):
        for stage in range(4):
            values = [s.values[key][stage] for s in samples]
            assert ks_distance(values, dist) < ks_limit(n), (key, stage)


def test_shared_parameter_marginal():
    samples = get_space("anynetx_c").sample(3000, seed=5)
    b = [s.values["bottleneck_ratios"][0] for s in samples]
    g = [s.values["group_widths"][0] for s in samples]
    assert ks_distance(b, PowerOfTwo(1, 4)) < ks_limit(len(b))
    assert ks_distance(g, PowerOfTwo(1, 32)) < ks_limit(len(g))


def test_regnet_raw_parameter_marginals():
    # the raw draws of the RegNet space (before the 4-stage rejection) follow the paper's ranges
    rng = np.random.default_rng(2)
    for name, dist in paper_distributions().items():
        values = dist.sample(rng, 30000)
        assert ks_distance(values, dist) < ks_limit(30000), name
