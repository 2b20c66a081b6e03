"""Calibration: its statistics against hand-computed values, and `designspace calibrate` end to end."""
import dataclasses
import json
import math
import re
import signal

import numpy as np
import pytest
from sweep_helpers import (FASHION, needs_fashion_mnist, start_driver, starts, stopped_at_exit, sweep_yaml, wait_for,
                           write_sweep)

from designspace.analysis import calibration as cal
from designspace.cli import main
from designspace.errors import DesignspaceError
from designspace.results import Status
from designspace.sweep import load_sweep_file
from designspace.sweep.calibrate import (CalibrationConfig, changed_regime, read_calibration, reference_regime,
                                         reference_runs_lacking, stored_reference_runs)
from designspace.sweep.store import Store

# 3 models x 2 seeds. Means 11, 20.5, 31.5; squared deviations from them 2 + 0.5 + 4.5 = 7 over M(S-1) = 3.
REGIME = np.array([[10.0, 12.0], [20.0, 21.0], [30.0, 33.0]])
REFERENCE = np.array([5.0, 9.0, 7.0])  # ranks 1, 3, 2 against the means' 1, 2, 3
SMALL_IMAGES = "zero_init_last_bn: true, augment: false, lr: 0.1"


def test_statistics_equal_hand_computed_values():
    assert cal.seed_noise(REGIME) == pytest.approx(math.sqrt(7 / 3))
    # MSB = S var(means) = 2 * 105.25, MSW = 7/3: ICC = (210.5 - 7/3) / (210.5 + 7/3)
    assert cal.icc1(REGIME) == pytest.approx((210.5 - 7 / 3) / (210.5 + 7 / 3))
    means = REGIME.mean(axis=1)
    assert float(cal.spearman(means, REFERENCE)) == pytest.approx(0.5)          # 1 - 6 * 2 / (3 * 8)
    assert float(cal.kendall(means, REFERENCE)) == pytest.approx(1 / 3)         # 2 concordant, 1 discordant
    assert cal.ks_critical(20, 20) == pytest.approx(1.358102 * math.sqrt(40 / 400), rel=1e-6)
    # One run of a random model: sd = sqrt(105.25 - (7/3)/2 + 7/3); shift = 2 sd Phi^-1((1 + 0.42947) / 2).
    stats = cal.calibration_stats(REGIME, REFERENCE, n_per_space=(20, 20))
    assert stats.detectable_shift == pytest.approx(11.7037, abs=1e-3)
    assert stats.model_spread == pytest.approx(math.sqrt(105.25))
    assert stats.spread_to_noise == pytest.approx(math.sqrt(105.25) / math.sqrt(7 / 3))
    assert (stats.models, stats.seeds) == (3, 2)
    assert stats.verdict.startswith("not a valid proxy") and "rho 0.500 < 0.8" in stats.verdict


def test_repeated_reference_runs_give_their_mean_noise_and_agreement():
    # Two reference seeds: means 5, 9, 7 (the ranking judged against); within-model deviations 1, 1, 2 -> pooled
    # sqrt((2 + 2 + 8) / 3) = 2; seed 1 ranks 1, 3, 2 and seed 2 ranks 1, 3, 2 -> rho 1.
    runs = np.array([[4.0, 6.0], [8.0, 10.0], [5.0, 9.0]])
    stats = cal.calibration_stats(REGIME, runs, n_per_space=(20, 20))
    single = cal.calibration_stats(REGIME, REFERENCE, n_per_space=(20, 20))
    assert stats.spearman.value == single.spearman.value == pytest.approx(0.5)
    assert stats.reference_seeds == 2 and stats.reference_noise == pytest.approx(2.0)
    assert stats.reference_agreement == pytest.approx(1.0)
    # Three seeds ranking 1 2 3, 1 2 3 and 3 2 1: the mean over the three pairs of seeds (rho 1, -1, -1).
    three = np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 2.0], [3.0, 3.0, 1.0]])
    assert cal.calibration_stats(REGIME, three).reference_agreement == pytest.approx(-1 / 3)
    assert single.reference_seeds == 1 and math.isnan(single.reference_noise)
    assert math.isnan(single.reference_agreement)
    # A failing rho is blamed on the reference too only when its own runs agree below the bar.
    # Means 5, 9, 7 again, but seed 1 ranks 2, 3, 1 and seed 2 ranks 1.5, 1.5, 3: rho -1.5 / sqrt(2 * 1.5).
    noisy = cal.calibration_stats(REGIME, np.array([[5.0, 5.0], [13.0, 5.0], [3.0, 11.0]])).verdict
    assert "rho 0.500 < 0.8" in noisy and "the reference's own runs agree with each other only at rho -0.866" in noisy
    assert "reference's own runs" not in stats.verdict and "reference's own runs" not in single.verdict


