"""Analytic complexity vs building the module and counting, for every zoo model.

    python benchmarks/bench_complexity.py [--repeat 3]

Both sides run in this process, so the printed ratio is what to compare across
machines; the absolute times depend on the (shared, noisy) machine.
"""
import argparse
import time

import torch

from designspace import build_model, complexity, get_spec
from designspace.zoo import MODELS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    specs = [get_spec(n) for n in MODELS]

    t0 = time.perf_counter()
    for _ in range(args.repeat):
        analytic = [complexity(s)["params"] for s in specs]
    t_analytic = (time.perf_counter() - t0) / args.repeat

    t0 = time.perf_counter()
    built = [sum(p.numel() for p in build_model(s).parameters()) for s in specs]  # once: it is slow
    t_build = time.perf_counter() - t0

    assert analytic == built, "analytic and built parameter counts disagree"
    print(f"models: {len(specs)} (every zoo model, 224x224)")
    print(f"analytic complexity (flops+params+acts): {t_analytic * 1e3:9.2f} ms total, {t_analytic / len(specs) * 1e6:8.1f} us/model")
    print(f"build nn.Module + count params:          {t_build * 1e3:9.2f} ms total, {t_build / len(specs) * 1e3:8.1f} ms/model")
    print(f"speed-up of the analytic count: {t_build / t_analytic:,.0f}x")


if __name__ == "__main__":
    main()
