"""Does the small-image regime train every space of the paper files' small-scale profiles? A measurement.

    python benchmarks/regime_spaces.py                          # fashion-mnist profiles: 2 models per space
    python benchmarks/regime_spaces.py --profile cifar10 --deepest-only --per-class 300   # a cifar10 stand-in
    DESIGNSPACE_CIFAR10=DIR python benchmarks/regime_spaces.py --profile cifar10 --device cuda --processes 4 \
        --deepest-only                                          # 25 runs, about 9 minutes of one H200

For every distinct (space, options, band) of examples/paper/*.yaml under the profile, it takes
the deepest of the first 10 sampled models (the hardest to train) and the first one, and trains
each with the profile's recipe. "Trains" means it did not end near chance (90% error for 10
classes): the table prints the error, the first epoch's mean loss (2.3 is chance) and the status.

On a GPU (`--device cuda`) every profile runs as its file says: models, data and recipe. Without
CIFAR-10, `benchmarks/cifar_standin.py` writes a CIFAR-shaped folder from Fashion-MNIST for it.
On a CPU the cifar10 profiles' models (built for 32x32x3) are rebuilt for 28x28x1 and trained one
epoch on 10,000 Fashion-MNIST images at the profile's peak learning rate with batch 128
(`--per-class` sets the images per class, the test set is cut to a tenth): a check of stability
in the first steps, not of the error CIFAR would give.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
import time
import traceback
from multiprocessing import get_context

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "paper")


def _train(job):
    import torch

    from designspace.data import DataConfig
    from designspace.spec import NetSpec
    from designspace.train import Recipe, train

    label, spec, data, recipe, device = job
    torch.set_num_threads(1)
    started = time.time()
    try:
        result = train(NetSpec.from_dict(spec), DataConfig.from_dict(data), Recipe.from_dict(recipe), device=device,
                       threads=1, seed=0, progress=False)
    except Exception:  # a crash is a row of the table, with its traceback on stderr; the other runs go on
        traceback.print_exc()
        return label, "crashed", float("nan"), float("nan"), time.time() - started, ""
    loss = result.epochs[0]["train_loss"] if result.epochs else float("nan")
    how = f"{result.images_per_sec or 0:6.0f} img/s" + (", graphed" if result.settings.get("cuda_graph") else "")
    return label, str(result.status), result.best_error, loss, time.time() - started, how


def jobs_for(profile: str, deepest_only: bool = False, per_class: int = 1000, device: str = "cpu") -> list:
    from designspace.spaces import get_space
    from designspace.sweep import load_sweep_file

    jobs, seen = [], set()
    for path in sorted(glob.glob(os.path.join(ROOT, "*.yaml"))):
        config = load_sweep_file(path, profile=profile)
        in_channels, num_classes, resolution = config.shape()
        for entry in config.spaces:
            key = (os.path.basename(entry.name), tuple(sorted(entry.options.items())), entry.flops)
            if key in seen:
                continue
            seen.add(key)
            space = get_space(entry.name, resolution=resolution, num_classes=num_classes, in_channels=in_channels,
                              **entry.options)
            samples = space.sample(10, seed=config.seed, flops=entry.flops, params=entry.params, acts=entry.acts)
            deepest = max(samples, key=lambda s: s.spec.depth)
            first = () if deepest_only or samples[0] is deepest else (("first", samples[0]),)
            picks = (("deepest of 10", deepest),) + first
            for which, sample in picks:
                label = f"{key[0]} {entry.flops[0] / 1e6:g}M-{entry.flops[1] / 1e6:g}M d={sample.spec.depth} ({which})"
                jobs.append((label, *_run_for(profile, config, sample.spec, per_class, device), device))
    return jobs


def _run_for(profile: str, config, spec, per_class: int, device: str) -> tuple:
    if profile != "cifar10" or device != "cpu":
        return spec.to_dict(), config.data.to_dict(), config.recipe.to_dict()
    stand_in = dataclasses.replace(spec, in_channels=1).to_dict()
    peak = config.recipe.peak_lr  # the same peak learning rate at batch 128
    recipe = dataclasses.replace(config.recipe, epochs=1, batch_size=128, lr=peak, cuda_graph=False,
                                 warmup_epochs=min(config.recipe.warmup_epochs, 1.0))
    data = {"name": "fashion-mnist", "train_subset": per_class, "test_subset": 100}
    return stand_in, data, recipe.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="fashion-mnist", choices=["fashion-mnist", "cifar10"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--deepest-only", action="store_true", help="only the deepest of the first 10 per band")
    parser.add_argument("--per-class", type=int, default=1000, help="cifar10 on a CPU: training images per class")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="cuda: the profiles' own recipe and data (default cpu)")
    parser.add_argument("--exclude", action="append", default=[], metavar="TEXT",
                        help="skip the runs whose label contains TEXT (repeatable), e.g. runs measured before")
    args = parser.parse_args()
    jobs = [job for job in jobs_for(args.profile, args.deepest_only, args.per_class, args.device)
            if not any(text in job[0] for text in args.exclude)]
    # the deepest (longest) first, so the last run to finish waits least
    jobs.sort(key=lambda job: sum(stage["depth"] for stage in job[1]["stages"]), reverse=True)
    print(f"{len(jobs)} runs ({args.profile} profiles) on {args.processes} processes, {args.device}")
    results = []
    with get_context("spawn").Pool(args.processes) as pool:
        for label, status, error, loss, seconds, how in pool.imap_unordered(_train, jobs):
            results.append((label, status, error, loss))
            print(f"  {label:58s} {status:8s} error {error:6.2f}%  epoch-1 loss {loss:5.2f}  {seconds:5.0f} s  {how}",
                  flush=True)
    near_chance = [r for r in results if r[1] == "done" and r[2] >= 80]
    diverged = [r for r in results if r[1] == "diverged"]
    crashed = [r for r in results if r[1] == "crashed"]
    worst = max((r for r in results if r[1] == "done"), key=lambda r: r[2], default=("none", "", float("nan")))
    print(f"{len(results)} runs: {len(near_chance)} near chance (>= 80% error), {len(diverged)} diverged, "
          f"{len(crashed)} crashed; worst done: {worst[0]} at {worst[2]:.2f}%")


if __name__ == "__main__":
    main()