def test_rank_statistics_match_scipy_with_ties_and_in_batches():
    from scipy import stats as sps

    rng = np.random.default_rng(3)
    a = rng.integers(0, 6, size=(50, 9)).astype(float)  # many ties
    b = a + rng.integers(-2, 3, size=a.shape)
    rho, tau = cal.spearman(a, b), cal.kendall(a, b)
    for i in range(len(a)):
        assert rho[i] == pytest.approx(sps.spearmanr(a[i], b[i])[0], nan_ok=True)
        assert tau[i] == pytest.approx(sps.kendalltau(a[i], b[i])[0], nan_ok=True)


def test_a_regime_that_tracks_the_reference_is_valid_and_intervals_bracket_the_value():
    truth = np.linspace(10, 20, 12)
    rng = np.random.default_rng(0)
    regime = truth[:, None] + 8 + rng.normal(0, 0.3, size=(12, 3))
    stats = cal.calibration_stats(regime, truth + rng.normal(0, 0.2, 12), n_per_space=(30, 30))
    assert stats.spearman.value > 0.9 and stats.icc > 0.95
    assert stats.spearman.low <= stats.spearman.value <= stats.spearman.high
    assert stats.kendall.low <= stats.kendall.value <= stats.kendall.high
    assert stats.verdict.startswith("valid proxy")
    assert stats.seed_noise == pytest.approx(0.3, abs=0.1)
    # More models per space can see smaller shifts.
    assert cal.detectable_shift(1.0, 100, 100) < cal.detectable_shift(1.0, 20, 20)
    assert cal.noise_floor(0.5, 20, 20) == pytest.approx(1.959964 * math.sqrt(math.pi / 2) * 0.5 * math.sqrt(0.1))


def test_too_few_models_or_seeds_are_refused():
    with pytest.raises(ValueError, match="at least 3 models x 2 seeds"):
        cal.calibration_stats(REGIME[:, :1], REFERENCE)
    with pytest.raises(ValueError, match="at least 3 models"):
        cal.calibration_stats(REGIME[:2], REFERENCE[:2])


def tiny_sweep(tmp_path, **kw):
    return write_sweep(tmp_path, sweep_yaml(n=(3, 3), train_subset=8, test_subset=4, **kw))


