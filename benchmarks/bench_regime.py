"""The demo's training regime against the earlier ones: rank agreement per CPU-minute, and models per hour.

    python benchmarks/bench_regime.py                       # 8 models x 2 seeds per regime, one shared reference
    python benchmarks/bench_regime.py --models 12 --seeds 3 --reference-epochs 8
    python benchmarks/bench_regime.py --reference-from runs/demo-fashion-mnist   # reuse `demo --calibrate`'s references

Three regimes train the same models (taken from the demo's sweep: its spaces and complexity
band, spread as `designspace calibrate` spreads them), each `--seeds` times, so the comparison
isolates the recipe and the data sizes: "previous", the demo's regime before any calibration
(the ImageNet recipe; that demo also sampled another band, 1M-2M), "2-epoch", the small-image
regime in 2 epochs as the demo ran it until docs/regime.md section 4.12, and "new", today's
preset. One reference run per model (the preset's calibration reference: 4 epochs on the full
training and test sets; `--reference-epochs` changes the epochs), or with `--reference-from` the
mean of the calibration's reference runs, is the ranking all three are judged against. Printed per regime: the error of each model, the seed noise, Spearman's rho against
the reference, CPU-seconds per model, models per hour on this machine (2 at a time, one thread
each), and rho per CPU-minute; then the new/previous ratios. Runs for tens of minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import get_context

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

# The demo's regime before the calibration (the previous PRESETS["fashion-mnist"]): ImageNet's recipe on small
# images (no zero-init, crop + flip), lr 0.1 at batch 128 scaled to batch 64, a 3,000-image test subset.
PREVIOUS = {"data": {"name": "fashion-mnist", "train_subset": 1000, "test_subset": 300},
            "recipe": {"epochs": 2, "batch_size": 64, "lr": 0.1, "weight_decay": 5e-4, "channels_last": "on"}}


def train_job(job):
    """One run in a worker process, on one thread: (key, seed, spec JSON, data dict, recipe dict) -> (key, best
    error, status, CPU-seconds). regime_bias.py trains its variants with it too."""
    import torch

    from designspace.data import DataConfig
    from designspace.spec import NetSpec
    from designspace.train import Recipe, train

    key, seed, spec, data, recipe = job
    torch.set_num_threads(1)
    started = time.process_time()
    result = train(NetSpec.from_json(spec), DataConfig.from_dict(data), Recipe.from_dict(recipe), device="cpu",
                   threads=1, seed=seed, progress=False)
    return key, result.best_error, str(result.status), time.process_time() - started


def _reference_changes(args):
    from designspace.demo import calibration_settings

    changes = calibration_settings("fashion-mnist")[1]
    return {**changes, "epochs": args.reference_epochs} if args.reference_epochs else changes


def _models_and_reference(config, args):
    """The models (store-like rows), their reference errors (NaN: to be trained here) and a description."""
    from designspace.sweep.calibrate import choose_models, read_calibration, reference_regime
    from designspace.sweep.driver import sample_rows

    rows = sample_rows(config)
    if not args.reference_from:
        chosen = choose_models(rows, args.models)
        _, recipe = reference_regime(config, _reference_changes(args))
        return chosen, np.full(len(chosen), np.nan), f"{recipe.epochs} epochs, full set, trained here"
    calibration = read_calibration(args.reference_from)
    if calibration is None:
        raise SystemExit(f"{args.reference_from}: no calibration stored there (run designspace demo --calibrate)")
    by_key = {(r["space"], r["index"]): r for r in rows}
    chosen = [by_key[(m.space, m.index)] for m in calibration.models]
    epochs = calibration.settings["reference"]["recipe"]["epochs"]
    runs = min(len(m.references) for m in calibration.models)
    return (chosen, np.array([m.reference for m in calibration.models], dtype=float),
            f"{epochs} epochs, full set, mean of {runs} runs, from the calibration in {args.reference_from}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--reference-epochs", type=int, default=None, help="default: the preset's reference, 4")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--reference-from", metavar="DIR", help="take the models and their reference errors from "
                        "the calibration stored in this demo directory instead of training references")
    args = parser.parse_args()
    if args.models < 3 or args.seeds < 2:
        parser.error("seed noise and rank agreement need --models >= 3 and --seeds >= 2")

    from designspace.analysis.calibration import seed_noise, spearman
    from designspace.demo import demo_config
    from designspace.sweep.calibrate import reference_regime

    config = demo_config("fashion-mnist")
    rows, reference, ref_text = _models_and_reference(config, args)
    specs = [r["spec"] for r in rows]  # JSON
    # the demo until docs/regime.md 4.12: 2 epochs of the same images, each tested on 5,000 test images
    two_epochs = {"data": {**config.data.to_dict(), "test_subset": 500},
                  "recipe": {**config.recipe.to_dict(), "epochs": 2, "precise_bn_images": 0, "test_every": 1}}
    regimes = {"previous": PREVIOUS, "2-epoch": two_epochs,
               "new": {"data": config.data.to_dict(), "recipe": config.recipe.to_dict()}}
    jobs = []
    if not args.reference_from:
        ref_data, ref_recipe = reference_regime(config, _reference_changes(args))
        jobs = [(("reference", m, 0), 0, specs[m], ref_data.to_dict(), ref_recipe.to_dict()) for m in range(len(specs))]
    jobs += [((name, m, seed), seed, specs[m], r["data"], r["recipe"]) for seed in range(args.seeds)
             for name, r in regimes.items() for m in range(len(specs))]
    print(f"{len(specs)} models from {', '.join(s.name for s in config.spaces)} ({config.spaces[0].flops} flops); "
          f"{len(jobs)} runs on {args.processes} processes; reference: {ref_text}")
    errors = {name: np.full((len(specs), args.seeds), np.nan) for name in regimes}
    cpu = {name: 0.0 for name in (*regimes, "reference")}
    with get_context("spawn").Pool(args.processes) as pool:
        for (regime, model, seed), error, status, seconds in pool.imap_unordered(train_job, jobs):
            cpu[regime] += seconds
            if regime == "reference":
                reference[model] = error
            else:
                errors[regime][model, seed] = error
            print(f"  {regime:9s} model {model:2d} seed {seed}: {status:8s} {error:6.2f}%  {seconds:6.1f} CPU-s",
                  flush=True)
    table = {}
    for name, e in errors.items():
        complete = np.isfinite(e).all(axis=1) & np.isfinite(reference)
        rho = float(spearman(e[complete].mean(axis=1), reference[complete]))
        per_model = cpu[name] / (len(specs) * args.seeds)
        table[name] = {"rho": rho, "noise": seed_noise(e[complete]), "cpu_s": per_model,
                       "per_hour": 3600 * args.processes / per_model, "rho_per_cpu_min": rho / (per_model / 60),
                       "near_chance": int((e >= 80).sum()), "mean": float(np.nanmean(e))}
        print(f"{name:9s} rho {rho:6.3f}  seed noise {table[name]['noise']:5.2f}  mean error "
              f"{table[name]['mean']:6.2f}%  runs >= 80% error: {table[name]['near_chance']}  "
              f"{per_model:6.1f} CPU-s/model  {table[name]['per_hour']:6.0f} models/hour  "
              f"rho per CPU-minute {table[name]['rho_per_cpu_min']:.3f}")
    new = table["new"]
    for name in ("previous", "2-epoch"):
        old = table[name]
        print(f"new / {name}: rank agreement per CPU-minute {new['rho_per_cpu_min'] / old['rho_per_cpu_min']:.2f}x "
              f"(rho {new['rho']:.3f} vs {old['rho']:.3f}); models per hour {new['per_hour'] / old['per_hour']:.2f}x")


if __name__ == "__main__":
    main()
