"""The main job: the paper's design-space study in miniature, end to end.

    designspace demo                                   # Fashion-MNIST on this CPU, minutes
    designspace demo --preset cifar10 --data-dir DIR   # a GPU: 100 models per space, 10 epochs
    designspace demo --preset imagenet --data-dir DIR  # the paper's 400MF regime: 500 per space

Samples models from AnyNetX A..E and RegNetX in one complexity band, trains each
briefly with the local runner (or Ray / SLURM) into a SQLite store, writes the
HTML report and prints what this run found. Running it again resumes.
"""
from __future__ import annotations

import math
import os


SPACES = ("anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e", "regnetx")
# The comparisons the paper made (section 3); each pair is (reference, refined).
STUDY_PAIRS = (("anynetx_a", "anynetx_b"), ("anynetx_c", "anynetx_d"), ("anynetx_d", "anynetx_e"),
               ("anynetx_a", "regnetx"))
PAPER_FINDINGS = {
    ("anynetx_a", "anynetx_b"): "the paper found no difference: a shared bottleneck ratio costs nothing",
    ("anynetx_c", "anynetx_d"): "the paper found increasing widths improved the EDF substantially",
    ("anynetx_d", "anynetx_e"): "the paper found increasing depths improved it slightly",
    ("anynetx_a", "regnetx"): "the paper found RegNetX better on average, with the same best models",
}

# Each preset is a sweep file's content; `n`, `epochs` and the data root are filled in by `demo_config`.
PRESETS = {
    "fashion-mnist": {
        "about": "Fashion-MNIST 28x28 on the CPU: small models, a 10,000-image subset, 2 epochs",
        "n": 8, "flops": "1M:2M", "resolution": 28,
        "data": {"name": "fashion-mnist", "train_subset": 1000, "test_subset": 300},
        # channels_last "on", not "auto": on these 1-2 MFLOP nets it trained 11% faster on a 2-core CPU, and the
        # per-model probe ate half of that
        "recipe": {"epochs": 2, "batch_size": 64, "lr": 0.1, "weight_decay": 5e-4, "channels_last": "on"},
        "space_options": {},
        "runner": {"type": "local", "device": "cpu"},
        "rate": ("CPU", 1500.0),
    },
    "cifar10": {
        "about": "CIFAR-10 32x32 on a GPU: the paper's protocol at small-image scale",
        "n": 100, "flops": "30M:34M", "resolution": 32,
        "data": {"name": "cifar10"},
        "recipe": {"epochs": 10, "batch_size": 512, "lr": 0.1, "weight_decay": 5e-4, "cuda_graph": True},
        "space_options": {"stem": "cifar"},
        "runner": {"type": "local", "device": "auto", "models_per_gpu": 4},
        "rate": ("GPU", 80000.0),
    },
    "imagenet": {
        "about": "ImageNet 224x224: the paper's 400MF low-epoch regime",
        "n": 500, "flops": "360M:400M", "resolution": 224,
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
                slots: int | None = None, device: str | None = None, seed: int = 0):
    """The demo's sweep as a validated SweepConfig."""
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
    runner_cfg = dict(p["runner"])
    if runner is not None:
        runner_cfg["type"] = runner
    if slots is not None:
        runner_cfg["slots"] = slots
    if device is not None:
        runner_cfg["device"] = device
    raw = {
        "name": f"demo-{preset}" + ("-synthetic" if synthetic else ""),
        "seed": seed, "flops": p["flops"], "resolution": p["resolution"],
        "spaces": [{"name": s, "n": n or p["n"], "options": dict(p["space_options"])} for s in SPACES],
        "data": data, "recipe": recipe, "runner": runner_cfg,
    }
    return SweepConfig.from_dict(raw, where=f"demo preset {preset}")


def estimate_compute(config, preset: str) -> dict:
    """What the sweep will cost: models, image passes, multiply-adds, and time at an assumed rate."""
    models = sum(s.n for s in config.spaces)
    epochs = config.recipe.epochs
    data = config.data
    if data.name == "synthetic":
        train_images, test_images = data.synthetic_train, data.synthetic_test
    else:
        train_images, test_images = SPLIT_SIZES[data.name]
    per_class = data.info.num_classes
    if data.train_subset:
        train_images = min(train_images, data.train_subset * per_class)
    if data.test_subset:
        test_images = min(test_images, data.test_subset * per_class)
    lo, hi = config.spaces[0].flops
    flops = ((lo or 0) + (hi or lo or 0)) / 2
    passes = models * epochs * (train_images + test_images / 3)  # evaluation is forward only
    device, rate = PRESETS[preset]["rate"]
    return {"models": models, "epochs": epochs, "train_images": train_images, "test_images": test_images,
            "image_passes": passes, "multiply_adds": passes * 3 * flops, "device": device, "assumed_rate": rate,
            "hours": passes / rate / 3600}


def format_estimate(est: dict) -> str:
    return (f"compute: {est['models']} models x {est['epochs']} epochs x ({est['train_images']:,} train + "
            f"{est['test_images']:,} test images) = {est['image_passes']:.3g} image passes, "
            f"{est['multiply_adds']:.3g} multiply-adds (x3 for training); "
            f"about {_hours(est['hours'])} of {est['device']} time at {est['assumed_rate']:,.0f} images/s in total")


def _hours(h: float) -> str:
    return f"{h * 60:.0f} minutes" if h < 1 else f"{h:.1f} hours" if h < 48 else f"{h / 24:.1f} days"


def format_summary(summary: dict, report_path: str) -> str:
    """The end-of-run text: per space median/best error, KS vs AnyNetX_A, bootstrap-best d and wm."""
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


def run_demo(preset="fashion-mnist", out=None, n=None, epochs=None, data_dir=None, synthetic=False, runner=None,
             slots=None, device=None, progress=True, seed=0, echo=print) -> dict:
    """Sample, train, report, summarize. Returns {"summary", "report", "sweep_dir", "text"}."""
    from .analysis import load_results, summarize, write_report
    from .sweep import run_sweep

    config = demo_config(preset, n, epochs, data_dir, synthetic, runner, slots, device, seed)
    out = os.fspath(out or os.path.join("runs", config.name))
    echo(f"designspace demo: {PRESETS[preset]['about']}")
    echo(f"spaces: {', '.join(SPACES)}; {config.spaces[0].n} models each; flops band {PRESETS[preset]['flops']} "
         f"at {config.resolution}x{config.resolution}; sweep directory {out}")
    echo(format_estimate(estimate_compute(config, preset)))
    run_sweep(config, out, progress=progress)
    report = write_report([out], os.path.join(out, "report.html"), pairs=STUDY_PAIRS,
                          title=f"designspace demo ({preset})", seed=seed)
    summary = summarize([load_results(out)], pairs=STUDY_PAIRS, seed=seed)
    text = format_summary(summary, report)
    echo(text)
    return {"summary": summary, "report": report, "sweep_dir": out, "text": text}