def test_calibrate_end_to_end_resumes_and_reports(tmp_path, capsys):
    sweep_file = tiny_sweep(tmp_path)
    out = tmp_path / "out"
    argv = ["calibrate", str(sweep_file), "--out", str(out), "--models", "4", "--seeds", "2", "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "seed noise (pooled within-model SD)" in text and "verdict:" in text and "Spearman rho" in text
    assert "the reference's own seed noise" in text and "by space (complete models)" in text
    calibration = read_calibration(out)
    assert len(calibration.models) == 4 and calibration.counts == {"done": 16}  # 2 regime + 2 reference runs each
    assert {m.space for m in calibration.models} == {"anynetx_a", "regnetx"}
    assert all(len(m.regime) == 2 and len(m.references) == 2 and m.complete for m in calibration.models)
    assert all(m.reference == pytest.approx(sum(m.references) / 2) for m in calibration.models)
    assert calibration.settings["reference"]["recipe"]["epochs"] == 4  # 4x the regime's single epoch
    stats = cal.stats_of(calibration)
    errors = np.array([m.regime for m in calibration.models])
    assert stats.seed_noise == pytest.approx(cal.seed_noise(errors))
    assert stats.reference_noise == pytest.approx(cal.seed_noise(np.array([m.references for m in calibration.models])))
    assert stats.n_per_space == (3, 3)
    # The sweep's own models are untouched (pending) and the sweep runs afterwards in the same directory.
    store = Store.open_existing(out, readonly=True)
    assert {r["status"] for r in store.rows("models")} == {Status.PENDING}
    store.close()
    # Running it again trains nothing, and the JSON view carries the same statistics.
    assert main(argv + ["--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["stats"]["seed_noise"] == pytest.approx(stats.seed_noise)
    assert [(s["space"], s["models"]) for s in again["by_space"]] == [("anynetx_a", 2), ("regnetx", 2)]
    run_dirs = list((out / "calibration").glob("*/*"))
    assert len(run_dirs) == 16 and all(len(starts(d)) == 1 for d in run_dirs)
    assert main(["sweep", "run", str(sweep_file), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    report = tmp_path / "r.html"
    assert main(["report", str(out), "--out", str(report), "--bins", "1"]) == 0
    html = report.read_text()
    section = html[html.index('id="calibration"'):html.index('id="edf"')]
    assert "seed noise" in section and "<img" in section
    findings = html[html.index('id="findings"'):html.index('id="calibration"')]
    assert "than what seed noise alone produces" in findings


def test_bad_calibrations_exit_2_and_change_nothing(tmp_path, capsys):
    sweep_file = tiny_sweep(tmp_path)
    out = tmp_path / "out"
    base = ["calibrate", str(sweep_file), "--out", str(out), "--no-progress"]
    for extra, needle in ((["--models", "2"], "at least 3"), (["--seeds", "1"], "at least 2"),
                          (["--reference-seeds", "0"], "--reference-seeds must be at least 1"),
                          (["--reference", "epochs=1"], "not longer"),
                          (["--reference", "epochs=1", "train_subset=8"], "not longer"),
                          (["--reference", "colour=red"], "not a data or recipe field"),
                          (["--reference", "epochs"], "KEY=VALUE"),
                          (["--reference", "epochs=many"], "not a int")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, (extra, err)
    assert not out.exists()
    # A directory holding another sweep is refused, and left as it was.
    other = write_sweep(tmp_path, sweep_yaml(name="other", n=(1, 1), train_subset=8, test_subset=4), name="o.yaml")
    assert main(["sweep", "run", str(other), "--out", str(out), "--no-progress"]) == 0
    before = (out / "results.db").read_bytes()
    capsys.readouterr()
    assert main(base) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert (out / "results.db").read_bytes() == before


def test_a_stored_calibration_grows_to_more_seeds_without_retraining(tmp_path, capsys):
    sweep_file = tiny_sweep(tmp_path)
    out = tmp_path / "out"
    base = ["calibrate", str(sweep_file), "--out", str(out), "--models", "3", "--no-progress"]
    assert main(base + ["--seeds", "2", "--reference-seeds", "1"]) == 0
    first = {(m.space, m.index): m for m in read_calibration(out).models}
    assert read_calibration(out).finished == {"regime": 6, "reference": 3}  # what an estimate leaves out
    assert main(base + ["--seeds", "3", "--reference-seeds", "2"]) == 0
    grown = read_calibration(out)
    assert grown.counts == {"done": 15} and grown.settings["seeds"] == 3 and grown.settings["reference_seeds"] == 2
    for m in grown.models:  # the first runs are kept as they were; each run directory trained once
        assert m.regime[:2] == first[(m.space, m.index)].regime
        assert m.references[:1] == first[(m.space, m.index)].references
    assert all(len(starts(d)) == 1 for d in (out / "calibration").glob("*/*"))
    capsys.readouterr()
    for fewer in (["--seeds", "2"], ["--reference-seeds", "1"]):  # fewer than stored: the stored runs, all of them
        assert main(base + fewer) == 0
        assert "3 models x 3 seeds in the regime, 2 times each in the reference" in capsys.readouterr().out
    assert read_calibration(out).counts == {"done": 15}
    before = (out / "results.db").read_bytes()
    assert main(base + ["--reference", "epochs=3"]) == 2
    assert "reference differ" in capsys.readouterr().err
    assert main(base[:-2] + ["4", "--no-progress"]) == 2  # other models: another experiment
    assert "(models differ: it holds 3 models, this asks for 4)" in capsys.readouterr().err
    assert (out / "results.db").read_bytes() == before


def test_another_regime_of_the_same_models_reuses_the_stored_reference_runs(tmp_path, capsys):
    first = tmp_path / "a"
    assert main(["calibrate", str(tiny_sweep(tmp_path)), "--out", str(first), "--models", "3", "--seeds", "2",
                 "--no-progress"]) == 0
    stored = {(m.space, m.index): m for m in read_calibration(first).models}
    # The same population (seed, spaces, band) in a regime with twice the epochs, against the same reference.
    more = write_sweep(tmp_path, sweep_yaml(name="more", n=(3, 3), epochs=2, train_subset=8, test_subset=4),
                       name="more.yaml")
    out = tmp_path / "b"
    base = ["calibrate", str(more), "--out", str(out), "--models", "3", "--seeds", "2", "--no-progress",
            "--reference", "epochs=4"]
    capsys.readouterr()
    for extra, needle in ((["--reuse-reference", str(tmp_path / "nowhere")], "not a sweep directory"),
                          (["--reuse-reference", str(first), "--reference", "epochs=5"], "recipe.epochs"),
                          (["--reuse-reference", str(first), "--reference", "epochs=4", "lr=0.05"], "recipe.lr")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, (extra, err)
    assert not out.exists()  # refused before anything is written
    # What the demo's estimate counts: every reference run of the first directory's seeds is there to copy.
    copies = stored_reference_runs(str(first), *reference_regime(load_sweep_file(more), {"epochs": "4"}))
    assert [reference_runs_lacking(load_sweep_file(more), CalibrationConfig(models=3, reference_seeds=seeds), copies)
            for seeds in (1, 2, 3)] == [0, 0, 3]
    assert main(base + ["--reuse-reference", str(first)]) == 0
    assert "6 reference runs copied from" in capsys.readouterr().err
    reused = read_calibration(out)
    assert reused.counts == {"done": 12} and reused.regime["recipe"]["epochs"] == 2
    for m in reused.models:  # the same models, the stored reference errors; the regime runs are new
        assert m.references == stored[(m.space, m.index)].references
    assert all(not starts(d) for d in (out / "calibration" / "reference").iterdir())  # copied, not trained
    assert all(len(starts(d)) == 1 for d in (out / "calibration" / "regime").iterdir())
    # Growing it: the new reference runs are not in the first directory, so they train.
    assert main(base + ["--reference-seeds", "3", "--reuse-reference", str(first)]) == 0
    assert "0 reference runs copied" in capsys.readouterr().err
    assert read_calibration(out).counts == {"done": 15}
    # Several directories: their runs together, the first that holds a run giving it.
    regime = reference_regime(load_sweep_file(more), {"epochs": "4"})
    both = stored_reference_runs([str(first), str(out)], *regime)
    assert len(both) == 9 and len(copies) == 6
    assert all(both[key] == path for key, path in copies.items())  # first's own, not out's copies of them
    third = tmp_path / "c"
    assert main(base[:3] + [str(third)] + base[4:] + ["--reference-seeds", "3", "--reuse-reference", str(first),
                                                     "--reuse-reference", str(out)]) == 0
    assert f"9 reference runs copied from {first}, {out}" in capsys.readouterr().err
    assert all(not starts(d) for d in (third / "calibration" / "reference").iterdir())
    assert [m.references for m in read_calibration(third).models] == \
        [m.references for m in read_calibration(out).models]
    # A sweep directory without a calibration has nothing to copy.
    plain = tmp_path / "plain"
    assert main(["sweep", "run", str(more), "--out", str(plain), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(base + ["--reuse-reference", str(plain)]) == 2
    assert "holds no calibration" in capsys.readouterr().err


def test_reference_defaults_and_overrides(tmp_path):
    config = load_sweep_file(tiny_sweep(tmp_path, recipe="warmup_epochs: 0.5"))
    data, recipe = reference_regime(config)
    assert recipe.epochs == 4 * config.recipe.epochs and data.train_subset is None and data.test_subset is None
    data, recipe = reference_regime(config, {"epochs": "3", "synthetic_train": "500", "lr": "0.05"})
    assert (recipe.epochs, data.synthetic_train, recipe.lr) == (3, 500, 0.05)
    assert recipe.warmup_epochs == 0.5 * 3 / config.recipe.epochs
    # A regime with precise BN statistics can be judged against reference runs trained without them.
    precise = load_sweep_file(tiny_sweep(tmp_path, recipe="precise_bn_images: 64"))
    assert precise.recipe.precise_bn_images == 64 and reference_regime(precise)[1].precise_bn_images == 64
    plain = load_sweep_file(tiny_sweep(tmp_path))
    assert reference_regime(precise, {"epochs": "4", "precise_bn_images": "0"})[1].to_dict() == \
        reference_regime(plain, {"epochs": "4"})[1].to_dict()
    # The printed regime line names precise BN only where a regime uses it.
    lines = [cal.describe_regime(c.data.to_dict(), c.recipe.to_dict()) for c in (precise, plain)]
    assert lines[0] == lines[1] + ", precise BN over 64 images" and "precise" not in lines[1]


def test_changed_regime_parses_changes_as_the_fields_types_and_names_the_option(tmp_path):
    config = load_sweep_file(tiny_sweep(tmp_path, recipe="warmup_epochs: 0.5"))
    data, recipe = changed_regime(config.data, config.recipe,
                                  {"train_subset": "all", "lr": "0.05", "augment": "off", "epochs": "3"}, "--variant")
    assert (data.train_subset, recipe.lr, recipe.augment, recipe.epochs) == (None, 0.05, False, 3)
    assert recipe.warmup_epochs == config.recipe.warmup_epochs == 0.5  # only the reference rescales its warmup
    assert dataclasses.replace(data, train_subset=config.data.train_subset) == config.data
    for changes, message in (({"nonsense": "1"}, "--variant nonsense=...: 'nonsense' is not a data or recipe field"),
                             ({"lr": "fast"}, "--variant lr=fast: not a float"),
                             ({"epochs": "0"}, "--variant: recipe: epochs must be an integer >= 1")):
        with pytest.raises(DesignspaceError, match=re.escape(message)):
            changed_regime(config.data, config.recipe, changes, "--variant")


@pytest.mark.slow
def test_a_calibration_killed_midway_resumes_without_repeating_runs(tmp_path):
    sweep_file = write_sweep(tmp_path, sweep_yaml(n=(3, 3), epochs=2, train_subset=30, test_subset=4))
    out = tmp_path / "out"
    cmd = ("calibrate", str(sweep_file), "--out", str(out), "--models", "4", "--seeds", "2", "--reference-seeds", "1",
           "--no-progress")
    with stopped_at_exit(start_driver(sweep_file, out, prefix=(), command=cmd)) as driver:
        def some_done():
            try:
                calibration = read_calibration(out)
            except Exception:  # noqa: BLE001 - the store may not exist yet
                return None
            return calibration if calibration and calibration.counts.get("done", 0) >= 3 else None

        wait_for(some_done, 300, "three finished calibration runs", proc=driver)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    done_before = {(m.space, m.index): m.regime for m in read_calibration(out).models}
    assert main(list(cmd)) == 0
    after = read_calibration(out)
    assert after.counts == {"done": 12} and cal.stats_of(after) is not None
    for m in after.models:  # a run finished before the kill keeps its error
        for before, now in zip(done_before[(m.space, m.index)], m.regime):
            assert math.isnan(before) or before == now
    for run_dir in (out / "calibration").glob("*/*"):
        entries = starts(run_dir)
        assert 1 <= len(entries) <= 2  # a run cut by the kill restarts once, from its checkpoint
        if len(entries) == 2:
            assert entries[1]["checkpoint"] or not entries[0]["checkpoint"]


@needs_fashion_mnist
def test_a_tiny_calibration_on_real_fashion_mnist(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path, sweep_yaml(n=(3, 3), epochs=2, train_subset=40, test_subset=20,
                                                  data="fashion-mnist", recipe=SMALL_IMAGES))
    out = tmp_path / "out"
    assert main(["calibrate", str(sweep_file), "--out", str(out), "--models", "3", "--seeds", "2", "--no-progress",
                 "--reference-seeds", "1", "--reference", "epochs=3", "train_subset=80"]) == 0
    assert "verdict:" in capsys.readouterr().out
    calibration = read_calibration(out)
    assert calibration.counts == {"done": 9} and calibration.regime["data"]["root"] == FASHION
    assert calibration.settings["reference"]["data"]["train_subset"] == 80
    for m in calibration.models:  # real images: better than chance (90%) after a few steps
        assert all(e < 90 for e in m.regime) and m.reference < 90


def test_space_means_show_whether_the_regimes_gap_between_spaces_holds_in_the_reference():
    from designspace.sweep.calibrate import Calibration, CalibrationModel

    def model(space, index, regime, references, status=Status.DONE):
        runs = len(regime) + len(references)
        return CalibrationModel(space, index, 10 ** 6, tuple(regime), tuple(references), (status,) * runs)

    calibration = Calibration(
        sweep="s", sweep_dir="d", settings={"models": 5, "seeds": 2, "reference_seeds": 2, "reference": {}},
        regime={}, n_per_space=(20, 20),
        models=(model("a", 0, [20.0, 22.0], [10.0, 11.0]), model("a", 1, [18.0, 18.0], [9.0, 10.0]),
                model("b", 0, [17.0, 18.0], [10.0, 10.5]), model("b", 1, [16.0, 16.0], [9.5, 9.5]),
                model("b", 2, [1.0, 1.0], [1.0, 1.0], Status.DIVERGED)))  # not complete: left out
    a, b = cal.space_means(calibration)
    assert (a.space, a.models, a.regime, a.reference) == ("a", 2, 19.5, 10.0)        # (21 + 18) / 2, (10.5 + 9.5) / 2
    assert (b.space, b.models, b.regime, b.reference) == ("b", 2, 16.75, 9.875)      # (17.5 + 16) / 2, (10.25 + 9.5) / 2
    lines = cal.format_space_means((a, b))
    assert lines[-1].split() == ["b", "(2)", "16.75", "9.88", "-2.75", "-0.12"]
    assert cal.format_space_means((a,)) == []
