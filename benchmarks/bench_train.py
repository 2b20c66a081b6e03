"""Training throughput: the usual research loop vs this engine, on the same sampled 400MF-band AnyNetX_A models.

    python benchmarks/bench_train.py                       # CPU: small settings
    python benchmarks/bench_train.py --models 3 --steps 100 --batch-sizes 128 512   # a GPU

Rows per model (32x32 input, 10 classes, synthetic data, SGD momentum):
  (a) baseline: torch DataLoader + per-image CPU augmentation (crop pad 4, flip, normalize), eager,
      contiguous memory, batch 128; fp32 on CPU, bf16 autocast on CUDA
  (b) engine: `designspace.train.train` fast path (device-resident data, on-device augmentation,
      channels_last chosen by measurement, foreach SGD), same batch
  (c) engine + CUDA graph (CUDA only), at each --batch-sizes value
  and, on CUDA with timm importable, timm's regnetx_004 as a third model (baseline and graph rows).
Images/s: the best epoch after the first (which pays warm-up; best-of damps noise from other
processes on a shared machine, the same rule for every row); the one-time cost per model
(channels_last probe, graph warm-up + capture) is printed separately.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from designspace.data import DataConfig, load_dataset
from designspace.data.loader import AugmentedTensorDataset, DeviceLoader
from designspace.train import Recipe, train
from designspace.train.device import autocast, choose_channels_last, resolve_device, synchronize


def sample_models(count: int, seed: int):
    """`count` AnyNetX_A models in the 360-400MF band (at 224), re-headed for 10 classes."""
    from designspace.spaces import get_space

    return [s.spec.with_(num_classes=10, name=f"anynetx_a#{s.index}") for s in
            get_space("anynetx_a").sample(count, seed=seed, flops=(360e6, 400e6))]


class NormalizedDataset(AugmentedTensorDataset):
    """What torchvision's RandomCrop + RandomHorizontalFlip + ToTensor + Normalize do, per image on the CPU."""

    def __init__(self, images, labels, mean, std):
        super().__init__(images, labels, augment=True, pad=4, flip=True)
        self.mean, self.std = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)

    def __getitem__(self, index):
        image, label = super().__getitem__(index)
        return (image.float() / 255 - self.mean) / self.std, label


def baseline_images_per_sec(model, data, batch_size, device, epochs, workers) -> float:
    """The usual loop; returns the best images/s over the epochs after the first."""
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1 * batch_size / 128, momentum=0.9, weight_decay=5e-5)
    dataset = NormalizedDataset(data.train_images, data.train_labels, data.mean, data.std)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    rates = []
    for _ in range(epochs):
        synchronize(device)
        start, seen = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, True):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(y)
        synchronize(device)
        rates.append(seen / (time.perf_counter() - start))
    return max(rates[1:] or rates)


