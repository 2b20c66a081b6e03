"""The main job: `designspace demo` end to end (small), interrupted with SIGKILL and resumed."""
import dataclasses
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sweep_helpers import needs_fashion_mnist

from designspace.demo import (ALL_SPACES, ALL_STUDY_PAIRS, PRESETS, SPACES, demo_command, demo_config,
                             estimate_compute, format_estimate, split_sizes, study_pairs)
from designspace.train import Recipe

DEFAULT_SPACES = ("anynetx_e", "regnetx")  # the fashion-mnist preset's: without AnyNetX_A's slow starters


def test_every_preset_is_a_valid_sweep():
    for preset in PRESETS:
        config = demo_config(preset, data_dir="/nonexistent")
        assert [s.name for s in config.spaces] == list(PRESETS[preset]["spaces"])
        assert config.recipe.epochs >= 1
        assert [s.name for s in demo_config(preset, all_spaces=True).spaces] == list(ALL_SPACES)
    assert [(s.name, s.n) for s in demo_config("fashion-mnist").spaces] == [(name, 20) for name in DEFAULT_SPACES]
    for preset, n in (("fashion-mnist-4x", 20), ("cifar10", 100), ("imagenet", 500)):
        assert [(s.name, s.n) for s in demo_config(preset).spaces] == [(name, n) for name in SPACES]
    assert demo_config("imagenet").spaces[0].flops == (360_000_000, 400_000_000)
    # The default trains 4 epochs on 8,000 images and tests once, on all 10,000 test images; the 4x preset 2 epochs
    # on 4x the images, tested after each on 5,000, over AnyNetX_A too: another regime of the same population, both
    # with precise BN statistics.
    small, large = demo_config("fashion-mnist"), demo_config("fashion-mnist-4x")
    assert large.data.train_subset == 4 * small.data.train_subset
    assert (small.data.test_subset, large.data.test_subset) == (None, 500)
    assert dataclasses.replace(large.data, train_subset=small.data.train_subset, test_subset=None) == small.data
    assert (small.recipe.epochs, small.recipe.tested_epochs, large.recipe.epochs, large.recipe.tested_epochs) == \
        (4, 1, 2, 2)
    assert small.recipe.precise_bn_images == large.recipe.precise_bn_images == 2048
    assert dataclasses.replace(large.recipe, epochs=4, test_every=4) == small.recipe
    assert (large.spaces[0].flops, large.seed) == (small.spaces[0].flops, small.seed)
    assert {s for pair in ALL_STUDY_PAIRS for s in pair} <= set(ALL_SPACES)


def test_the_spaces_and_their_comparisons():
    from designspace.sweep.driver import sample_rows

    assert study_pairs(DEFAULT_SPACES) == (("anynetx_e", "regnetx"),)
    assert study_pairs(SPACES) == (("anynetx_a", "anynetx_e"), ("anynetx_a", "regnetx"))
    assert study_pairs(ALL_SPACES) == ALL_STUDY_PAIRS
    # --spaces: names as the user writes them, in their order; the sweep directory says which.
    chosen = demo_config("fashion-mnist", spaces=["AnyNetX-A", "anynetx_e", "regnetx", "anynetx_e"])
    assert [s.name for s in chosen.spaces] == list(SPACES)
    assert chosen.name == "demo-fashion-mnist-anynetx_a-anynetx_e-regnetx"
    assert demo_config("fashion-mnist", spaces=list(DEFAULT_SPACES)).name == "demo-fashion-mnist"
    assert demo_config("fashion-mnist", all_spaces=True).name == "demo-fashion-mnist-all"
    # The command a summary names to calibrate the sweep it ran.
    assert demo_command("fashion-mnist", chosen) == "designspace demo --preset fashion-mnist --spaces " \
                                                   "anynetx_a,anynetx_e,regnetx"
    assert demo_command("fashion-mnist", demo_config("fashion-mnist")) == "designspace demo --preset fashion-mnist"
    assert demo_command("cifar10", demo_config("cifar10", all_spaces=True)).endswith("--preset cifar10 --all-spaces")
    # A space's models do not depend on which others run or on n beyond their own: the 4x preset's AnyNetX_E
    # and RegNetX models are the default's, so calibrations of both share reference runs.
    small = {(r["space"], r["index"]): r["spec"] for r in sample_rows(demo_config("fashion-mnist"))}
    large = {(r["space"], r["index"]): r["spec"] for r in sample_rows(demo_config("fashion-mnist-4x"))}
    shared = [key for key in large if key[0] in DEFAULT_SPACES]
    assert len(shared) == 40 and all(large[key] == small[key] for key in shared)


