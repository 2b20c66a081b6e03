"""`designspace refine`: its cost in the report, and what docs/refine.md quotes about its statistics.

    python benchmarks/bench_refine.py [--models 500] [--seeds 20] [--null 200] [--threads 2]

- cost: the report's refinement section (`refine_for_report`) on the 3 x 500 synthetic tables of
  bench_report.py, after the summary the report computes anyway; and one full `refine` (1000
  bootstrap repeats) of a 500-model AnyNetX_A table;
- recovery: the rank of a planted "widths non-decreasing" effect over --seeds tables sampled from
  AnyNetX_A (300 models, 28x28 frame), at 1 and 2 noise standard deviations;
- null: the share of --null tables without any effect (4 sets of real samples) in which some
  restriction is significant after Holm's correction.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)


def bench_cost(models: int) -> None:
    from bench_report import write_tables

    from designspace.analysis import load_results, summarize
    from designspace.analysis.refine import refine_results
    from designspace.analysis.refine.report_section import refine_for_report

    with tempfile.TemporaryDirectory() as tmp:
        frames = [load_results(p) for p in write_tables(tmp, models)]
        summary = summarize(frames)
        refine_for_report(frames, summary)  # warm-up: imports
        start = time.perf_counter()
        refine_for_report(frames, summary)
        section = time.perf_counter() - start
        start = time.perf_counter()
        refine_results(os.path.join(tmp, "anynetx_a.csv"))
        full = time.perf_counter() - start
    print(f"report section (3 spaces x {models} models, after the summary): {section:.2f} s; "
          f"designspace refine of one {models}-model table (fits included, 1000 repeats): {full:.2f} s")


def _frame(space, n, seed, effects):
    from designspace.analysis.refine.frame import refine_frame
    from designspace.analysis.refine.planted import planted_errors, sample_table, with_errors

    table = sample_table(space, n=n, seed=seed)
    return refine_frame(with_errors(table, planted_errors(table, effects, seed=1000 + seed)), "best")


def bench_recovery(seeds: int) -> None:
    from designspace.analysis.refine import refine
    from designspace.analysis.refine.planted import PLANTED, SMALL_FRAME
    from designspace.spaces import get_space

    space = get_space("anynetx_a", **SMALL_FRAME)
    for shift in (-2.0, -1.0):
        ranks = collections.Counter()
        for seed in range(seeds):
            result = refine(_frame(space, 300, seed, {PLANTED["widths increase"]: shift}), space, label="a",
                            repeats=200, fit_draws=0, prior_draws=5000)
            names = [c.name for c in result.candidates]
            rank = names.index("widths non-decreasing") + 1
            ranks[(rank, result.candidates[rank - 1].verdict)] += 1
        print(f"planted 'widths non-decreasing' at {shift:+.0f} noise sd, 300 models, {seeds} seeds: "
              + ", ".join(f"rank {r} ({v}) x{k}" for (r, v), k in sorted(ranks.items())))


def bench_null(tables: int) -> None:
    from designspace.analysis.refine import refine
    from designspace.analysis.refine.planted import SMALL_FRAME
    from designspace.spaces import get_space

    sets = (("anynetx_a", 0), ("anynetx_a", 1), ("anynetx_e", 0), ("regnetx", 0))
    hits = runs = 0
    for name, seed in sets:
        space = get_space(name, **SMALL_FRAME)
        frame = _frame(space, 300, seed, {})
        base = 30 - 3 * np.log10(frame["flops"].to_numpy() / 1e6)
        rng = np.random.default_rng(seed)
        for _ in range(tables // len(sets)):
            null = frame.copy()
            null["error"] = base + rng.normal(0, 1, len(null))
            result = refine(null, space, label=name, repeats=0, prior_draws=1000, fit_draws=0)
            hits += any(c.p_holm is not None and c.p_holm < result.alpha for c in result.candidates)
            runs += 1
    print(f"null tables: {hits} of {runs} ({hits / runs:.1%}) called some restriction significant after Holm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--null", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    bench_cost(args.models)
    bench_recovery(args.seeds)
    bench_null(args.null)
    return 0


if __name__ == "__main__":
    sys.exit(main())
