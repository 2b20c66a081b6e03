"""`designspace report DIR|FILE [DIR ...] [--out report.html] [--metric best|final] [--normalize flops|params]`.

    designspace report runs/anynetx_a runs/anynetx_b --out report.html
    designspace report a.parquet b.csv --metric final --normalize params --bins 8 --runtime runtime.jsonl
    designspace report runs/study --pair anynetx_a:anynetx_b --pair anynetx_d:anynetx_e

Writes one self-contained HTML file (and, with --json, the statistics as JSON). The first space is
the reference of the summary's KS columns; findings compare the --pair's (default: first vs each).
"""
from __future__ import annotations

import json


def _jsonable(summary: dict) -> dict:
    """The summary without its DataFrames and arrays."""
    spaces = [{k: v for k, v in s.items() if k not in ("metrics", "weights")} for s in summary["spaces"]]
    return {**summary, "spaces": spaces}


def run(args) -> int:
    from ..analysis.report import build_report, check_output_path
    from ..errors import DesignspaceError
    from ..io import atomic_write_text

    if args.bins is not None and args.bins < 1:
        raise DesignspaceError(f"--bins must be >= 1, got {args.bins}")
    if args.json:
        check_output_path(args.json)
    for text in args.pair or []:
        if text.count(":") < 1 or not all(text.split(":", 1)):
            raise DesignspaceError(f"--pair wants REFERENCE:OTHER (two space names), got {text!r}")
    summary = build_report(args.inputs, args.out, metric=args.metric, normalize=args.normalize, bins=args.bins,
                           runtime=args.runtime, seed=args.seed, title=args.title, pairs=args.pair)
    if args.json:
        atomic_write_text(args.json, json.dumps(_jsonable(summary), indent=1, default=float) + "\n")
    for pair in summary["pairs"]:
        print(pair["finding"])
    print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="compare design spaces in one self-contained HTML report",
                       description="Error EDFs (plain and normalized), bootstrap, KS tests, parameter-vs-error grids, "
                                   "random-search efficiency, quantized linear fits and complexity plots for one or "
                                   "more sweeps, in one HTML file that opens offline.")
    p.add_argument("inputs", nargs="+", metavar="DIR|FILE",
                   help="sweep directories (results.db) or exported tables (.csv, .jsonl, .parquet)")
    p.add_argument("--out", default="report.html", help="the HTML file to write (default report.html)")
    p.add_argument("--metric", default="best", help="best or final error (default best)")
    p.add_argument("--normalize", default="flops", help="complexity for the normalized EDF: flops or params")
    p.add_argument("--bins", type=int, help="complexity bins for the normalized EDF (default: up to 10 that all fill)")
    p.add_argument("--runtime", help="JSON lines from `designspace bench runtime` for the runtime model")
    p.add_argument("--pair", action="append", metavar="REF:OTHER",
                   help="compare these two spaces in the findings (repeatable; default: the first with each other)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--title", default="Design space report", help="the report's title")
    p.add_argument("--json", help="also write the statistics to this JSON file")
    p.set_defaults(func=run)
