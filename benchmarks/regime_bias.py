"""Which models does the cheap regime misjudge, and does a variant of it misjudge them less?

    python benchmarks/regime_bias.py runs/demo-fashion-mnist runs/demo-cal24
    python benchmarks/regime_bias.py runs/demo-fashion-mnist runs/demo-cal24 --variant train_subset=3200 --json variants.json
    python benchmarks/regime_bias.py DIR DIR --reference-seeds 3 --spaces anynetx_e,regnetx   # those spaces' models only

It pools the complete models of one or more calibrations of the same regime and reference (each
directory made by `designspace calibrate` or `designspace demo --calibrate`), taking the first
3 regime seeds and 2 reference runs of each model (the most every pooled calibration has). A
model's misjudgement is its mean regime error minus a linear fit of the regime error on the
mean reference error: positive means the short regime under-rates it. The script prints the
pooled rank agreement, the Spearman correlation of the misjudgement with the model's shape
(narrowest stage-to-stage width ratio, last stage's width, depth), the mean misjudgement of the
models whose width shrinks somewhere against the others, and each space's mean error in the
regime and the reference.

Each `--variant KEY=VALUE[,KEY=VALUE...]` (data or recipe fields, as `calibrate --reference`
takes them; `--variant none` is the stored regime itself) trains the pooled models again in the
stored regime with those changes, with the stored runs' training seeds (so a variant differs
from the stored runs only by its changes, and `none` reproduces them), and prints the same
statistics for it, judged against the same stored reference runs, with its CPU-seconds per run.
A variant costs (models x seeds) runs, 2 at a time: about 15 minutes for 36 models x 3 seeds
of the demo's regime on 2 cores. The reference runs are never retrained.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from multiprocessing import get_context

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))


def pooled(dirs: list, seeds: int, reference_seeds: int):
    """One Calibration of every complete model of the directories' calibrations, cut to the same runs each,
    the NetSpec of each of its models, and each model's regime training seeds. A model that several of the
    calibrations hold (the same spec and seeds: the same runs) counts once, as the first directory has it."""
    from designspace.errors import DesignspaceError
    from designspace.spec import NetSpec
    from designspace.sweep.calibrate import REGIME, read_calibration
    from designspace.sweep.store import Store

    calibrations, models, specs, run_seeds, taken = [], [], [], [], set()
    for d in dirs:
        calibration = read_calibration(d)
        if calibration is None:
            raise DesignspaceError(f"{d} holds no calibration")
        if any(len(m.regime) < seeds or len(m.references) < reference_seeds for m in calibration.complete):
            raise DesignspaceError(f"{d} has fewer than {seeds} seeds or {reference_seeds} reference runs")
        store = Store.open_existing(d, readonly=True)
        try:
            rows = store.rows("calibration")
        finally:
            store.close()
        spec_of = {(r["space"], int(r["idx"])): r["spec"] for r in rows}
        seed_of = {(r["space"], int(r["idx"]), int(r["replicate"])): int(r["seed"]) for r in rows if r["role"] == REGIME}
        for m in calibration.complete:
            spec = NetSpec.from_json(spec_of[(m.space, m.index)])
            seeds_of_model = tuple(seed_of[(m.space, m.index, replicate)] for replicate in range(seeds))
            if (spec, seeds_of_model) in taken:
                continue
            taken.add((spec, seeds_of_model))
            models.append(dataclasses.replace(m, regime=m.regime[:seeds], references=m.references[:reference_seeds],
                                              statuses=m.regime_statuses[:seeds] + m.reference_statuses[:reference_seeds]))
            specs.append(spec)
            run_seeds.append(seeds_of_model)
        calibrations.append(calibration)
    regimes = {json.dumps(c.regime, sort_keys=True) for c in calibrations}
    if len(regimes) > 1:
        raise DesignspaceError(f"{', '.join(dirs)}: the calibrations are of different regimes; pool one regime's")
    return dataclasses.replace(calibrations[0], sweep_dir=" + ".join(dirs), models=tuple(models)), specs, run_seeds


def only_spaces(calibration, specs, run_seeds, spaces):
    """The pooled calibration, specs and seeds cut to the models of these spaces."""
    from designspace.errors import DesignspaceError

    spaces = list(dict.fromkeys(name.strip() for name in spaces))
    keep = [i for i, m in enumerate(calibration.models) if m.space in spaces]
    if not keep or len({calibration.models[i].space for i in keep}) < len(spaces):
        held = sorted({m.space for m in calibration.models})
        raise DesignspaceError(f"--spaces {','.join(spaces)}: the pooled calibrations hold {', '.join(held)}")
    return (dataclasses.replace(calibration, models=tuple(calibration.models[i] for i in keep)),
            [specs[i] for i in keep], [run_seeds[i] for i in keep])


def shape(spec) -> dict:
    widths = [stage.width for stage in spec.stages]
    return {"narrowest width ratio": min(b / a for a, b in zip(widths, widths[1:])),
            "last stage width": widths[-1], "depth": sum(stage.depth for stage in spec.stages)}


def describe(calibration, specs) -> list:
    """The statistics, the misjudgement against shape, and the per-space means of a (pooled) calibration."""
    from scipy.stats import spearmanr

    from designspace.analysis.calibration import format_space_means, space_means, stats_of

    complete = [(m, spec) for m, spec in zip(calibration.models, specs) if m.complete]
    stats = stats_of(calibration)
    lines = [f"{stats.models} of {len(specs)} models complete: seed noise {stats.seed_noise:.2f}, ICC(1) "
             f"{stats.icc:.3f}, Spearman rho {stats.spearman}, Kendall tau {stats.kendall}"]
    means = np.array([np.mean(m.regime) for m, _ in complete])
    reference = np.array([m.reference for m, _ in complete])
    misjudged = means - np.polyval(np.polyfit(reference, means, 1), reference)
    shapes = [shape(spec) for _, spec in complete]
    for feature in shapes[0]:
        rho, p = spearmanr([s[feature] for s in shapes], misjudged)
        lines.append(f"misjudgement vs {feature}: Spearman {rho:+.2f} (p = {p:.2g})")
    shrinks = np.array([s["narrowest width ratio"] < 1 for s in shapes])
    if shrinks.any() and (~shrinks).any():
        lines.append(f"models whose width shrinks: {shrinks.sum()}, mean misjudgement {misjudged[shrinks].mean():+.2f} "
                     f"points; the others: {(~shrinks).sum()}, {misjudged[~shrinks].mean():+.2f}")
    return lines + format_space_means(space_means(calibration))


def parse_variant(text: str) -> dict:
    """"lr=0.1,train_subset=1600" -> {"lr": "0.1", "train_subset": "1600"}; "none" -> {}."""
    from designspace.commands.calibrate import parse_overrides
    from designspace.errors import DesignspaceError

    if text.strip().lower() == "none":
        return {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise DesignspaceError(f"--variant {text!r}: give KEY=VALUE[,KEY=VALUE...] or none")
    return parse_overrides(items, "--variant")


def variant_regime(calibration, text: str):
    """The stored regime's (DataConfig, Recipe) with the changes of a --variant."""
    from designspace.data import DataConfig
    from designspace.sweep.calibrate import changed_regime
    from designspace.train import Recipe

    return changed_regime(DataConfig.from_dict(calibration.regime["data"]),
                          Recipe.from_dict(calibration.regime["recipe"]), parse_variant(text), "--variant")


