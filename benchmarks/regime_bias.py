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


def pooled_models(dirs: list, seeds: int, reference_seeds: int) -> list:
    """(space, index, regime errors, reference errors, NetSpec) of every complete model."""
    from designspace.errors import DesignspaceError
    from designspace.spec import NetSpec
    from designspace.sweep.calibrate import read_calibration
    from designspace.sweep.store import Store

    models = []
    for d in dirs:
        calibration = read_calibration(d)
        if calibration is None:
            raise DesignspaceError(f"{d} holds no calibration")
        store = Store.open_existing(d, readonly=True)
        try:
            specs = {(r["space"], int(r["idx"])): r["spec"] for r in store.rows("calibration")}
        finally:
            store.close()
        for m in calibration.complete:
            if len(m.regime) < seeds or len(m.references) < reference_seeds:
                raise DesignspaceError(f"{d} has fewer than {seeds} seeds or {reference_seeds} reference runs")
            models.append((m.space, m.index, m.regime[:seeds], m.references[:reference_seeds],
                           NetSpec.from_json(specs[(m.space, m.index)])))
    return models


def shape(spec) -> dict:
    widths = [stage.width for stage in spec.stages]
    return {"narrowest width ratio": min(b / a for a, b in zip(widths, widths[1:])),
            "last stage width": widths[-1], "depth": sum(stage.depth for stage in spec.stages)}


def main() -> None:
    from scipy.stats import spearmanr

    from designspace.analysis.calibration import calibration_stats

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep directories holding calibrations of the same regime")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reference-seeds", type=int, default=2)
    args = parser.parse_args()
    models = pooled_models(args.dirs, args.seeds, args.reference_seeds)
    regime = np.array([m[2] for m in models])
    references = np.array([m[3] for m in models])
    stats = calibration_stats(regime, references)
    print(f"{len(models)} models pooled ({args.seeds} seeds, {args.reference_seeds} reference runs each): seed noise "
          f"{stats.seed_noise:.2f}, ICC(1) {stats.icc:.3f}, Spearman rho {stats.spearman}, Kendall tau {stats.kendall}")
    means, reference = regime.mean(axis=1), references.mean(axis=1)
    misjudged = means - np.polyval(np.polyfit(reference, means, 1), reference)
    shapes = [shape(m[4]) for m in models]
    for feature in shapes[0]:
        rho, p = spearmanr([s[feature] for s in shapes], misjudged)
        print(f"misjudgement vs {feature}: Spearman {rho:+.2f} (p = {p:.2g})")
    shrinks = np.array([s["narrowest width ratio"] < 1 for s in shapes])
    if shrinks.any() and (~shrinks).any():
        print(f"models whose width shrinks: {shrinks.sum()}, mean misjudgement {misjudged[shrinks].mean():+.2f} points; "
              f"the others: {(~shrinks).sum()}, {misjudged[~shrinks].mean():+.2f}")
    spaces = list(dict.fromkeys(m[0] for m in models))
    first = [i for i, m in enumerate(models) if m[0] == spaces[0]]
    for space in spaces:
        rows = [i for i, m in enumerate(models) if m[0] == space]
        gap = ("" if space == spaces[0] else f"; vs {spaces[0]}: regime {means[rows].mean() - means[first].mean():+.2f}, "
               f"reference {reference[rows].mean() - reference[first].mean():+.2f}")
        print(f"{space} ({len(rows)} models): regime mean {means[rows].mean():.2f}, "
              f"reference mean {reference[rows].mean():.2f}{gap}")


if __name__ == "__main__":
    from designspace.errors import DesignspaceError

    try:
        main()
    except DesignspaceError as error:  # a wrong directory: one line, exit 2
        print(f"regime_bias: {error}", file=sys.stderr)
        sys.exit(2)
