"""Sweep throughput: the local runner packing K models per GPU vs one model at a time in the eager loop.

All sweeps train the same sampled AnyNetX_A models (the 360MF..400MF band counted
at 224x224, as in the paper) on synthetic 32x32 images, in the same run:

  packed    K models at once per GPU (separate processes), batch 512, CUDA graphs, device-resident data
            (on CPU: `--slots` processes sharing the cores, one thread each)
  baseline  one model at a time, eager batch-128 loop, DataLoader; bf16 autocast on GPU, fp32 on CPU
  serial    one model at a time with the packed sweep's training settings (separates the two effects)

It prints models/hour, aggregate images/s and the mean per-model set-up time (model
build, format probe, graph capture: a model's wall time minus its epochs) for each,
and the ratios to the baseline.

    python benchmarks/bench_sweep.py                       # GPU: 16 models, K=4
    python benchmarks/bench_sweep.py --n 4 --train 1000    # a tiny CPU version
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time


def sweep_config(args, packed: bool, gpu: bool, one_at_a_time: bool = False):
    from designspace.sweep import SweepConfig

    if packed:
        recipe = {"epochs": args.epochs, "batch_size": args.batch if gpu else 128, "cuda_graph": gpu,
                  "fast_loader": True,
                  "channels_last": "auto" if gpu else "on"}  # on CPU the probe costs more than it finds
        runner = {"type": "local", "device": "cuda" if gpu else "cpu", "max_attempts": 1}
        if one_at_a_time:
            runner["slots"] = 1
        elif gpu:
            runner["models_per_gpu"] = args.k
        else:
            runner.update(slots=args.slots, threads_per_slot=1)
    else:
        recipe = {"epochs": args.epochs, "batch_size": 128, "cuda_graph": False, "fast_loader": False,
                  "amp": gpu, "channels_last": "off", "workers": 2}
        runner = {"type": "local", "device": "cuda" if gpu else "cpu", "slots": 1, "max_attempts": 1}
    raw = {"name": "bench", "seed": args.seed, "resolution": 224,
           "flops": args.band, "spaces": [{"name": "anynetx_a", "n": args.n}],
           "data": {"name": "synthetic", "synthetic_train": args.train, "synthetic_test": args.test},
           "recipe": recipe, "runner": runner}
    return SweepConfig.from_dict(raw, where="benchmark")


def _mean(values) -> float:
    return statistics.mean(values) if values else float("nan")


def measure(config, out_dir) -> dict:
    from designspace.sweep import read_results, run_sweep

    started = time.perf_counter()
    summary = run_sweep(config, out_dir, progress=False)
    wall = time.perf_counter() - started
    frame = read_results(out_dir)
    done = frame[frame.status == "done"]
    images = 0
    setup_times, epoch_times = [], []
    for row in done.itertuples():
        epochs = json.loads(row.epochs)
        epoch_time = sum(e["wall_time"] for e in epochs)
        images += sum(e["images_per_sec"] * e["wall_time"] for e in epochs)
        setup_times.append(row.wall_time - epoch_time)
        epoch_times += [e["wall_time"] for e in epochs]
    return {"models": len(done), "failed": int((frame.status != "done").sum()), "wall_s": wall,
            "models_per_hour": len(done) / wall * 3600, "aggregate_img_s": images / wall,
            "setup_s": _mean(setup_times), "epoch_s": _mean(epoch_times), "summary": summary,
            "specs": sorted(frame.spec)}


def projected_minutes(result, concurrent: int, models: int = 500, epochs: int = 10) -> float:
    """The paper's sweep from measured per-model times: `concurrent` models at a time, each paying its
    set-up once and `epochs` x (train epoch + test pass) as measured under the same packing."""
    per_model = result["setup_s"] + epochs * result["epoch_s"]
    return -(-models // concurrent) * per_model / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="models per sweep (default 16 on GPU, 4 on CPU)")
    parser.add_argument("--band", default="360M:400M", help="flops band at 224x224")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train", type=int, default=None,
                        help="synthetic training images (default 50000 GPU, 1000 CPU)")
    parser.add_argument("--test", type=int, default=None, help="synthetic test images (default 10000 GPU, 200 CPU)")
    parser.add_argument("--k", type=int, default=4, help="models per GPU in the packed sweep")
    parser.add_argument("--batch", type=int, default=512, help="batch size of the packed sweep on GPU")
    parser.add_argument("--slots", type=int, default=None, help="CPU: processes in the packed sweep (default: cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from designspace.sweep.runners import usable_cores

    gpu = torch.cuda.is_available()
    args.n = args.n or (16 if gpu else 4)
    args.train = args.train or (50000 if gpu else 1000)
    args.test = args.test or (10000 if gpu else 200)
    args.slots = args.slots or usable_cores()
    device = torch.cuda.get_device_name(0) if gpu else f"CPU, {usable_cores()} cores"
    print(f"device: {device}; {args.n} AnyNetX_A models in the {args.band} band (at 224), trained at 32x32 on "
          f"{args.train} synthetic images, {args.epochs} epoch(s), test set {args.test}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, packed, single in (("baseline", False, True), ("serial", True, True), ("packed", True, False)):
            results[name] = measure(sweep_config(args, packed, gpu, single), f"{tmp}/{name}")
    assert results["baseline"]["specs"] == results["packed"]["specs"] == results["serial"]["specs"], \
        "the sweeps sampled different models"
    fast = f"batch {args.batch}, CUDA graphs, device data" if gpu else "batch 128, device-resident data"
    how = {"baseline": "one at a time, eager batch 128, DataLoader",
           "serial": f"one at a time, {fast}",
           "packed": f"{args.k} per GPU, {fast}" if gpu else f"{args.slots} procs x 1 thread, {fast}"}
    print(f"{'sweep':9} {'how':52} {'models':>6} {'wall s':>8} {'models/h':>9} {'img/s':>9} {'setup s':>8}")
    for name, r in results.items():
        print(f"{name:9} {how[name]:52} {r['models']:6d} {r['wall_s']:8.1f} {r['models_per_hour']:9.1f} "
              f"{r['aggregate_img_s']:9.0f} {r['setup_s']:8.2f}")
    base = results["baseline"]
    for name in ("serial", "packed"):
        r = results[name]
        print(f"ratio {name}/baseline: models/hour x{r['models_per_hour'] / base['models_per_hour']:.2f}, "
              f"aggregate img/s x{r['aggregate_img_s'] / base['aggregate_img_s']:.2f}")
    concurrent = {"baseline": 1, "serial": 1, "packed": args.k if gpu else args.slots}
    print(f"projected 500 models x 10 epochs of {args.train} images (test set {args.test} every epoch), "
          f"from each sweep's per-model set-up and epoch times:")
    for name, r in results.items():
        print(f"  {name:9} {projected_minutes(r, concurrent[name]):9.1f} min")


if __name__ == "__main__":
    main()