def test_the_calibration_a_preset_runs_and_the_command_that_names_it():
    from designspace.demo import calibration_settings
    from designspace.sweep.calibrate import CalibrationConfig, reference_regime

    # Fashion-MNIST: 24 models x 3 seeds against 3 reference runs of 4 epochs on the full set, unless told otherwise;
    # a --reference change is laid over the preset's.
    settings, reference = calibration_settings("fashion-mnist")
    assert (settings.models, settings.seeds, settings.reference_seeds) == (24, 3, 3)
    preset_reference = {"epochs": 4, "warmup_epochs": 0.4, "precise_bn_images": 0, "test_every": 1}
    assert reference == preset_reference
    settings, reference = calibration_settings("fashion-mnist", models=12, reference_seeds=2, reference={"epochs": 8})
    assert (settings.models, settings.seeds, settings.reference_seeds) == (12, 3, 2)
    assert reference == {**preset_reference, "epochs": 8}
    # A preset without a calibration of its own gets the general defaults (4x the epochs, full data), and so does
    # synthetic data, which has no subset for the preset's 4-epoch reference to grow from.
    assert calibration_settings("cifar10") == (CalibrationConfig(), {})
    assert calibration_settings("fashion-mnist", synthetic=True)[1] == {}
    # Both Fashion-MNIST presets are judged against one reference, so their reference runs can be reused.
    small, large = (reference_regime(demo_config(p), calibration_settings(p)[1]) for p in ("fashion-mnist",
                                                                                          "fashion-mnist-4x"))
    assert small == large and small[1].epochs == 4 and small[0].train_subset is None
    # ...the one the demo's earlier regimes were judged against: tested every epoch, warmup 0.4 epochs.
    assert (small[1].test_every, small[1].warmup_epochs, small[1].precise_bn_images) == (1, 0.4, 0)
    assert small[1] == Recipe.from_dict({"regime": "small-images", "epochs": 4, "batch_size": 64, "channels_last": "on",
                                         "warmup_epochs": 0.4})
    # The command the summary names makes the same sweep: every flag that changes it, and no other.
    config = demo_config("fashion-mnist", n=4, epochs=1, seed=1)
    assert config.name == "demo-fashion-mnist-seed1"
    assert demo_command("fashion-mnist", config, "runs/demo-fashion-mnist-seed1") == \
        "designspace demo --preset fashion-mnist --n 4 --epochs 1 --seed 1"
    assert demo_command("fashion-mnist", demo_config("fashion-mnist"), "runs/quick") == \
        "designspace demo --preset fashion-mnist --out runs/quick"
    assert demo_command("cifar10", demo_config("cifar10", synthetic=True)) == \
        "designspace demo --preset cifar10 --synthetic"


def test_demo_calibrate_passes_the_presets_calibration_to_calibrate(monkeypatch, tmp_path):
    import designspace.sweep.calibrate as calibrate_module
    from designspace.demo import run_demo_calibration

    seen = {}

    def recording_run(setup, progress=True, **_):
        seen["setup"] = setup
        raise KeyboardInterrupt  # stop before anything trains

    monkeypatch.setattr(calibrate_module, "run_calibration", recording_run)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_demo_calibration(out=tmp_path / "cal", seed=1, reference={"lr": "0.1"}, echo=lines.append)
    setup = seen["setup"]
    assert (setup.counts.models, setup.counts.seeds, setup.counts.reference_seeds) == (24, 3, 3)
    # The preset's reference with the user's change laid over it: 4 epochs of all 60,000 images.
    recipe = setup.reference_recipe
    assert (recipe.epochs, recipe.warmup_epochs, recipe.precise_bn_images, recipe.test_every, recipe.lr) == \
        (4, 0.4, 0, 1, 0.1)
    assert setup.reference_data.train_subset is None and setup.passes == {"regime": 32_000, "reference": 240_000}
    assert setup.config.seed == 1 and setup.config.name == "demo-fashion-mnist-seed1"
    assert setup.sweep_dir == str(tmp_path / "cal") and setup.sources == () and setup.reference_runs_to_train() == 72
    assert lines[0].startswith("designspace demo --calibrate: 24 models, each 3 times in the demo's regime and 3 "
                               "times in the reference (4 epochs on the full set); 144 runs to train")


