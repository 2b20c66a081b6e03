"""The main job: the paper's design-space study in miniature, end to end.

    designspace demo                                   # Fashion-MNIST on this CPU, minutes
    designspace demo --preset cifar10 --data-dir DIR   # a GPU: 100 models per space, 10 epochs
    designspace demo --preset imagenet --data-dir DIR  # the paper's 400MF regime: 500 per space

Samples models from the preset's design spaces (AnyNetX_E and RegNetX on Fashion-MNIST,
AnyNetX_A too elsewhere; `--spaces` or `--all-spaces` choose others) in one complexity
band, trains each briefly with the local runner (or Ray / SLURM) into a SQLite store,
writes the HTML report and prints what this run found. Running it again resumes.
"""
from __future__ import annotations

import json
import math
import os
import time


# AnyNetX_A, its last refinement E and RegNetX: the presets' spaces unless they say otherwise.
SPACES = ("anynetx_a", "anynetx_e", "regnetx")
ALL_SPACES = ("anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e", "regnetx")
# All six spaces make the paper's section-3 steps (each pair is (reference, refined)); any other list compares
# each space with its first (study_pairs).
ALL_STUDY_PAIRS = (("anynetx_a", "anynetx_b"), ("anynetx_c", "anynetx_d"), ("anynetx_d", "anynetx_e"),
                   ("anynetx_a", "regnetx"))
PAPER_FINDINGS = {
    ("anynetx_a", "anynetx_b"): "the paper found no difference: a shared bottleneck ratio costs nothing",
    ("anynetx_c", "anynetx_d"): "the paper found increasing widths improved the EDF substantially",
    ("anynetx_d", "anynetx_e"): "the paper found increasing depths improved it slightly",
    ("anynetx_a", "anynetx_e"): "the paper's refinements from A to E kept the EDF (A to C) or improved it (C to E)",
    ("anynetx_a", "regnetx"): "the paper found RegNetX better on average, with the same best models",
    ("anynetx_e", "regnetx"): "the paper found RegNetX's EDF better than AnyNetX_E's, from 6 parameters "
                              "instead of 16",
}

# What `demo --calibrate` runs on Fashion-MNIST: 24 models (12 leave rho's 95% interval over half a unit wide),
# 3 seeds each, against the mean of 3 reference runs of 4 epochs on all 60,000 images, each tested every epoch
# with the running BN statistics (7.5x the training images of a demo run). Both Fashion-MNIST presets share the
# reference, so either's reference runs are the other's to reuse; its warmup is spelled out (0.4 epochs) so
# that it stays the reference that earlier regimes were judged against (docs/regime.md, 4.12).
FASHION_MNIST_CALIBRATION = {"models": 24, "seeds": 3, "reference_seeds": 3,
                             "reference": {"epochs": 4, "warmup_epochs": 0.4, "precise_bn_images": 0, "test_every": 1}}

# The default: Fashion-MNIST on the CPU, AnyNetX_E and RegNetX (AnyNetX_A's shrinking-width models are the ones
# short training misjudges most, docs/regime.md 4.10). 4 epochs over the same 8,000 images, precise BN statistics
# and one test at the end: on 48 models of two samples it ranks them like the reference (rho 0.827) where the
# 2-epoch regime of the same images did not (0.654), at 1.9x the time per model; 20 models per space keep the
# sweep inside 10 minutes on a 2-core CPU (4.12).
FASHION_MNIST = {
    "about": "Fashion-MNIST 28x28 on the CPU: small models, an 8,000-image subset, 4 epochs, precise BN statistics, "
             "the small-image regime",
    "spaces": ("anynetx_e", "regnetx"), "n": 20, "flops": "250K:2M", "resolution": 28,
    # all 10,000 test images: tested once, they cost 4% of a run, and half of them doubles the variance that test
    # sampling adds to the seed noise (docs/regime.md, 4.13)
    "data": {"name": "fashion-mnist", "train_subset": 800},
    # channels_last "on", not "auto": it trains faster on a CPU, and the per-model probe ate half the gain
    "recipe": {"regime": "small-images", "epochs": 4, "batch_size": 64, "channels_last": "on",
               "precise_bn_images": 2048, "test_every": 4},
    "space_options": {},
    "runner": {"type": "local", "device": "cpu"},
    "rate": ("CPU", 2300.0),
    "calibration": FASHION_MNIST_CALIBRATION,
}

