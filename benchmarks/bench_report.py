"""Speed of the analysis: the paper's bootstrap and a full report over 3 spaces x 500 models.

    python benchmarks/bench_report.py [--models 500] [--threads 2]

Goals (issue 6): the 10^4-repeat bootstrap of one metric under 0.5 s; the report under 30 s on
2 cores. The bootstrap's baseline, run in the same process, is the straightforward loop over
repeats; the report is compared with its 30 s budget. Tables are synthetic (real specs, exact
complexity, made-up errors) in the exact `read_results` column schema.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def loop_bootstrap(x, errors, repeats=10_000, fraction=0.25, seed=0):
    """The baseline: one numpy draw and argmin per repeat."""
    rng = np.random.default_rng(seed)
    m = int(np.ceil(fraction * len(errors)))
    kept = np.empty(repeats)
    for r in range(repeats):
        idx = rng.integers(0, len(errors), m)
        kept[r] = x[idx[np.argmin(errors[idx])]]
    return np.quantile(kept, [0.025, 0.5, 0.975])


def best_of(fn, runs=3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from designspace.analysis import fit_quantized_linear, stats, write_report
    from designspace.analysis.synthetic import synthetic_results

    rng = np.random.default_rng(0)
    x, errors = rng.uniform(1, 4, 500), rng.normal(20, 2, 500)
    fast = best_of(lambda: stats.bootstrap_best(x, errors, seed=0))
    slow = best_of(lambda: loop_bootstrap(x, errors), runs=1)
    print(f"bootstrap (500 pairs, 10^4 repeats): vectorized {fast * 1e3:.1f} ms, loop baseline {slow * 1e3:.1f} ms, "
          f"speed-up {slow / fast:.1f}x; goal < 500 ms: {'ok' if fast < 0.5 else 'MISSED'}")

    widths = [np.repeat(rng.integers(1, 129, 4) * 8, rng.integers(1, 5, 4)) for _ in range(50)]
    per_fit = best_of(lambda: [fit_quantized_linear(w) for w in widths], runs=1) / len(widths)
    print(f"quantized linear fit of a random AnyNet: {per_fit * 1e3:.1f} ms per model (goal < 100 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = []
        for kind, seed, name in (("anynetx", 1, "anynetx_a"), ("anynetx", 2, "anynetx_e"), ("regnetx", 3, "regnetx")):
            path = os.path.join(tmp, f"{name}.csv")
            synthetic_results(kind, n=args.models, seed=seed, space=name).to_csv(path, index=False)
            paths.append(path)
        print(f"synthetic tables: 3 x {args.models} models in {time.perf_counter() - start:.1f} s (not timed below)")
        start = time.perf_counter()
        out = write_report(paths, os.path.join(tmp, "report.html"))
        took = time.perf_counter() - start
        size = os.path.getsize(out) / 1e6
    budget = 30.0
    print(f"report (3 spaces x {args.models} models, {args.threads} threads): {took:.1f} s, {size:.2f} MB; "
          f"budget {budget:.0f} s, ratio {took / budget:.2f}: {'ok' if took < budget else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