def test_demo_calibrate_refuses_a_stored_calibration_of_other_models_before_its_estimate(monkeypatch, tmp_path):
    import types

    import designspace.sweep.calibrate as calibrate_module
    from designspace.demo import run_demo_calibration
    from designspace.errors import DesignspaceError

    out = tmp_path / "cal"
    out.mkdir()
    (out / "results.db").write_bytes(b"")  # read_calibration is replaced below: a 12-model calibration
    stored = types.SimpleNamespace(settings={"models": 12, "seeds": 3, "reference_seeds": 3, "reference": {}},
                                   finished={"regime": 36, "reference": 36})
    monkeypatch.setattr(calibrate_module, "read_calibration", lambda sweep_dir: stored)
    lines = []
    with pytest.raises(DesignspaceError, match="it holds 12 models, this asks for 24"):
        run_demo_calibration(out=out, echo=lines.append)
    assert lines == []  # no estimate of runs it would not train


def test_bad_spaces_are_one_line(run_cli, tmp_path):
    out = tmp_path / "demo"
    for spaces, needle in (("anynetx_e,regnetz", "unknown design space 'regnetz'; did you mean"),
                           ("regnetx", "a comparison needs at least two spaces"),
                           ("regnetx,RegNetX", "a comparison needs at least two spaces")):
        rc, stdout, err = run_cli("demo", "--synthetic", "--spaces", spaces, "--out", out, "--no-progress")
        assert rc == 2 and needle in err and err.count("\n") == 1 and stdout == "", (spaces, err)
    assert not out.exists()


def test_compute_estimate_by_hand():
    est = estimate_compute(demo_config("imagenet"), "imagenet")
    assert est["models"] == 1500 and est["epochs"] == 10
    passes = 1500 * 10 * (1_281_167 + 50_000 / 3)
    assert est["image_passes"] == pytest.approx(passes)
    assert est["multiply_adds"] == pytest.approx(passes * 3 * 380e6)
    config = demo_config("fashion-mnist", n=2)
    small = estimate_compute(config, "fashion-mnist")
    per_class = PRESETS["fashion-mnist"]["data"]["train_subset"]
    assert (small["models"], small["train_images"]) == (4, 10 * per_class)  # 2 spaces x 2
    assert small["test_images"] == split_sizes(config.data)[1]
    # The default trains 4 epochs and tests once, after precise BN statistics over 2,048 images (32 batches of 64).
    assert (small["epochs"], small["tested_epochs"], small["precise_bn_images"]) == (4, 1, 2048)
    assert small["image_passes"] == pytest.approx(4 * (4 * 10 * per_class + (2048 + 10_000) / 3))
    assert "4 models x (4 epochs x 8,000 train + 1 test x (2,048 precise-BN + 10,000 test images))" in \
        format_estimate(small)
    assert "precise-BN" not in format_estimate(estimate_compute(demo_config("cifar10"), "cifar10"))
    # The 4x preset's runs are tested after each of their 2 epochs, after precise BN statistics.
    large = estimate_compute(demo_config("fashion-mnist-4x"), "fashion-mnist-4x")
    assert large["precise_bn_images"] == 2048
    assert large["image_passes"] == pytest.approx(60 * 2 * (32_000 + (2048 + 5000) / 3))
    assert "(32,000 train + 2,048 precise-BN + 5,000 test images)" in format_estimate(large)


def test_missing_data_is_one_line_and_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "demo"
    rc, _, err = run_cli("demo", "--preset", "cifar10", "--data-dir", tmp_path / "nope", "--out", out, "--no-progress")
    assert rc == 2 and "cifar10 not found" in err and err.count("\n") == 1
    assert not out.exists()


def test_a_calibration_that_reuses_no_calibration_is_one_line_and_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "demo"
    rc, stdout, err = run_cli("demo", "--synthetic", "--calibrate", "--reuse-reference", tmp_path / "nowhere",
                              "--out", out, "--no-progress")
    assert rc == 2 and "not a sweep directory" in err and err.count("\n") == 1 and stdout == "", err
    assert not out.exists()


def _done(db):
    """(space, index) of the models the store holds as done."""
    if not os.path.exists(db):
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return set(con.execute("select space, idx from models where status = 'done'").fetchall())
    except sqlite3.Error:
        return set()


