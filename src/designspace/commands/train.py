"""`designspace train SPEC_OR_NAME --data NAME [options]`: train one model, write a JSON result.

    designspace train RegNetX-200MF --data fashion-mnist --epochs 2 --out runs/rx200
    designspace train my_spec.yaml --data cifar10 --data-dir ~/data/cifar-10-batches-py --batch-size 256
    torchrun --nproc_per_node=2 -m designspace train regnetx_400mf --data imagenet --data-dir ~/imagenet

The spec's input channels and class count are set from the data set. A rerun
with the same --out resumes from its checkpoint (--no-resume starts over).
"""
from __future__ import annotations

import json
import os
import sys

from ..results import Status


def run(args) -> int:
    from dataclasses import replace

    from ..data import DataConfig, dataset_shape
    from ..errors import DesignspaceError
    from ..train import train
    from ..train.recipe import default_regime, regime
    from .info import resolve_spec

    data = DataConfig(name=args.data, root=args.data_dir, train_subset=args.train_subset,
                      test_subset=args.test_subset, val_split=args.val_split or 0, resolution=args.resolution)
    in_channels, num_classes, resolution = dataset_shape(data)
    spec = resolve_spec(args.model, num_classes=num_classes, in_channels=in_channels)
    overrides = {k: v for k, v in {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "momentum": args.momentum,
        "weight_decay": args.weight_decay, "warmup_epochs": args.warmup_epochs, "label_smoothing": args.label_smoothing,
        "ema_decay": args.ema, "precise_bn_images": args.precise_bn, "test_every": args.test_every, "channels_last": args.channels_last,
        "workers": args.workers}.items() if v is not None}
    if args.nesterov:
        overrides["nesterov"] = True
    if args.no_augment:
        overrides["augment"] = False
    if args.exclude_bn_bias_decay:
        overrides["exclude_norm_and_bias_from_decay"] = True
    if args.cuda_graph:
        overrides["cuda_graph"] = True
    if args.augment:
        overrides["augment"] = True
    recipe = replace(regime(args.regime or default_regime(resolution)), **overrides)
    out_dir = args.out or os.path.join("runs", f"{(spec.name or 'model').replace('/', '_')}-{data.name}-seed{args.seed}")
    result = train(spec, data, recipe, out_dir=out_dir, device=args.device, threads=args.threads, seed=args.seed,
                   resume=not args.no_resume, progress=False if args.quiet else None)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0 if result.status == Status.DONE else 1
    summary = {"status": result.status, "best_error": result.best_error, "final_error": result.final_error,
               "images_per_sec": round(result.images_per_sec, 1), "wall_time": round(result.wall_time, 2),
               "result": os.path.join(out_dir, "result.json")}
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in summary.items()}))
    else:
        print(f"{result.status}: best top-1 error {result.best_error:.2f}%, final {result.final_error:.2f}%, "
              f"{result.images_per_sec:.0f} img/s, {result.wall_time:.1f}s -> {summary['result']}")
    if result.status != Status.DONE:
        print(f"designspace train: {result.message}", file=sys.stderr)
        return 1
    if not isinstance(result.best_error, float):
        raise DesignspaceError("training produced no result")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train one model on a data set (low-epoch regime)",
                       description="Train a zoo model or spec file. Multi-GPU: torchrun --nproc_per_node=N -m "
                                   "designspace train ...")
    p.add_argument("model", help="zoo name (RegNetX-400MF) or a JSON/YAML spec file")
    p.add_argument("--data", required=True, help="fashion-mnist, mnist, cifar10, cifar100, imagenet, folder, synthetic")
    p.add_argument("--data-dir", help="data set folder (default: $DESIGNSPACE_<NAME>, $DESIGNSPACE_DATA/<name>, "
                                      "or the system location)")
    p.add_argument("--regime", choices=["small-images", "imagenet"],
                   help="the recipe to start from (default: small-images for images up to 64 pixels, else imagenet; "
                        "docs/regime.md); the options below change it")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="global batch size (default: the regime's)")
    p.add_argument("--lr", type=float, help="learning rate at batch 128 (scaled linearly; default: the regime's)")
    p.add_argument("--momentum", type=float)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--exclude-bn-bias-decay", action="store_true", help="no weight decay on norm layers and biases")
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--ema", type=float, metavar="DECAY", help="evaluate an EMA of the weights (e.g. 0.999)")
    p.add_argument("--precise-bn", type=int, metavar="IMAGES",
                   help="recompute BN statistics over this many training images before each test (e.g. 2048)")
    p.add_argument("--test-every", type=int, metavar="N",
                   help="test after every N-th epoch and after the last (default 1; training is the same for any N)")
    p.add_argument("--no-augment", action="store_true", help="no crop/flip augmentation")
    p.add_argument("--augment", action="store_true", help="random crop (pad 4) and flip")
    p.add_argument("--channels-last", choices=["auto", "on", "off"])
    p.add_argument("--cuda-graph", action="store_true", help="capture the training step in a CUDA graph (GPU)")
    p.add_argument("--workers", type=int, help="DataLoader workers for streamed (ImageNet) data")
    p.add_argument("--train-subset", type=int, metavar="N", help="first N training images of each class")
    p.add_argument("--test-subset", type=int, metavar="N", help="first N test images of each class")
    p.add_argument("--val-split", type=float, help="hold out this many training images (fraction if < 1) for evaluation")
    p.add_argument("--resolution", type=int, help="input size for folder data sets")
    p.add_argument("--out", help="output folder (checkpoint.pt, result.json)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)
