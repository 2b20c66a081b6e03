"""What a training step of the demo's models costs on this CPU: torch's own convolutions, smaller batches, bf16.

    python benchmarks/bench_cpu_step.py                  # 6 of the demo's models, one thread
    python benchmarks/bench_cpu_step.py --models 12 --rounds 5

The small-image regime trains in fp32 at batch 64 (docs/regime.md). This measures, on the
demo's own models (its spaces and band, spread as `designspace calibrate` spreads them), the
images per second of one training step (forward, loss, backward, the library's SGD, all as the
demo's recipe says; channels_last, synthetic data of Fashion-MNIST's shape, one thread) at batch
64 in fp32, the baseline, against the same with torch's nn.Conv2d in place of the library's
SmallMapConv2d (models/small_maps.py), against batch 32 and 16 (more steps for the same images)
and against bf16 autocast at batch 64. The rows are timed
in turns, best of --rounds, so a load that comes and goes hits them alike. Printed: each row's
images/s over all models (the harmonic mean, what a sweep of them sees) and its ratio to the
baseline, and whether this CPU has native bf16 instructions.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from typing import NamedTuple

import torch


class Row(NamedTuple):
    name: str
    batch: int
    bf16: bool = False
    plain_convs: bool = False  # torch's nn.Conv2d in place of the library's SmallMapConv2d


ROWS = (Row("fp32, batch 64 (baseline)", 64), Row("torch's nn.Conv2d, fp32, batch 64", 64, plain_convs=True),
        Row("fp32, batch 32", 32), Row("fp32, batch 16", 16), Row("bf16 autocast, batch 64", 64, bf16=True))


def demo_models(count: int):
    """`count` of the demo's sampled models as [(name, NetSpec)], and the demo's sweep config."""
    from designspace.demo import demo_config
    from designspace.spec import NetSpec
    from designspace.sweep.calibrate import choose_models
    from designspace.sweep.driver import sample_rows

    config = demo_config("fashion-mnist")
    rows = choose_models(sample_rows(config), count)
    return [(f"{row['space']} #{row['index']}", NetSpec.from_json(row["spec"])) for row in rows], config


def step_function(spec, config, batch: int, bf16: bool, plain_convs: bool):
    """One training step of a fresh model of `spec` in the demo's recipe (as the library's Trainer builds it),
    at this batch size, on synthetic images of the demo's data set's shape, at the recipe's peak lr."""
    from designspace.data.datasets import dataset_shape
    from designspace.models import build_model
    from designspace.models.small_maps import use_plain_convs
    from designspace.train import SGD, parameter_groups

    recipe = dataclasses.replace(config.recipe, batch_size=batch)
    channels, classes, side = dataset_shape(config.data)
    torch.manual_seed(0)
    model = build_model(spec, zero_init_last_bn=recipe.zero_init_last_bn).to(memory_format=torch.channels_last)
    if plain_convs:
        use_plain_convs(model)
    optimizer = SGD(parameter_groups(model, recipe.weight_decay, recipe.exclude_norm_and_bias_from_decay),
                    recipe.momentum, recipe.nesterov, recipe.grad_clip)
    images = torch.randn(batch, channels, side, side).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, classes, (batch,))
    lr = torch.tensor(recipe.peak_lr)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(images), labels, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(lr)
    return step


def seconds_per_image(step, batch: int, images: int) -> float:
    steps = max(3, images // batch)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / (steps * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=640, help="images per timed stretch of each row")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with open("/proc/cpuinfo") as f:
        native_bf16 = "avx512_bf16" in f.read()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"native bf16 (avx512_bf16): {'yes' if native_bf16 else 'no'}; one thread")
    models, config = demo_models(args.models)
    total = [0.0] * len(ROWS)  # sum over models of seconds per image: the harmonic mean's denominator
    for name, spec in models:
        steps = [step_function(spec, config, row.batch, row.bf16, row.plain_convs) for row in ROWS]
        for step in steps:
            step()  # warm-up: first-call allocations and kernel choices
        best = [float("inf")] * len(ROWS)
        for _ in range(args.rounds):
            for i, (step, row) in enumerate(zip(steps, ROWS)):
                best[i] = min(best[i], seconds_per_image(step, row.batch, args.images))
        total = [t + b for t, b in zip(total, best)]
        print(f"  {name:14s} depth {sum(s.depth for s in spec.stages)}, "
              + ", ".join(f"{1 / b:,.0f}" for b in best) + " images/s")
    print(f"\n{'row':36s} {'images/s':>9s} {'time / baseline':>16s}")
    for row, t in zip(ROWS, total):
        print(f"{row.name:36s} {len(models) / t:9,.0f} {t / total[0]:15.2f}x")


if __name__ == "__main__":
    main()