@pytest.mark.slow
@needs_fashion_mnist
def test_demo_small_killed_and_resumed(tmp_path):
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "designspace", "demo", "--n", "3", "--epochs", "1", "--out", str(out), "--no-progress"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    db = out / "results.db"
    deadline = time.time() + 300
    while len(_done(db)) < 3 and time.time() < deadline and first.poll() is None:
        time.sleep(0.5)
    assert first.poll() is None, "the demo finished before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = _done(db)
    total = 3 * len(DEFAULT_SPACES)  # 6 models, as many as before the default lost AnyNetX_A
    assert 3 <= len(done_before) < total

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    from designspace.sweep import read_results

    frame = read_results(out)
    assert len(frame) == total and set(frame["status"]) == {"done"}
    assert sorted(frame["space"].unique()) == sorted(DEFAULT_SPACES)
    assert frame["best_error"].between(0, 100).all()
    # No finished result lost, none trained again; only the (at most 2) models in flight at the kill restart.
    starts = {(s, i): len((out / "runs" / s / str(i) / "starts.jsonl").read_text().splitlines())
              for s, i in zip(frame["space"], frame["index"])}
    assert all(starts[key] == 1 for key in done_before)
    assert sum(starts.values()) <= total + 2

    report = (out / "report.html").read_text()
    assert all(space in report for space in DEFAULT_SPACES) and "http://" not in report and "https://" not in report
    text = second.stdout
    assert f"report: {out / 'report.html'}" in text
    for space in DEFAULT_SPACES:
        assert any(line.startswith(space) for line in text.splitlines())
    for ref, other in study_pairs(DEFAULT_SPACES):
        assert f"{other} (3 finished models) vs {ref} (3)" in text
    assert "KS" in text and "best d [95% CI]" in text and "best wm [95% CI]" in text


@pytest.mark.slow
@needs_fashion_mnist
def test_no_sampled_model_ends_near_chance_in_the_demo_regime(tmp_path):
    """Three models of each of the six spaces, in the demo's regime on real Fashion-MNIST: all train."""
    from designspace.sweep import read_results, run_sweep

    config = demo_config("fashion-mnist", n=3, all_spaces=True)
    run_sweep(config, tmp_path / "sweep", progress=False)
    frame = read_results(tmp_path / "sweep")
    assert len(frame) == 18 and set(frame.status) == {"done"}
    assert frame.best_error.max() < 40, frame[["space", "index", "best_error"]]  # chance is 90%


@pytest.mark.slow
@needs_fashion_mnist
def test_a_run_on_another_thread_count_lands_within_the_seed_noise(tmp_path):
    """Other floating-point sums (as on another machine): the same sampled models, errors within the seed noise.

    Two models of each space, each trained from its seed with 1 thread (as a sweep, two at a time) and with 2
    threads. If the thread count changes a run as much as another seed would, the root mean square of the 6
    differences over sqrt(2) estimates the seed noise. The bound is 2.5 times 0.83 points, the former 2-epoch
    regime's seed noise over 36 models of these spaces (docs/regime.md 4.6); today's 4-epoch regime measured 0.42
    over 48 of AnyNetX_E and RegNetX (4.12).
    One model alone says little: the first one, a slow starter (widths 16, 8, 192, 8), spread over 19.3-22.6%
    in five runs of the former regime, and its 1- and 2-thread runs differed by 2.7 points, while the 6 models'
    estimate was 0.86 (section 4.8). With the models' own seed noise, chance exceeds the bound well under once
    in 1,000 runs.
    """
    from designspace.sweep import read_results, run_sweep
    from designspace.sweep.driver import model_seed, sample_rows
    from designspace.spec import NetSpec
    from designspace.train import train

    config = demo_config("fashion-mnist", n=2, spaces=SPACES)  # AnyNetX_A's slow starters too
    rows = sample_rows(config)
    assert rows == sample_rows(demo_config("fashion-mnist", n=2, spaces=SPACES))  # the same models, every time
    assert [row["space"] for row in rows] == [space for space in SPACES for _ in range(2)]
    run_sweep(config.with_runner(slots=2, threads_per_slot=1), tmp_path / "sweep", progress=False)
    frame = read_results(tmp_path / "sweep")
    assert set(frame.status) == {"done"} and set(frame.device) == {"cpu:1threads"}
    one_thread = {(space, index): error for space, index, error in zip(frame.space, frame["index"], frame.best_error)}
    differences = []
    for row in rows:
        spec, seed = NetSpec.from_json(row["spec"]), model_seed(config.seed, row["space"], row["index"])
        two = train(spec, config.data, config.recipe, device="cpu", threads=2, seed=seed, progress=False).best_error
        differences.append(two - one_thread[(row["space"], row["index"])])
    noise = math.sqrt(sum(d * d for d in differences) / len(differences) / 2)
    assert noise < 2.5 * 0.83, differences


def test_timing_line_compares_the_estimate_with_the_actual_time():
    from designspace.demo import format_timing

    line = format_timing({"trained": 60, "wall_time": 472.6, "estimate_seconds": 560.0}, 4.5)
    assert line == ("time: 60 models trained in 7 min 52.6 s; report in 4.5 s; the estimate from the first "
                    "models' pace was 9 min 20.0 s (+18% of the actual time)")
    resumed = format_timing({"trained": 0, "wall_time": 0.1, "estimate_seconds": None}, 9.1)
    assert resumed == "time: every model was already trained (a resumed run); report in 9.1 s"
