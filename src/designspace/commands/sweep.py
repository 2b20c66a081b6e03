"""`designspace sweep run|status|export`: train every model a sweep file samples; inspect; export.

    designspace sweep run examples/paper/a_vs_b.yaml --out sweeps/a_vs_b      # run again to resume
    designspace sweep run sweep.yaml --runner ray
    designspace sweep run examples/paper/a_vs_b.yaml --profile fashion-mnist   # small scale, one switch
    designspace sweep status sweeps/a_vs_b [--json]
    designspace sweep export sweeps/a_vs_b --out a_vs_b.parquet               # or .csv / .jsonl
"""
from __future__ import annotations

import json
import os

from ..results import Status


def register(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="run, inspect and export sweeps (sample, train, collect)",
                                   description="Run a sweep file, show its progress, export its results.")
    sub = parser.add_subparsers(dest="sweep_command", metavar="SUBCOMMAND")
    run_p = sub.add_parser("run", help="sample and train every model of a sweep file (resumes an existing --out)")
    run_p.add_argument("sweep_file", metavar="SWEEP.yaml")
    run_p.add_argument("--out", metavar="DIR", help="sweep directory (default: sweeps/<sweep name>)")
    run_p.add_argument("--runner", choices=["local", "ray", "slurm"], help="override the file's runner type")
    run_p.add_argument("--profile", metavar="NAME",
                       help="apply one of the file's profiles (e.g. the paper files' fashion-mnist or cifar10 scale)")
    run_p.add_argument("--retry-failed", action="store_true", help="give failed models a fresh set of attempts")
    run_p.add_argument("--no-progress", action="store_true", help="no progress bar")
    status_p = sub.add_parser("status", help="counts per status and space, throughput, time left")
    status_p.add_argument("sweep_dir", metavar="DIR")
    status_p.add_argument("--json", action="store_true", help="machine-readable output")
    export_p = sub.add_parser("export", help="write the results as .csv, .jsonl or .parquet")
    export_p.add_argument("sweep_dir", metavar="DIR")
    export_p.add_argument("--out", required=True, metavar="FILE")
    parser.set_defaults(func=run, sweep_parser=parser)


def run(args) -> int:
    if args.sweep_command == "run":
        from ..sweep import load_sweep_file, run_sweep

        config = load_sweep_file(args.sweep_file, profile=args.profile)
        out_dir = args.out or os.path.join("sweeps", config.name)
        summary = run_sweep(config, out_dir, runner=args.runner, progress=not args.no_progress,
                            retry_failed=args.retry_failed)
        counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items() if n)
        print(f"sweep {summary['sweep']!r} in {summary['dir']}: {counts} "
              f"({summary['trained']} trained now, {summary['wall_time']:.0f} s)")
        return 0 if summary["counts"][Status.PENDING] == 0 else 1
    if args.sweep_command == "status":
        from ..sweep.status import format_status, sweep_status

        info = sweep_status(args.sweep_dir)
        print(json.dumps(info, indent=2) if args.json else format_status(info))
        return 0
    if args.sweep_command == "export":
        from ..sweep.status import export_results

        n = export_results(args.sweep_dir, args.out)
        print(f"wrote {n} rows to {args.out}")
        return 0
    args.sweep_parser.print_help()
    return 2
