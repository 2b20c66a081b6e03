"""`designspace refine DIR|TABLE [--space LABEL] [--write DIR] [--json FILE]`: what the good models share.

    designspace refine runs/a                          # ranked candidate restrictions and a proposed path
    designspace refine runs/study --space anynetx_b --metric final --json refine.json
    designspace refine runs/a --write refined          # refined/<label>_refined.yaml and refined/sweep.yaml
    designspace sweep run refined/sweep.yaml --out runs/a-refined && designspace report runs/a-refined
    designspace refine a.parquet --write refined --sweep a.yaml   # a table: its sweep file gives band, n, data, recipe

The method (candidates, matched-complexity scoring, Holm, the sharing trend, size reduction) is in
docs/refine.md. Nothing is written unless every input is valid.
"""
from __future__ import annotations

import json
import os


def _check_options(args) -> None:
    from ..analysis.report import check_output_path
    from ..analysis.refine.write import check_write_dir
    from ..errors import DesignspaceError

    for option, value, low in (("--top", args.top, 1), ("--steps", args.steps, 1), ("--repeats", args.repeats, 0)):
        if value is not None and value < low:
            raise DesignspaceError(f"{option} must be >= {low}, got {value}")
    if args.normalize not in ("flops", "params"):
        raise DesignspaceError(f"--normalize must be flops or params, got {args.normalize!r}")
    if not 0 < args.alpha < 1:
        raise DesignspaceError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.json:
        check_output_path(args.json)
    if args.write:
        check_write_dir(args.write)
    if args.sweep and not args.write:
        raise DesignspaceError("--sweep only serves --write (the comparison sweep's band, n, data and recipe)")


def _next_steps(args, parent, result, files: dict) -> str:
    """What to run next: the paper's loop continues with a sweep of the refined space against its parent."""
    from ..analysis.refine.write import SWEEP_FILE

    if not result.path:
        return ""
    if not args.write:
        return (f"test it directly: designspace refine {args.input} --write DIR, "
                f"then designspace sweep run DIR/{SWEEP_FILE}")
    if SWEEP_FILE not in files:
        return "no sweep file: a table does not record its sweep; give it with --sweep SWEEP.yaml"
    out = f"runs/{parent.sweep['name']}-refined"
    return (f"next: designspace sweep run {os.path.join(args.write, SWEEP_FILE)} --out {out}, "
            f"then designspace report {out}")


def run(args) -> int:
    from ..analysis.refine import format_table, refine_results, refined_files, write_files
    from ..io import atomic_write_text

    _check_options(args)
    parent, result = refine_results(args.input, space_label=args.space, metric=args.metric, sweep_file=args.sweep,
                                     normalize=args.normalize, alpha=args.alpha, repeats=args.repeats, seed=args.seed)
    files = refined_files(result, parent, args.steps) if args.write and result.path else {}
    print(format_table(result, top=args.top))
    written = write_files(args.write, files) if files else []
    if args.json:
        atomic_write_text(args.json, json.dumps({**result.to_dict(), "written": written}, indent=1) + "\n")
    if args.write and not files:
        print(f"nothing written to {args.write}: no restriction to propose")
    elif written:
        print("wrote " + " and ".join(written))
    steps = _next_steps(args, parent, result, files)
    if steps:
        print(steps)
    return 0


def register(sub) -> None:
    p = sub.add_parser("refine", help="find what the good models of a design space share, as restrictions",
                       description="Scores candidate restrictions of one design space (shared b and g, non-decreasing "
                                   "widths and depths, value and range restrictions) at matched complexity, with "
                                   "bootstrap intervals and Holm-corrected KS tests; ranks them; proposes a refined "
                                   "space and writes it with a sweep that compares it with its parent.")
    p.add_argument("input", metavar="DIR|TABLE",
                   help="a sweep directory (results.db) or an exported table (.csv, .jsonl, .parquet)")
    p.add_argument("--space", metavar="LABEL", help="the space to refine when the input holds several")
    p.add_argument("--metric", default="best", help="best or final error (default best)")
    p.add_argument("--normalize", default="flops",
                   help="the complexity the comparisons match (default flops)")
    p.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate for Holm's method (default 0.05)")
    p.add_argument("--top", type=int, default=15, help="scored candidates to print (default 15; --json has all)")
    p.add_argument("--repeats", type=int, default=1000, help="bootstrap repeats (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the prior draws (default 0)")
    p.add_argument("--json", metavar="FILE", help="also write every candidate's statistics to this JSON file")
    p.add_argument("--write", metavar="DIR", help="write the refined space and a sweep comparing it with its parent")
    p.add_argument("--steps", type=int, help="apply only the first N restrictions of the proposed path")
    p.add_argument("--sweep", metavar="FILE", help="for a table: the sweep file its models came from (for --write)")
    p.set_defaults(func=run)