# Each preset is a sweep file's content; `spaces`, `n`, `epochs` and the data root are filled in by `demo_config`.
# "calibration" holds what `demo --calibrate` runs unless told otherwise (`calibration_settings`); a preset without
# one gets the calibration's general defaults (CalibrationConfig, reference_regime).
PRESETS = {
    "fashion-mnist": FASHION_MNIST,
    # AnyNetX_A, E and RegNetX in 2 epochs of 4x the default's images (3,200 per class), tested after each with
    # precise BN statistics: it removes the bias against A's slow starters (docs/regime.md, 4.5-4.11).
    "fashion-mnist-4x": {
        **FASHION_MNIST,
        "about": "Fashion-MNIST 28x28 on the CPU: 2 epochs of a 32,000-image subset (3,200 per class), precise BN "
                 "statistics, about twice the default's time per model: the regime that passed the calibration bar "
                 "on 36 models of AnyNetX_A, AnyNetX_E and RegNetX (docs/regime.md)",
        "spaces": SPACES, "n": 20,
        "data": {**FASHION_MNIST["data"], "train_subset": 3200, "test_subset": 500},
        "recipe": {"regime": "small-images", "epochs": 2, "batch_size": 64, "channels_last": "on",
                   "precise_bn_images": 2048},
    },
    "cifar10": {
        "about": "CIFAR-10 32x32 on a GPU: the paper's protocol at small-image scale",
        "spaces": SPACES, "n": 100, "flops": "30M:34M", "resolution": 32,
        "data": {"name": "cifar10"},
        "recipe": {"regime": "small-images", "epochs": 10, "batch_size": 512, "lr": 0.1, "augment": True,
                   "cuda_graph": True},
        "space_options": {"stem": "cifar"},
        "runner": {"type": "local", "device": "auto", "models_per_gpu": 4},
        # The whole GPU's training rate measured for the cifar10 profiles' deepest models (one H200, 4 or 8 at once,
        # docs/regime.md 4.14); shallower models run faster, and the measured pace replaces it after 12 models.
        "rate": ("GPU", 23000.0),
    },
    "imagenet": {
        "about": "ImageNet 224x224: the paper's 400MF low-epoch regime",
        "spaces": SPACES, "n": 500, "flops": "360M:400M", "resolution": 224,
        "data": {"name": "imagenet"},
        "recipe": {"epochs": 10, "batch_size": 128, "lr": 0.1, "weight_decay": 5e-5},
        "space_options": {},
        "runner": {"type": "local", "device": "auto", "models_per_gpu": 1},
        "rate": ("GPU", 3000.0),
    },
}


# Standard split sizes (train, test), for the compute estimate printed before a run.
SPLIT_SIZES = {"fashion-mnist": (60000, 10000), "mnist": (60000, 10000), "cifar10": (50000, 10000),
               "cifar100": (50000, 10000), "imagenet": (1281167, 50000)}


def demo_config(preset: str = "fashion-mnist", n: int | None = None, epochs: int | None = None,
                data_dir: str | None = None, synthetic: bool = False, runner: str | None = None,
                slots: int | None = None, device: str | None = None, seed: int = 0, all_spaces: bool = False,
                spaces=None):
    """The demo's sweep as a validated SweepConfig: the preset's spaces, all six, or `spaces` (names)."""
    from .sweep import SweepConfig

    if preset not in PRESETS:
        from .errors import UnknownNameError

        raise UnknownNameError("preset", preset, list(PRESETS))
    p = PRESETS[preset]
    data = dict(p["data"])
    if synthetic:
        data = {"name": "synthetic", "resolution": p["resolution"], "synthetic_train": 50000, "synthetic_test": 10000}
    elif data_dir is not None:
        data["root"] = os.fspath(data_dir)
    recipe = dict(p["recipe"], **({"epochs": epochs} if epochs is not None else {}))
    runner_cfg = dict(p["runner"], **{k: v for k, v in (("type", runner), ("slots", slots), ("device", device))
                                      if v is not None})
    spaces = demo_spaces(preset, all_spaces, spaces)
    raw = {
        "name": f"demo-{preset}" + _spaces_suffix(preset, spaces) + ("-synthetic" if synthetic else "")
                + (f"-seed{seed}" if seed != 0 else ""),
        "seed": seed, "flops": p["flops"], "resolution": p["resolution"],
        "spaces": [{"name": s, "n": n or p["n"], "options": dict(p["space_options"])} for s in spaces],
        "data": data, "recipe": recipe, "runner": runner_cfg,
    }
    return SweepConfig.from_dict(raw, where=f"demo preset {preset}")


