"""`designspace calibrate SWEEP.yaml`: is the sweep's training regime a valid proxy for longer training?

    designspace calibrate examples/paper/a_vs_b.yaml --profile fashion-mnist       # 12 models x 3 seeds
    designspace calibrate SWEEP.yaml --models 16 --seeds 2 --reference epochs=8 train_subset=all
    designspace calibrate SWEEP.yaml --out sweeps/a_vs_b --json
    designspace calibrate SWEEP.yaml --reference-seeds 3     # grow a stored calibration: only the new runs train
    designspace calibrate B.yaml --reuse-reference sweeps/a  # B differs from A only in its regime: A's references

The runs are stored in the sweep directory (default sweeps/<sweep name>) beside the sweep's
own results; run the same command again to resume. See designspace.sweep.calibrate.
"""
from __future__ import annotations

import json
import os


def parse_overrides(items, option: str = "calibrate: --reference") -> dict:
    """["epochs=8", "train_subset=all"] -> {"epochs": "8", "train_subset": "all"}."""
    from ..errors import DesignspaceError

    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DesignspaceError(f"{option} takes KEY=VALUE items, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def run(args) -> int:
    from ..sweep import load_sweep_file
    from ..analysis.calibration import calibration_json, format_calibration, stats_of
    from ..sweep.calibrate import CalibrationConfig, calibrate

    settings = CalibrationConfig(models=args.models, seeds=args.seeds, reference_seeds=args.reference_seeds)  # bad counts fail before the file is read
    config = load_sweep_file(args.sweep_file, profile=args.profile)
    if args.runner:
        config = config.with_runner(args.runner)
    out_dir = args.out or os.path.join("sweeps", config.name)
    result = calibrate(config, out_dir, settings, reference=parse_overrides(args.reference),
                       progress=not args.no_progress, retry_failed=args.retry_failed,
                       reuse_reference=args.reuse_reference)
    print(json.dumps(calibration_json(result), indent=2) if args.json else format_calibration(result))
    return 0 if stats_of(result) is not None and len(result.complete) == len(result.models) else 1


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="is a sweep's training regime a valid proxy? seed noise, rank agreement",
                       description="Train models from a sweep's spaces several times in its regime and once in a "
                                   "longer reference regime; report the seed noise, the spread between models, ICC, "
                                   "Spearman rho and Kendall tau against the reference, and the smallest EDF shift "
                                   "the sweep can detect. Stored in the sweep directory; run again to resume.")
    p.add_argument("sweep_file", metavar="SWEEP.yaml")
    p.add_argument("--profile", metavar="NAME", help="apply one of the file's profiles (as in sweep run)")
    p.add_argument("--models", type=int, default=12, help="models to calibrate on (default 12, at least 3)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per model in the regime (default 3, "
                                                         "at least 2)")
    p.add_argument("--reference-seeds", type=int, default=2,
                   help="runs per model in the reference regime, judged by their mean (default 2); a stored "
                        "calibration grows to more seeds or reference seeds without retraining its runs")
    p.add_argument("--reference", nargs="+", metavar="KEY=VALUE",
                   help="the reference regime: data or recipe fields over the default of 4x the epochs on the full "
                        "training and test sets (e.g. epochs=8 train_subset=all)")
    p.add_argument("--reuse-reference", metavar="DIR", action="append",
                   help="copy finished reference runs of the same models (same sweep seed and spec) from another "
                        "sweep directory's calibration with the same reference regime, instead of training them; "
                        "repeat it to copy from several")
    p.add_argument("--out", metavar="DIR", help="the sweep directory (default: sweeps/<sweep name>)")
    p.add_argument("--runner", choices=["local", "ray", "slurm"], help="override the file's runner type")
    p.add_argument("--retry-failed", action="store_true", help="give failed runs a fresh set of attempts")
    p.add_argument("--json", action="store_true", help="print the calibration as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
