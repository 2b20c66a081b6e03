"""`designspace demo`: the paper's design-space study in miniature (see designspace.demo).

    designspace demo                                   # Fashion-MNIST, this CPU, under 10 minutes
    designspace demo --calibrate                       # is the demo's regime a valid proxy? (1-2 h on 2 cores)
    designspace demo --preset fashion-mnist-4x         # 4x the data, precise BN: the better-ranking regime
    designspace demo --spaces anynetx_a,anynetx_e,regnetx   # AnyNetX_A too (its slow starters: docs/regime.md)
    designspace demo --all-spaces                      # AnyNetX A..E and RegNetX, the paper's four comparisons
    designspace demo --n 4 --out runs/quick            # a quicker, smaller run
    designspace demo --preset cifar10 --data-dir DIR   # a GPU; add --runner ray|slurm for a cluster
    designspace demo --preset cifar10 --synthetic      # the same on synthetic data (speed check)
"""
from __future__ import annotations


def run(args) -> int:
    from ..demo import run_demo, run_demo_calibration
    from ..errors import DesignspaceError

    if args.n is not None and args.n < 2:
        raise DesignspaceError(f"--n must be at least 2 (an EDF needs models), got {args.n}")
    common = dict(preset=args.preset, out=args.out, n=args.n, epochs=args.epochs, data_dir=args.data_dir,
                  synthetic=args.synthetic, runner=args.runner, slots=args.slots, device=args.device,
                  progress=not args.no_progress, seed=args.seed, all_spaces=args.all_spaces,
                  spaces=args.spaces.split(",") if args.spaces else None)
    if args.calibrate:
        from .calibrate import parse_overrides

        calibration = run_demo_calibration(**common, models=args.models, seeds=args.seeds,
                                           reference_seeds=args.reference_seeds,
                                           reference=parse_overrides(args.reference),
                                           reuse_reference=args.reuse_reference)
        from ..analysis.calibration import stats_of

        return 0 if stats_of(calibration) is not None else 1
    run_demo(**common)
    return 0


def register(sub) -> None:
    from ..demo import PRESETS

    p = sub.add_parser("demo", help="the main job: sample, train and compare design spaces, then report",
                       description="Sample models from the preset's design spaces (fashion-mnist: AnyNetX_E and "
                                   "RegNetX; the others: AnyNetX_A, AnyNetX_E and RegNetX), train each briefly, "
                                   "write the HTML report and print what this run found. Run it again to resume. "
                                   "--calibrate measures whether the regime is a valid proxy.")
    p.add_argument("--preset", default="fashion-mnist", choices=list(PRESETS),
                   help="fashion-mnist (default: this CPU, minutes), fashion-mnist-4x (4x its data and time, "
                        "precise BN), cifar10 (a GPU), imagenet (the paper's regime)")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default: runs/demo-<preset>)")
    p.add_argument("--n", type=int, help="models per design space (default: the preset's)")
    p.add_argument("--epochs", type=int, help="training epochs per model (default: the preset's)")
    p.add_argument("--spaces", metavar="NAME,NAME[,...]",
                   help="the spaces to sample and compare, each against the first (default: the preset's)")
    p.add_argument("--all-spaces", action="store_true",
                   help="all six spaces (AnyNetX A..E, RegNetX) and the paper's four comparisons")
    p.add_argument("--calibrate", action="store_true",
                   help="instead of the sweep: calibrate the demo's regime (seeds, reference, rank agreement)")
    p.add_argument("--models", type=int,
                   help="with --calibrate: models (default: the preset's; 24 on Fashion-MNIST)")
    p.add_argument("--seeds", type=int, help="with --calibrate: seeds per model (default: the preset's; 3)")
    p.add_argument("--reference-seeds", type=int,
                   help="with --calibrate: reference runs per model, judged by their mean (default: the preset's; "
                        "3 on Fashion-MNIST)")
    p.add_argument("--reference", nargs="+", metavar="KEY=VALUE",
                   help="with --calibrate: changes to the reference regime, over the preset's (Fashion-MNIST: "
                        "epochs=4 on the full set; elsewhere 4x the epochs on the full set)")
    p.add_argument("--reuse-reference", metavar="DIR", action="append",
                   help="with --calibrate: copy the finished reference runs of the same models from another "
                        "calibrated sweep directory with the same --reference, instead of training them; repeat it "
                        "to copy from several")
    p.add_argument("--data-dir", metavar="DIR", help="where the data set lives (default: its standard location)")
    p.add_argument("--synthetic", action="store_true", help="synthetic images instead of the data set (speed checks)")
    p.add_argument("--runner", choices=["local", "ray", "slurm"], help="where to train (default: local)")
    p.add_argument("--slots", type=int, help="models trained at once (default: the runner's choice)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="device (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
