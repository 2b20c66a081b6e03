"""`designspace demo`: the paper's design-space study in miniature (see designspace.demo).

    designspace demo                                   # Fashion-MNIST, this CPU, under 10 minutes
    designspace demo --n 4 --out runs/quick            # a quicker, smaller run
    designspace demo --preset cifar10 --data-dir DIR   # a GPU; add --runner ray|slurm for a cluster
    designspace demo --preset cifar10 --synthetic      # the same on synthetic data (speed check)
"""
from __future__ import annotations


def run(args) -> int:
    from ..demo import run_demo

    if args.n is not None and args.n < 2:
        from ..errors import DesignspaceError

        raise DesignspaceError(f"--n must be at least 2 (an EDF needs models), got {args.n}")
    run_demo(preset=args.preset, out=args.out, n=args.n, epochs=args.epochs, data_dir=args.data_dir,
             synthetic=args.synthetic, runner=args.runner, slots=args.slots, device=args.device,
             progress=not args.no_progress, seed=args.seed)
    return 0


def register(sub) -> None:
    from ..demo import PRESETS

    p = sub.add_parser("demo", help="the main job: sample, train and compare design spaces, then report",
                       description="Sample models from AnyNetX A..E and RegNetX, train each briefly, write the HTML "
                                   "report and print what this run found. Run it again to resume.")
    p.add_argument("--preset", default="fashion-mnist", choices=list(PRESETS),
                   help="fashion-mnist (default: this CPU, minutes), cifar10 (a GPU), imagenet (the paper's regime)")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default: runs/demo-<preset>)")
    p.add_argument("--n", type=int, help="models per design space (default: the preset's)")
    p.add_argument("--epochs", type=int, help="training epochs per model (default: the preset's)")
    p.add_argument("--data-dir", metavar="DIR", help="where the data set lives (default: its standard location)")
    p.add_argument("--synthetic", action="store_true", help="synthetic images instead of the data set (speed checks)")
    p.add_argument("--runner", choices=["local", "ray", "slurm"], help="where to train (default: local)")
    p.add_argument("--slots", type=int, help="models trained at once (default: the runner's choice)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="device (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="sampling and training seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