def graphed_module_images_per_sec(model, data, batch_size, device, epochs):
    """A non-AnyNet module (timm) through the engine's captured step -> (images/s, one-time seconds)."""
    from designspace.train.cudagraph import GraphedTrainStep
    from designspace.train.recipe import SGD, parameter_groups

    start = time.perf_counter()
    model = model.to(device).train()
    channels_last, _ = choose_channels_last(model, (batch_size, 3, data.resolution, data.resolution), device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = DeviceLoader(data, batch_size, device, train=True, channels_last=channels_last)
    recipe = Recipe(epochs=epochs, batch_size=batch_size)
    optimizer = SGD(parameter_groups(model, recipe.weight_decay, False), recipe.momentum)
    step = GraphedTrainStep(model, optimizer, loader, recipe.lr_table(len(loader), device), torch.nn.CrossEntropyLoss())
    step.capture()
    one_time = time.perf_counter() - start
    rates = []
    for epoch in range(epochs):
        synchronize(device)
        t0 = time.perf_counter()
        step.start_epoch(loader.order(epoch), epoch * len(loader))
        for _ in range(len(loader)):
            step.replay()
        synchronize(device)
        rates.append(len(loader) * batch_size / (time.perf_counter() - t0))
    return max(rates[1:] or rates), one_time


def engine_row(spec, data, batch_size, device, epochs, cuda_graph, threads):
    result = train(spec, data, Recipe(epochs=epochs, batch_size=batch_size, cuda_graph=cuda_graph, eval_batch_size=1024),
                   device=device, threads=threads, progress=False)
    if result.status != "done":
        return float("nan"), 0.0, result.status
    s = result.settings
    one_time = s.get("channels_last_probe_s", 0.0) + s.get("graph_capture_s", 0.0)
    rates = [e["images_per_sec"] for e in result.epochs]
    return max(rates[1:] or rates), one_time, f"channels_last={s['channels_last']}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps per epoch (default 20 CPU, 100 CUDA)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="graph rows (CUDA; default 128 512)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers (default 1 CPU, 8 CUDA)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # for every row, the baseline included
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (100 if cuda else 20)  # >= 50 steps in all: the engine measures the memory format
    workers = args.workers if args.workers is not None else (8 if cuda else 1)
    batch_sizes = args.batch_sizes or ([128, 512] if cuda else [128])
    data_config = DataConfig("synthetic", synthetic_train=steps * max(batch_sizes + [128]), synthetic_test=1024,
                             resolution=32)
    data = load_dataset(data_config)
    print(f"device {device} ({torch.cuda.get_device_name(device) if cuda else f'{torch.get_num_threads()} threads'}), "
          f"torch {torch.__version__}, {steps} steps x {args.epochs} epochs, baseline workers {workers}")
    print(f"{'model':22s} {'row':34s} {'img/s':>10s} {'vs (a)':>8s} {'one-time s':>10s}  notes")
    ratios = []
    specs = sample_models(args.models, args.seed)
    rows = [(spec.name, spec) for spec in specs]
    if cuda:
        try:
            import timm

            rows.append(("timm regnetx_004", timm.create_model("regnetx_004", num_classes=10)))
        except ImportError:
            print("(timm not importable: no timm row)")
    from designspace.models import build_model

    for name, model_or_spec in rows:
        is_spec = not isinstance(model_or_spec, torch.nn.Module)
        torch.manual_seed(0)
        model = build_model(model_or_spec) if is_spec else model_or_spec
        base = baseline_images_per_sec(model, data, 128, device, args.epochs, workers)
        print(f"{name:22s} {'(a) DataLoader+CPU aug, eager, b128':34s} {base:10.0f} {1.0:8.2f} {'-':>10s}", flush=True)
        if is_spec:
            rate, one_time, note = engine_row(model_or_spec, data, 128, device, args.epochs, False, args.threads)
            print(f"{'':22s} {'(b) engine fast path, eager, b128':34s} {rate:10.0f} {rate / base:8.2f} {one_time:10.2f}  {note}",
                  flush=True)
            ratios.append(rate / base)
        if cuda:
            for batch in batch_sizes:
                if is_spec:
                    rate, one_time, note = engine_row(model_or_spec, data, batch, device, args.epochs, True, args.threads)
                else:
                    torch.manual_seed(0)
                    import timm

                    rate, one_time = graphed_module_images_per_sec(timm.create_model("regnetx_004", num_classes=10),
                                                                   data, batch, device, args.epochs)
                    note = ""
                print(f"{'':22s} {f'(c) engine + CUDA graph, b{batch}':34s} {rate:10.0f} {rate / base:8.2f} "
                      f"{one_time:10.2f}  {note}", flush=True)
    if ratios:
        geo = 1.0
        for r in ratios:
            geo *= r
        print(f"engine fast path / baseline at batch 128 (geometric mean over {len(ratios)} models): "
              f"{geo ** (1 / len(ratios)):.2f}x")


if __name__ == "__main__":
    main()