def demo_spaces(preset: str, all_spaces: bool = False, spaces=None) -> tuple:
    """The spaces a demo samples: `spaces` if given (checked names, in order), all six, or the preset's."""
    if spaces:
        from .errors import DesignspaceError, UnknownNameError
        from .spaces import list_spaces

        names = tuple(dict.fromkeys(str(name).strip().lower().replace("-", "_") for name in spaces))
        for name in names:
            if name not in list_spaces():
                raise UnknownNameError("design space", name, list_spaces())
        if len(names) < 2:
            raise DesignspaceError(f"--spaces {','.join(names)}: a comparison needs at least two spaces")
        return names
    return ALL_SPACES if all_spaces else tuple(PRESETS[preset]["spaces"])


def _other_spaces(preset: str, spaces: tuple):
    """None for the preset's own spaces, "all" for all six, else the spaces themselves."""
    if spaces == tuple(PRESETS[preset]["spaces"]):
        return None
    return "all" if spaces == ALL_SPACES else spaces


def demo_command(preset: str, config, out: str | None = None) -> str:
    """The command line that makes this demo's sweep: its preset, spaces, seed and (if not the default) directory."""
    other = _other_spaces(preset, tuple(s.name for s in config.spaces))
    flags = "" if other is None else " --all-spaces" if other == "all" else f" --spaces {','.join(other)}"
    p = PRESETS[preset]
    changed = (("--n", config.spaces[0].n, p["n"]), ("--epochs", config.recipe.epochs, p["recipe"]["epochs"]),
               ("--seed", config.seed, 0))
    flags += "".join(f" {flag} {value}" for flag, value, default in changed if value != default)
    flags += " --synthetic" if config.data.name == "synthetic" else ""
    if out is not None and os.path.normpath(out) != os.path.join("runs", config.name):
        flags += f" --out {out}"
    return f"designspace demo --preset {preset}{flags}"


def calibration_settings(preset: str, models=None, seeds=None, reference_seeds=None, reference=None,
                         synthetic: bool = False) -> tuple:
    """(CalibrationConfig, reference changes) for `demo --calibrate`: what the user gave, else the preset's.

    reference: {field: value} laid over the preset's reference changes (so `--reference epochs=8` keeps the
    rest of the preset's reference). The preset's reference is for its own data: with `synthetic` (no subset
    to grow from) the general one, 4x the epochs, takes its place.
    """
    from .sweep.calibrate import CalibrationConfig

    preset_calibration = PRESETS[preset].get("calibration", {})
    given = {"models": models, "seeds": seeds, "reference_seeds": reference_seeds}
    counts = {key: preset_calibration[key] for key in given if key in preset_calibration}
    counts.update({key: value for key, value in given.items() if value is not None})
    preset_reference = {} if synthetic else preset_calibration.get("reference", {})
    return CalibrationConfig(**counts), {**preset_reference, **(reference or {})}


def _spaces_suffix(preset: str, spaces: tuple) -> str:
    """The sweep directory's mark for spaces other than the preset's own: "-all", or their names."""
    other = _other_spaces(preset, spaces)
    return "" if other is None else "-all" if other == "all" else "-" + "-".join(other)


def study_pairs(spaces) -> tuple:
    """The comparisons a demo makes: the paper's section-3 steps for all six spaces, else each space against the
    first (as the report's KS tests do)."""
    spaces = tuple(spaces)
    return ALL_STUDY_PAIRS if spaces == ALL_SPACES else tuple((spaces[0], other) for other in spaces[1:])


def split_sizes(data) -> tuple[int, int]:
    """(training images, test images) per epoch of a DataConfig, without reading the files."""
    if data.name == "synthetic":
        train, test = data.synthetic_train, data.synthetic_test
    else:
        train, test = SPLIT_SIZES[data.name]
    per_class = data.info.num_classes
    if data.train_subset:
        train = min(train, data.train_subset * per_class)
    if data.test_subset:
        test = min(test, data.test_subset * per_class)
    return train, test


def precise_bn_passes(data, recipe) -> int:
    """Training images one epoch's precise BN statistics go through."""
    from .train.precise_bn import images_used

    return images_used(recipe.precise_bn_images, recipe.batch_size, split_sizes(data)[0])


def image_passes(data, recipe) -> float:
    """Image passes of one training run: every epoch trains on the set; each tested one (`test_every`) then
    recomputes precise BN statistics (if asked) and evaluates, both forward only, at about 1/3 the cost of a
    training pass."""
    train, test = split_sizes(data)
    return recipe.epochs * train + recipe.tested_epochs * (precise_bn_passes(data, recipe) + test) / 3