def train_variant(calibration, specs, run_seeds, data, recipe, processes: int):
    """The pooled calibration with its regime runs replaced by runs of `data` and `recipe`, and the mean
    CPU-seconds per run."""
    from designspace.results import Status

    from bench_regime import train_job

    jobs = [((m, replicate), seeds[replicate], specs[m].to_json(), data.to_dict(), recipe.to_dict())
            for replicate in range(len(run_seeds[0])) for m, seeds in enumerate(run_seeds)]
    errors = np.full((len(specs), len(run_seeds[0])), np.nan)
    statuses = np.full(errors.shape, "", dtype=object)
    cpu, started = 0.0, time.monotonic()
    with get_context("spawn").Pool(processes) as pool:
        for done, ((m, replicate), error, status, seconds) in enumerate(pool.imap_unordered(train_job, jobs), 1):
            errors[m, replicate] = error if status == Status.DONE else np.nan
            statuses[m, replicate] = status
            cpu += seconds
            if done % max(1, len(jobs) // 10) == 0 or done == len(jobs):
                elapsed = time.monotonic() - started
                print(f"  {done}/{len(jobs)} runs in {elapsed:.0f} s; about {elapsed / done * (len(jobs) - done):.0f} s "
                      "to go", flush=True)
    models = tuple(dataclasses.replace(model, regime=tuple(float(e) for e in errors[m]),
                                       statuses=tuple(Status(s) for s in statuses[m]) + model.reference_statuses)
                   for m, model in enumerate(calibration.models))
    return dataclasses.replace(calibration, models=models), cpu / len(jobs)


def main() -> None:
    from designspace.io import atomic_write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep directories holding calibrations of the same regime")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reference-seeds", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,...]",
                        help="retrain the pooled models in the regime with these changes (repeatable; none: as stored)")
    parser.add_argument("--spaces", metavar="NAME,NAME[,...]",
                        help="judge only the pooled models of these spaces (default: all)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="write each variant's per-model errors here (atomically)")
    args = parser.parse_args()
    calibration, specs, run_seeds = pooled(args.dirs, args.seeds, args.reference_seeds)
    if args.spaces:
        calibration, specs, run_seeds = only_spaces(calibration, specs, run_seeds, args.spaces.split(","))
    variants = [(text, *variant_regime(calibration, text)) for text in args.variant]  # a wrong one stops us here
    print(f"the stored regime ({args.seeds} seeds, {args.reference_seeds} reference runs each):")
    print("\n".join("  " + line for line in describe(calibration, specs)), flush=True)
    saved = {}
    for text, data, recipe in variants:
        started = time.monotonic()
        variant, cpu_per_run = train_variant(calibration, specs, run_seeds, data, recipe, args.processes)
        print(f"\nvariant {text}: {len(specs) * args.seeds} runs in {time.monotonic() - started:.0f} s, "
              f"{cpu_per_run:.1f} CPU-s per run")
        print("\n".join("  " + line for line in describe(variant, specs)), flush=True)
        saved[text] = {"data": data.to_dict(), "recipe": recipe.to_dict(), "cpu_s_per_run": cpu_per_run,
                       "calibration": variant.to_dict()}
        if args.json:
            atomic_write_json(args.json, saved)


if __name__ == "__main__":
    from designspace.errors import DesignspaceError

    try:
        main()
    except DesignspaceError as error:  # a wrong directory or --variant: one line, exit 2
        print(f"regime_bias: {error}", file=sys.stderr)
        sys.exit(2)
