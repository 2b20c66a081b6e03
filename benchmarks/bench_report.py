"""Speed of the analysis: the paper's bootstrap, the quantized linear fit and a full report over 3 spaces x 500 models.

    python benchmarks/bench_report.py [--models 500] [--threads 2] [--runs 1]

Each part runs against its baseline in this process and prints both times and the ratio:
- bootstrap: the vectorized 10^4-repeat bootstrap of one metric vs the loop over repeats;
- fit: `fit_many` over random AnyNets vs the original search, one model at a time;
- report: `write_report` vs the code before the speed-up (benchmarks/report_baseline, a copy of
  it), both after a small warm-up report (imports, font caches), best of --runs. The two reports
  must be the same: same text (the time stamp aside) and the same figures, pixel for pixel.

Goals (issue 6): the bootstrap under 0.5 s; the report under 5 s on 2 cores (it took about 30 s).
The machine is shared, so the absolute times move with its load; the ratios are what to compare.
Tables are synthetic (real specs, exact complexity, made-up errors) in the exact `read_results`
column schema.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)  # report_baseline

SPACES = (("anynetx", 1, "anynetx_a"), ("anynetx", 2, "anynetx_e"), ("regnetx", 3, "regnetx"))


def loop_bootstrap(x, errors, repeats=10_000, fraction=0.25, seed=0):
    """The bootstrap's baseline: one numpy draw and argmin per repeat."""
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


def write_tables(folder, models):
    from designspace.analysis.synthetic import synthetic_results

    paths = []
    for kind, seed, name in SPACES:
        path = os.path.join(folder, f"{name}.csv")
        synthetic_results(kind, n=models, seed=seed, space=name).to_csv(path, index=False)
        paths.append(path)
    return paths


FIGURE = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
STAMP = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d")


NEW_ONLY = re.compile(r'<section id="refine">.*?</section>|<a href="#refine">[^<]*</a>', re.S)


def same_report(path_a, path_b) -> bool:
    """Same text (figures and time stamp masked) and the same figures, decoded, pixel for pixel."""
    from PIL import Image

    # The refinement section came after the baseline: compare everything else.
    a, b = (NEW_ONLY.sub("", Path(p).read_text(encoding="utf-8")) for p in (path_a, path_b))
    if STAMP.sub("", FIGURE.sub("", a)) != STAMP.sub("", FIGURE.sub("", b)):
        return False
    figures_a, figures_b = FIGURE.findall(a), FIGURE.findall(b)

    def pixels(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))

    return len(figures_a) == len(figures_b) and all(
        np.array_equal(pixels(x), pixels(y)) for x, y in zip(figures_a, figures_b))


def bench_bootstrap():
    from designspace.analysis import stats

    rng = np.random.default_rng(0)
    x, errors = rng.uniform(1, 4, 500), rng.normal(20, 2, 500)
    fast = best_of(lambda: stats.bootstrap_best(x, errors, seed=0))
    slow = best_of(lambda: loop_bootstrap(x, errors), runs=1)
    print(f"bootstrap (500 pairs, 10^4 repeats): vectorized {fast * 1e3:.1f} ms, loop baseline {slow * 1e3:.1f} ms, "
          f"ratio {slow / fast:.1f}x; goal < 500 ms: {'ok' if fast < 0.5 else 'MISSED'}")


def bench_fit(count=200):
    from report_baseline import fit as baseline

    from designspace.analysis.fit import fit_many

    rng = np.random.default_rng(0)
    widths = [np.repeat(rng.integers(1, 129, 4) * 8, rng.integers(1, 5, 4)) for _ in range(count)]
    new = best_of(lambda: fit_many(widths), runs=1)
    old = best_of(lambda: [baseline.fit_quantized_linear(w) for w in widths], runs=1)
    same = [f.to_dict() for f in fit_many(widths)] == [baseline.fit_quantized_linear(w).to_dict() for w in widths]
    print(f"quantized linear fit of {count} random AnyNets: {new / count * 1e3:.2f} ms per model, baseline "
          f"{old / count * 1e3:.2f} ms, ratio {old / new:.1f}x; same fits: {'yes' if same else 'NO'}")


def bench_report(models, runs):
    from report_baseline.report import write_report as baseline_write_report

    from designspace.analysis import write_report

    start = time.perf_counter()
    import matplotlib.backends.backend_agg  # noqa: F401  (first use costs the same to both)
    import scipy.stats  # noqa: F401
    print(f"imports on first use (matplotlib, scipy.stats): {time.perf_counter() - start:.1f} s (not timed below)")
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "warm"))
        warm = write_tables(os.path.join(tmp, "warm"), 20)
        for write in (baseline_write_report, write_report):  # font and text caches
            write(warm, os.path.join(tmp, "warm.html"))
        start = time.perf_counter()
        paths = write_tables(tmp, models)
        print(f"synthetic tables: 3 x {models} models in {time.perf_counter() - start:.1f} s (not timed below)")
        new_html, old_html = os.path.join(tmp, "report.html"), os.path.join(tmp, "baseline.html")
        new = old = float("inf")
        for _ in range(runs):  # alternating, so both see the same load
            new = min(new, best_of(lambda: write_report(paths, new_html), 1))
            old = min(old, best_of(lambda: baseline_write_report(paths, old_html), 1))
        size = os.path.getsize(new_html) / 1e6, os.path.getsize(old_html) / 1e6
        same = same_report(new_html, old_html)
    print(f"report (3 spaces x {models} models): {new:.1f} s, baseline {old:.1f} s, ratio {old / new:.1f}x; "
          f"{size[0]:.2f} MB (baseline {size[1]:.2f} MB); same content: {'yes' if same else 'NO'}; "
          f"goal < 5 s: {'ok' if new < 5 else 'MISSED'}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="report runs of each implementation; the best counts")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    bench_bootstrap()
    bench_fit()
    return 0 if bench_report(args.models, args.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