def estimate_compute(config, preset: str) -> dict:
    """What the sweep will cost: models, image passes, multiply-adds, and time at the preset's assumed rate."""
    models = sum(s.n for s in config.spaces)
    train_images, test_images = split_sizes(config.data)
    lo, hi = config.spaces[0].flops
    flops = ((lo or 0) + (hi or lo or 0)) / 2
    passes = models * image_passes(config.data, config.recipe)
    device, rate = PRESETS[preset]["rate"]
    return {"models": models, "epochs": config.recipe.epochs, "tested_epochs": config.recipe.tested_epochs,
            "train_images": train_images, "test_images": test_images,
            "precise_bn_images": precise_bn_passes(config.data, config.recipe), "image_passes": passes,
            "multiply_adds": passes * 3 * flops, "device": device, "assumed_rate": rate, "hours": passes / rate / 3600}


def format_estimate(est: dict) -> str:
    precise = f"{est['precise_bn_images']:,} precise-BN + " if est.get("precise_bn_images") else ""
    tests = f"{precise}{est['test_images']:,} test images"
    tested = est["tested_epochs"]
    per_model = (f"{est['epochs']} epochs x ({est['train_images']:,} train + {tests})" if tested == est["epochs"] else
                 f"({est['epochs']} epochs x {est['train_images']:,} train + {tested} test{'s' if tested > 1 else ''} "
                 f"x ({tests}))")
    return (f"compute: {est['models']} models x {per_model} = {est['image_passes']:.3g} image passes, "
            f"{est['multiply_adds']:.3g} multiply-adds (x3 for training); "
            f"about {_hours(est['hours'])} on the {est['device']} at an assumed {est['assumed_rate']:,.0f} images/s "
            "in total (the pace measured on the first models follows)")


def _hours(h: float) -> str:
    return f"{h * 60:.0f} minutes" if h < 1 else f"{h:.1f} hours" if h < 48 else f"{h / 24:.1f} days"


def format_summary(summary: dict, report_path: str, pairs) -> str:
    """The end-of-run text: per space median/best error, KS vs the first space, bootstrap-best d and wm."""
    lines = [f"report: {report_path}", "",
             f"{'space':12s} {'done':>5s} {'median':>7s} {'best':>7s} {'KS D':>6s} {'p':>7s}   "
             f"{'best d [95% CI]':>18s}   {'best wm [95% CI]':>20s}"]
    for s in summary["spaces"]:
        ks = s.get("ks_plain")
        boot = s.get("bootstrap", {})
        lines.append(f"{s['label']:12s} {s['finished']:5d} {s['median_error']:6.2f}% {s['min_error']:6.2f}% "
                     f"{_ks(ks)}   {_interval(boot.get('d'), '.0f'):>18s}   {_interval(boot.get('wm'), '.2f'):>20s}")
    lines.append("KS: two-sample Kolmogorov-Smirnov test of each space's error EDF against the first space's.")
    for pair in summary.get("pairs", []):
        lines.append("- " + pair["finding"])
        known = PAPER_FINDINGS.get((pair["reference"], pair["other"]))
        if known:
            lines.append(f"  For comparison, {known}.")
    return "\n".join(lines)


def _ks(ks) -> str:
    return f"{'-':>6s} {'-':>7s}" if not ks else f"{ks['statistic']:6.3f} {ks['pvalue']:7.3g}"


def _interval(b, fmt) -> str:
    if not b or not all(math.isfinite(b[k]) for k in ("median", "low", "high")):
        return "-"
    return f"{b['median']:{fmt}} [{b['low']:{fmt}}, {b['high']:{fmt}}]"


def format_timing(sweep: dict, report_seconds: float) -> str:
    """Wall times of this run, and how close the estimate made on the first models came."""
    wall, estimate = sweep["wall_time"], sweep.get("estimate_seconds")
    if not sweep["trained"]:
        return f"time: every model was already trained (a resumed run); report in {report_seconds:.1f} s"
    line = f"time: {sweep['trained']} models trained in {_minutes(wall)}; report in {report_seconds:.1f} s"
    if estimate:
        line += (f"; the estimate from the first models' pace was {_minutes(estimate)} "
                 f"({100 * (estimate - wall) / wall:+.0f}% of the actual time)")
    return line


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def calibration_text(out: str, command: str) -> str:
    """The stored calibration of the demo's regime, or the command that measures it."""
    from .analysis.calibration import format_calibration, stats_of
    from .sweep.calibrate import read_calibration

    calibration = read_calibration(out)
    if calibration is None or stats_of(calibration) is None:
        return ("calibration: this directory holds none, so the findings cannot say whether a difference exceeds "
                f"seed noise; measure it with `{command} --calibrate` (see the README for "
                "what it measured and how long it takes)")
    return format_calibration(calibration)


