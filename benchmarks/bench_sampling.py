"""Sampling speed: 500 AnyNetX_A models in the 360-400MF band at 224x224, on one core.

    .venv/bin/python benchmarks/bench_sampling.py [--n 500] [--repeats 5] [--reference 3000]

Prints the time to collect the samples, candidates counted per second, accepted per
second, and, in the same run, the rate at which pycls 0.1.1's complexity function
(`pycls.models.anynet.AnyNet.complexity` called directly, and through pycls's global
cfg with `pycls.core.net.complexity`) counts the same candidate configs; then the ratios. Also checks that pycls and
designspace give the same numbers for those configs. Goal: < 1 s and >= 100x.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

BAND = (360e6, 400e6)


def pycls_rate(batch, limit: int):
    """Count the first `limit` configs of `batch` with pycls; return (configs/s, flops list)."""
    from pycls.models.anynet import AnyNet as PyclsAnyNet

    n = min(limit, len(batch))
    configs = [dict(stem_type="simple_stem_in", stem_w=32, block_type="res_bottleneck_block",
                    ds=batch.depths[i].tolist(), ws=batch.widths[i].tolist(), ss=[2, 2, 2, 2],
                    bms=[1.0 / b for b in batch.bottleneck_ratios[i].tolist()], gws=batch.group_widths[i].tolist(),
                    se_r=None, nc=1000) for i in range(n)]
    start = time.perf_counter()
    results = [PyclsAnyNet.complexity({"h": 224, "w": 224, "flops": 0, "params": 0, "acts": 0}, **c) for c in configs]
    elapsed = time.perf_counter() - start
    return n / elapsed, [(r["flops"], r["params"], r["acts"]) for r in results]


def pycls_cfg_rate(batch, limit: int) -> float:
    """The same count through pycls's global-config path: set cfg.ANYNET, call core.net.complexity(AnyNet)."""
    from pycls.core import net
    from pycls.core.config import cfg
    from pycls.models.anynet import AnyNet as PyclsAnyNet

    cfg.MODEL.NUM_CLASSES, cfg.TRAIN.IM_SIZE = 1000, 224
    cfg.ANYNET.STEM_TYPE, cfg.ANYNET.STEM_W, cfg.ANYNET.BLOCK_TYPE = "simple_stem_in", 32, "res_bottleneck_block"
    cfg.ANYNET.STRIDES, cfg.ANYNET.SE_ON = [2, 2, 2, 2], False
    n = min(limit, len(batch))
    rows = [(batch.depths[i].tolist(), batch.widths[i].tolist(), [1.0 / b for b in batch.bottleneck_ratios[i].tolist()],
             batch.group_widths[i].tolist()) for i in range(n)]
    start = time.perf_counter()
    for ds, ws, bms, gws in rows:
        cfg.ANYNET.DEPTHS, cfg.ANYNET.WIDTHS, cfg.ANYNET.BOT_MULS, cfg.ANYNET.GROUP_WS = ds, ws, bms, gws
        net.complexity(PyclsAnyNet)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--reference", type=int, default=3000, help="configs to count with pycls")
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass

    from designspace.spaces import get_space

    space = get_space("anynetx_a")
    space.sample(10, seed=123, flops=BAND)  # warm-up (imports, first batches)
    times, draws, counted = [], [], []
    for seed in range(args.repeats):
        start = time.perf_counter()
        samples = space.sample(args.n, seed=seed, flops=BAND)
        times.append(time.perf_counter() - start)
        draws.append(space.last_stats["draws"])
        counted.append(space.last_stats["counted"])
        assert len(samples) == args.n and all(BAND[0] <= s.flops <= BAND[1] for s in samples)
    median = statistics.median(times)
    # Median of the per-run rates: one run slowed by a neighbour on this shared machine moves it little.
    cand_rate = statistics.median(c / t for c, t in zip(counted, times))
    print(f"anynetx_a, {args.n} samples in {BAND[0] / 1e6:.0f}-{BAND[1] / 1e6:.0f}MF at 224x224, one core, "
          f"{args.repeats} seeds")
    print(f"  time to collect: median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f})")
    print(f"  candidates drawn per run: median {statistics.median(draws):,.0f}; "
          f"in-band acceptance {args.n * len(times) / sum(counted):.2%}")
    print(f"  candidates counted per second: {cand_rate:,.0f}")
    print(f"  accepted per second: {args.n / median:,.0f} (rates are medians over the runs)")

    # The candidate pipeline alone (draw + compatibility + count with band caps), without building
    # the accepted NetSpecs, over the same batch sizes the sampler used.
    sizes, total = [], 0
    while total < statistics.median(draws):
        sizes.append(min(4096 * 2 ** len(sizes), space.max_batch))
        total += sizes[-1]
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(args.repeats):
        for size in sizes:
            space.count_within(space.draw(rng, size), caps=(BAND[1], None, None))
    pipe_rate = args.repeats * total / (time.perf_counter() - start)
    print(f"  candidate pipeline alone (draw + compatibility + count): {pipe_rate:,.0f} candidates/s")

    # Counter only: one big batch through the vectorized counter.
    rng = np.random.default_rng(0)
    batch = space.draw(rng, 65536)
    start = time.perf_counter()
    flops, params, acts = space.count(batch)
    count_rate = len(batch) / (time.perf_counter() - start)
    print(f"  vectorized counter alone: {count_rate:,.0f} configs/s (batch of {len(batch):,})")

    ref_rate, ref = pycls_rate(batch, args.reference)
    ours = list(zip(flops[:len(ref)].tolist(), params[:len(ref)].tolist(), acts[:len(ref)].tolist()))
    mismatches = sum(a != b for a, b in zip(ours, ref))
    print(f"pycls 0.1.1 AnyNet.complexity on the same configs: {ref_rate:,.0f} configs/s "
          f"({len(ref):,} configs; {mismatches} disagree with designspace)")
    cfg_rate = pycls_cfg_rate(batch, args.reference)
    print(f"pycls 0.1.1 via its global cfg + core.net.complexity(AnyNet): {cfg_rate:,.0f} configs/s")
    print(f"ratio (sampler candidates/s vs pycls AnyNet.complexity): {cand_rate / ref_rate:,.0f}x")
    print(f"ratio (sampler candidates/s vs pycls cfg path): {cand_rate / cfg_rate:,.0f}x")
    print(f"ratio (candidate pipeline vs pycls AnyNet.complexity): {pipe_rate / ref_rate:,.0f}x")
    print(f"ratio (vectorized counter alone vs pycls AnyNet.complexity): {count_rate / ref_rate:,.0f}x")
    print(f"goal < 1 s: {'met' if median < 1 else 'NOT met'}; goal >= 100x (sampler end to end vs direct pycls): "
          f"{'met' if cand_rate / ref_rate >= 100 else 'NOT met'}; (candidate pipeline vs direct pycls): "
          f"{'met' if pipe_rate / ref_rate >= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
