"""Is a cheap training regime a valid proxy? Statistics of a calibration, on plain arrays.

    >>> import numpy as np
    >>> from designspace.analysis.calibration import calibration_stats
    >>> regime = np.array([[20.1, 20.5, 19.9], [25.0, 24.2, 24.9], [30.2, 29.8, 30.6]])   # models x seeds
    >>> stats = calibration_stats(regime, reference=np.array([12.0, 15.5, 19.0]), n_per_space=(20, 20))
    >>> round(stats.seed_noise, 3), round(stats.spearman.value, 3)
    (0.384, 1.0)

A calibration trains M models S times each in the regime (different training seeds) and R times
in a longer reference regime; the reference ranking is the models' mean reference error. The
regime measures architecture, not noise, when

- the seed noise (pooled within-model standard deviation) is small next to the spread between
  models: the intraclass correlation ICC(1) is high;
- the ranking of the models by their mean regime error agrees with their ranking by reference
  error: Spearman's rho and Kendall's tau are high (intervals: bootstrap over models).

With R >= 2 the reference's own seed noise, and the agreement of its seeds with each other
(mean Spearman rho over pairs of reference seeds), say how far a single reference run is from
the ranking it stands for: no regime can be expected to agree with one reference run better
than another reference run does.

The detectable shift answers "how large a difference between two spaces can a sweep of this
size see": the location shift of a normal error distribution (variance of one run of a random
model) at which the population KS distance equals the 5% critical value of the two-sample KS
test, c(0.05) * sqrt((n1 + n2) / (n1 * n2)) with c(0.05) = sqrt(-ln(0.025) / 2) = 1.358.
A smaller difference is rejected less than half the time.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import DesignspaceError

# The verdict's thresholds: rank agreement with the reference, and the share of the variance that is the model's.
MIN_RHO = 0.8
MIN_ICC = 0.75
# A median difference from seed noise alone stays within this many standard errors 95% of the time.
Z_95 = 1.959964
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)  # the median's standard error over the mean's, for normal data


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class CalibrationStats:
    models: int                 # models with every regime run and the reference run finished
    seeds: int
    seed_noise: float           # pooled within-model standard deviation of the error, in points
    model_spread: float         # standard deviation of the models' mean regime errors, in points
    spread_to_noise: float
    icc: float                  # ICC(1): share of a single run's variance that belongs to the model
    spearman: Interval
    kendall: Interval
    reference_seeds: int
    reference_noise: float      # pooled within-model SD of the reference runs (NaN with one reference seed)
    reference_agreement: float  # mean Spearman rho between pairs of reference seeds (NaN with one)
    n_per_space: tuple
    ks_critical: float          # the KS statistic a sweep of n_per_space needs to reject at 5%
    detectable_shift: float     # the smallest location shift of the error EDF that reaches it, in points
    verdict: str

    def to_dict(self) -> dict:
        return asdict(self)


def seed_noise(errors: np.ndarray) -> float:
    """Pooled within-model standard deviation: sqrt(sum of squared deviations from each model's mean / (M (S-1)))."""
    e = _matrix(errors)
    deviations = e - e.mean(axis=1, keepdims=True)
    return float(math.sqrt((deviations ** 2).sum() / (e.shape[0] * (e.shape[1] - 1))))


def icc1(errors: np.ndarray) -> float:
    """One-way random-effects ICC(1) = (MSB - MSW) / (MSB + (S-1) MSW)."""
    e = _matrix(errors)
    models, seeds = e.shape
    msb = seeds * float(np.var(e.mean(axis=1), ddof=1))
    msw = seed_noise(e) ** 2
    denominator = msb + (seeds - 1) * msw
    return float((msb - msw) / denominator) if denominator > 0 else float("nan")


def spearman(a, b) -> np.ndarray:
    """Spearman's rho along the last axis (Pearson correlation of average ranks); NaN where a side is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=-1), rankdata(b, axis=-1)
    ra = ra - ra.mean(axis=-1, keepdims=True)
    rb = rb - rb.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(-1) * (rb ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(-1) / denominator, np.nan)


def kendall(a, b) -> np.ndarray:
    """Kendall's tau-b along the last axis (ties counted as in scipy.stats.kendalltau); NaN where a side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    i, j = np.triu_indices(a.shape[-1], k=1)
    da, db = np.sign(a[..., j] - a[..., i]), np.sign(b[..., j] - b[..., i])
    concordance = (da * db).sum(-1)
    denominator = np.sqrt((da != 0).sum(-1) * (db != 0).sum(-1).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, concordance / denominator, np.nan)


def bootstrap_interval(statistic, a, b, repeats: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """statistic(a, b) with a percentile interval from resampling the models with replacement."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    draws = np.random.default_rng(seed).integers(0, a.size, size=(repeats, a.size))
    values = statistic(a[draws], b[draws])
    alpha = (1.0 - level) / 2.0
    low, high = np.nanquantile(values, [alpha, 1.0 - alpha]) if np.isfinite(values).any() else (np.nan, np.nan)
    return Interval(float(statistic(a, b)), float(low), float(high))


def ks_critical(n1: int, n2: int, alpha: float = 0.05) -> float:
    """The asymptotic two-sample KS critical value c(alpha) * sqrt((n1 + n2) / (n1 * n2))."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n1 + n2) / (n1 * n2))


def detectable_shift(single_run_sd: float, n1: int, n2: int, alpha: float = 0.05) -> float:
    """The location shift d of a normal(0, sd) whose KS distance 2 Phi(d / 2sd) - 1 equals the critical value."""
    from scipy.stats import norm

    critical = ks_critical(n1, n2, alpha)
    if critical >= 1:
        return float("inf")  # so few models that no shift can be detected
    return float(2 * single_run_sd * norm.ppf((1 + critical) / 2))


def noise_floor(seed_noise_sd: float, n1: int, n2: int) -> float:
    """How far apart two spaces' median errors can land from seed noise alone (95%), in points."""
    return Z_95 * MEDIAN_EFFICIENCY * seed_noise_sd * math.sqrt(1 / n1 + 1 / n2)


def verdict(rho: float, icc: float, models: int, reference_agreement: float = float("nan")) -> str:
    """One line: is the regime a valid proxy, judged by MIN_RHO and MIN_ICC. When the reference's own runs
    rank the models no better than MIN_RHO, a low rho may be the reference's noise, and the line says so."""
    if not (math.isfinite(rho) and math.isfinite(icc)):
        return "no verdict: the models' errors do not vary, so there is nothing to rank"
    ranks = f"Spearman rho {rho:.3f} {'>=' if rho >= MIN_RHO else '<'} {MIN_RHO}"  # 3 places: 0.797 is not 0.8
    share = f"ICC {icc:.3f} {'>=' if icc >= MIN_ICC else '<'} {MIN_ICC}"
    if rho >= MIN_RHO and icc >= MIN_ICC:
        return f"valid proxy on {models} models: it ranks them as the reference does ({ranks}) and the model, " \
               f"not the seed, sets the error ({share})"
    failed = [text for ok, text in ((rho >= MIN_RHO, ranks), (icc >= MIN_ICC, share)) if not ok]
    if rho < MIN_RHO and reference_agreement < MIN_RHO:
        failed.append(f"but the reference's own runs agree with each other only at rho {reference_agreement:.3f}: "
                      "more models or --reference-seeds would tell the regime's error from the reference's")
    return f"not a valid proxy on {models} models: {'; '.join(failed)}"


def calibration_stats(regime, reference, n_per_space=(20, 20), repeats: int = 2000, seed: int = 0) -> CalibrationStats:
    """The calibration's statistics from regime errors (models x seeds) and reference errors (models, or
    models x reference seeds)."""
    e = _matrix(regime)
    runs = np.asarray(reference, dtype=np.float64)
    runs = runs.reshape(-1, 1) if runs.ndim == 1 else runs
    if runs.ndim != 2 or runs.shape[0] != e.shape[0] or runs.shape[1] < 1 or not np.isfinite(runs).all():
        raise DesignspaceError(f"calibration: {e.shape[0]} models need {e.shape[0]} finite reference errors each")
    ref = runs.mean(axis=1)
    repeated = runs.shape[1] >= 2
    pairs = [(i, j) for i in range(runs.shape[1]) for j in range(i + 1, runs.shape[1])]
    means = e.mean(axis=1)
    noise = seed_noise(e)
    spread = float(np.std(means, ddof=1))
    icc = icc1(e)
    # The variance of one run of a randomly drawn model: between-model variance plus seed noise.
    between = max(spread ** 2 - noise ** 2 / e.shape[1], 0.0)
    n1, n2 = (int(n) for n in n_per_space)
    rho = bootstrap_interval(spearman, means, ref, repeats, seed=seed)
    tau = bootstrap_interval(kendall, means, ref, repeats, seed=seed)
    agreement = float(np.mean([spearman(runs[:, i], runs[:, j]) for i, j in pairs])) if repeated else float("nan")
    return CalibrationStats(
        models=int(e.shape[0]), seeds=int(e.shape[1]), seed_noise=noise, model_spread=spread,
        spread_to_noise=spread / noise if noise > 0 else float("inf"), icc=icc, spearman=rho, kendall=tau,
        reference_seeds=int(runs.shape[1]), reference_noise=seed_noise(runs) if repeated else float("nan"),
        reference_agreement=agreement,
        n_per_space=(n1, n2), ks_critical=ks_critical(n1, n2),
        detectable_shift=detectable_shift(math.sqrt(between + noise ** 2), n1, n2),
        verdict=verdict(rho.value, icc, int(e.shape[0]), agreement))


def _matrix(errors) -> np.ndarray:
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 3 or e.shape[1] < 2:
        raise DesignspaceError(f"calibration: need errors of at least 3 models x 2 seeds, got shape {e.shape}")
    if not np.isfinite(e).all():
        raise DesignspaceError("calibration: regime errors must be finite numbers")
    return e


# ---------------------------------------------------------------- a stored calibration (designspace.sweep.calibrate)

def stats_of(calibration) -> CalibrationStats | None:
    """The statistics of a Calibration's complete models; None while fewer than 3 are complete."""
    complete = calibration.complete
    if len(complete) < 3:
        return None
    return calibration_stats(np.array([m.regime for m in complete]), np.array([m.references for m in complete]),
                             n_per_space=calibration.n_per_space)


@dataclass(frozen=True)
class SpaceMeans:
    """One space's mean error over its complete calibration models, in the regime and in the reference."""
    space: str
    models: int
    regime: float
    reference: float


def space_means(calibration) -> tuple:
    """Per space, in calibration order: do the regime's differences between spaces hold after longer training?

    A regime can rank models well overall and still be biased against one kind of model (short training
    under-rates slow starters), which moves a whole space's EDF; this shows it on the same models.
    """
    by_space: dict = {}
    for m in calibration.complete:
        by_space.setdefault(m.space, []).append(m)
    return tuple(SpaceMeans(space, len(ms), float(np.mean([np.mean(m.regime) for m in ms])),
                            float(np.mean([m.reference for m in ms]))) for space, ms in by_space.items())


def calibration_json(calibration) -> dict:
    """A Calibration and its statistics as plain JSON."""
    stats = stats_of(calibration)
    return {**calibration.to_dict(), "stats": None if stats is None else stats.to_dict(),
            "by_space": [asdict(s) for s in space_means(calibration)]}


def describe_regime(data: dict, recipe: dict) -> str:
    subset = data.get("train_subset")
    images = f"first {subset:,} images per class" if subset else "the full training set"
    epochs = f"{recipe['epochs']} epoch{'s' if recipe['epochs'] != 1 else ''}"
    precise = f", precise BN over {recipe['precise_bn_images']:,} images" if recipe.get("precise_bn_images") else ""
    every = recipe.get("test_every", 1)
    tests = f", tested every {every} epochs and after the last" if 1 < every < recipe["epochs"] else \
        ", tested after the last epoch only" if every >= recipe["epochs"] > 1 else ""
    return f"{epochs} on {images} of {data['name']}, batch {recipe['batch_size']}, lr {recipe['lr']:g}{precise}{tests}"


def format_calibration(calibration) -> str:
    """The terminal view: the runs per model, the statistics, the verdict."""
    reference = calibration.settings["reference"]
    repeats = calibration.settings["reference_seeds"]
    runs = "once each" if repeats == 1 else f"{repeats} times each"
    lines = [f"calibration of {calibration.sweep!r} in {calibration.sweep_dir}: {len(calibration.models)} models x "
             f"{calibration.settings['seeds']} seeds in the regime, {runs} in the reference",
             f"  regime:    {describe_regime(calibration.regime['data'], calibration.regime['recipe'])}",
             f"  reference: {describe_regime(reference['data'], reference['recipe'])}",
             f"  runs: {', '.join(f'{n} {s}' for s, n in sorted(calibration.counts.items()))}", "",
             f"  {'model':18s} {'flops':>7s}  {'regime error per seed':>26s} {'mean':>6s}"
             + (f" {'reference per seed':>20s}" if repeats > 1 else "") + f" {'reference':>9s}"]
    for m in calibration.models:
        mean = _error(float(np.mean(m.regime))) if m.complete else "-"
        per_seed = f" {' '.join(_error(e) for e in m.references):>20s}" if repeats > 1 else ""
        lines.append(f"  {m.space + ' #' + str(m.index):18s} {m.flops / 1e6:6.2f}M  "
                     f"{' '.join(_error(e) for e in m.regime):>26s} {mean:>6s}{per_seed} {_error(m.reference):>9s}")
    s = stats_of(calibration)
    if s is None:
        return "\n".join(lines + ["", "  statistics: need at least 3 models with every run done; rerun the same "
                                       "command to continue"])
    n1, n2 = s.n_per_space
    against = "vs reference" if s.reference_seeds == 1 else "vs mean reference"
    lines += ["",
              f"  seed noise (pooled within-model SD):      {s.seed_noise:.2f} points of test error",
              f"  spread between models (SD of the means):  {s.model_spread:.2f} points",
              f"  spread / noise: {s.spread_to_noise:.2f};  ICC(1): {s.icc:.3f}",
              f"  Spearman rho {against}: {s.spearman}  (95% bootstrap interval over models)",
              f"  Kendall tau {against}:  {s.kendall}"]
    if s.reference_seeds > 1:
        lines.append(f"  the reference's own seed noise: {s.reference_noise:.2f} points; its seeds agree with each "
                     f"other at Spearman rho {s.reference_agreement:.3f}")
    lines += [f"  smallest EDF shift detectable at 5% with {n1} and {n2} models per space: {s.detectable_shift:.2f} "
              f"points (KS critical D {s.ks_critical:.3f})",
              f"  verdict: {s.verdict}"]
    if s.models < len(calibration.models):
        lines.append(f"  ({len(calibration.models) - s.models} model(s) left out: a run not done yet, or "
                     "diverged / oom / failed)")
    return "\n".join(lines + format_space_means(space_means(calibration)))


def format_space_means(spaces: tuple) -> list:
    """Each space's mean error in the regime and the reference, and its difference to the first space in both."""
    if len(spaces) < 2:
        return []
    first = spaces[0]
    lines = ["", f"  by space (complete models)  {'regime mean':>11s} {'reference mean':>14s}   "
                 f"vs {first.space}: {'regime':>6s} {'reference':>9s}"]
    for s in spaces:
        gaps = ("", "") if s is first else (f"{s.regime - first.regime:+.2f}", f"{s.reference - first.reference:+.2f}")
        lines.append(f"  {s.space + f' ({s.models})':27s} {s.regime:11.2f} {s.reference:14.2f}   "
                     f"{'':>{len(first.space) + 5}s}{gaps[0]:>6s} {gaps[1]:>9s}".rstrip())
    return lines


def _error(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.2f}"