def run_demo(preset="fashion-mnist", out=None, n=None, epochs=None, data_dir=None, synthetic=False, runner=None,
             slots=None, device=None, progress=True, seed=0, echo=print, all_spaces=False, spaces=None) -> dict:
    """Sample, train, report, summarize. Returns {"summary", "report", "sweep_dir", "text"}."""
    from .analysis.report import build_report
    from .sweep import run_sweep

    config = demo_config(preset, n, epochs, data_dir, synthetic, runner, slots, device, seed, all_spaces, spaces)
    pairs = study_pairs(s.name for s in config.spaces)
    out = os.fspath(out or os.path.join("runs", config.name))
    echo(f"designspace demo: {PRESETS[preset]['about']}")
    echo(f"spaces: {', '.join(s.name for s in config.spaces)}; {config.spaces[0].n} models each; flops band "
         f"{PRESETS[preset]['flops']} at {config.resolution}x{config.resolution}; sweep directory {out}")
    echo(format_estimate(estimate_compute(config, preset)))
    sweep = run_sweep(config, out, progress=progress)
    started = time.time()
    summary = build_report([out], os.path.join(out, "report.html"), pairs=pairs,
                           title=f"designspace demo ({preset})", seed=seed)
    report = os.path.join(out, "report.html")
    text = "\n".join([format_summary(summary, report, pairs), "",
                      calibration_text(out, demo_command(preset, config, out)), "",
                      format_timing(sweep, time.time() - started)])
    echo(text)
    return {"summary": summary, "report": report, "sweep_dir": out, "text": text, "sweep": sweep}


def run_demo_calibration(preset="fashion-mnist", out=None, n=None, epochs=None, data_dir=None, synthetic=False,
                         runner=None, slots=None, device=None, progress=True, seed=0, echo=print, all_spaces=False,
                         spaces=None, models: int | None = None, seeds: int | None = None,
                         reference_seeds: int | None = None, reference=None, reuse_reference=None):
    """Calibrate the demo's regime in its sweep directory (`designspace demo --calibrate`).

    models, seeds, reference_seeds, reference: None takes the preset's (`calibration_settings`).
    reuse_reference: sweep directories (one, or a list) of other presets' calibrations of the same models (same
    seed and band) with the same reference regime; their finished reference runs are copied, not trained.
    """
    from .analysis.calibration import format_calibration
    from .sweep.calibrate import read_calibration, refuse_other_calibration, run_calibration, setup_calibration

    settings, reference = calibration_settings(preset, models, seeds, reference_seeds, reference, synthetic)
    config = demo_config(preset, n, epochs, data_dir, synthetic, runner, slots, device, seed, all_spaces, spaces)
    out = os.fspath(out or os.path.join("runs", config.name))
    setup = setup_calibration(config, out, settings, reference, reuse_reference)  # refusals before the estimate
    stored = read_calibration(out) if os.path.exists(os.path.join(out, "results.db")) else None
    if stored is not None:  # refused before the estimate, which would count the wrong runs
        refuse_other_calibration(out, stored.settings, json.loads(setup.settings))
    runs = {"regime": settings.models * settings.seeds, "reference": settings.models * settings.reference_seeds}
    for role, done in (stored.finished if stored else {}).items():
        runs[role] = max(runs[role] - done, 0)  # resuming or growing a stored calibration: only the rest trains
    # at most those the other directories lack train (an upper bound when resuming)
    runs["reference"] = min(runs["reference"], setup.reference_runs_to_train())
    passes = (runs["regime"] * image_passes(config.data, config.recipe)
              + runs["reference"] * image_passes(setup.reference_data, setup.reference_recipe))
    _, rate = PRESETS[preset]["rate"]
    echo(f"designspace demo --calibrate: {settings.models} models, each {settings.seeds} times in the demo's "
         f"regime and {settings.reference_seeds} times in the reference ({setup.reference_recipe.epochs} epochs on "
         "the full set"
         + (f", copied from {', '.join(setup.sources)}" if setup.sources else "") + "); "
         f"{runs['regime'] + runs['reference']} runs to train, {passes:.3g} image passes, about "
         f"{_hours(passes / rate / 3600)} at an assumed {rate:,.0f} images/s; sweep directory {out}")
    started = time.time()
    calibration = run_calibration(setup, progress)
    echo(format_calibration(calibration))
    echo(f"time: {_minutes(time.time() - started)} for this command")
    return calibration
