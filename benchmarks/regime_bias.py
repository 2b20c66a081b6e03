"""Which models does the cheap regime misjudge? A measurement on stored calibrations.

    python benchmarks/regime_bias.py runs/demo-fashion-mnist runs/demo-cal24

It pools the complete models of one or more calibrations of the same regime and reference (each
directory made by `designspace calibrate` or `designspace demo --calibrate`), taking the first
3 regime seeds and 2 reference runs of each model (the most every pooled calibration has). A
model's misjudgement is its mean regime error minus a linear fit of the regime error on the
mean reference error: positive means the short regime under-rates it. The script prints the
pooled rank agreement, the Spearman correlation of the misjudgement with the model's shape
(narrowest stage-to-stage width ratio, last stage's width, depth), the mean misjudgement of the
models whose width shrinks somewhere against the others, and each space's mean error in the
regime and the reference.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))


def pooled(dirs: list, seeds: int, reference_seeds: int):
    """One Calibration of every complete model of the directories' calibrations, cut to the same runs each,
    and the NetSpec of each of its models."""
    import dataclasses

    from designspace.errors import DesignspaceError
    from designspace.spec import NetSpec
    from designspace.sweep.calibrate import read_calibration
    from designspace.sweep.store import Store

    calibrations, models, specs = [], [], []
    for d in dirs:
        calibration = read_calibration(d)
        if calibration is None:
            raise DesignspaceError(f"{d} holds no calibration")
        if any(len(m.regime) < seeds or len(m.references) < reference_seeds for m in calibration.complete):
            raise DesignspaceError(f"{d} has fewer than {seeds} seeds or {reference_seeds} reference runs")
        store = Store.open_existing(d, readonly=True)
        try:
            spec_of = {(r["space"], int(r["idx"])): r["spec"] for r in store.rows("calibration")}
        finally:
            store.close()
        for m in calibration.complete:
            models.append(dataclasses.replace(m, regime=m.regime[:seeds], references=m.references[:reference_seeds],
                                              statuses=m.statuses[:seeds]  # the regime's runs, then the reference's
                                              + m.statuses[len(m.regime):len(m.regime) + reference_seeds]))
            specs.append(NetSpec.from_json(spec_of[(m.space, m.index)]))
        calibrations.append(calibration)
    return dataclasses.replace(calibrations[0], sweep_dir=" + ".join(dirs), models=tuple(models)), specs


def shape(spec) -> dict:
    widths = [stage.width for stage in spec.stages]
    return {"narrowest width ratio": min(b / a for a, b in zip(widths, widths[1:])),
            "last stage width": widths[-1], "depth": sum(stage.depth for stage in spec.stages)}


def main() -> None:
    from scipy.stats import spearmanr

    from designspace.analysis.calibration import format_space_means, space_means, stats_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep directories holding calibrations of the same regime")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reference-seeds", type=int, default=2)
    args = parser.parse_args()
    calibration, specs = pooled(args.dirs, args.seeds, args.reference_seeds)
    stats = stats_of(calibration)
    print(f"{stats.models} models pooled ({args.seeds} seeds, {args.reference_seeds} reference runs each): seed noise "
          f"{stats.seed_noise:.2f}, ICC(1) {stats.icc:.3f}, Spearman rho {stats.spearman}, Kendall tau {stats.kendall}")
    means = np.array([np.mean(m.regime) for m in calibration.models])
    reference = np.array([m.reference for m in calibration.models])
    misjudged = means - np.polyval(np.polyfit(reference, means, 1), reference)
    shapes = [shape(spec) for spec in specs]
    for feature in shapes[0]:
        rho, p = spearmanr([s[feature] for s in shapes], misjudged)
        print(f"misjudgement vs {feature}: Spearman {rho:+.2f} (p = {p:.2g})")
    shrinks = np.array([s["narrowest width ratio"] < 1 for s in shapes])
    if shrinks.any() and (~shrinks).any():
        print(f"models whose width shrinks: {shrinks.sum()}, mean misjudgement {misjudged[shrinks].mean():+.2f} points; "
              f"the others: {(~shrinks).sum()}, {misjudged[~shrinks].mean():+.2f}")
    print("\n".join(format_space_means(space_means(calibration))))


if __name__ == "__main__":
    from designspace.errors import DesignspaceError

    try:
        main()
    except DesignspaceError as error:  # a wrong directory: one line, exit 2
        print(f"regime_bias: {error}", file=sys.stderr)
        sys.exit(2)
