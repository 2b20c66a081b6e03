"""Write a CIFAR-10-shaped stand-in from Fashion-MNIST, for machines without CIFAR-10.

    python benchmarks/cifar_standin.py OUT_DIR                 # then: DESIGNSPACE_CIFAR10=OUT_DIR designspace ...

The folder has CIFAR-10's python-batches layout (data_batch_1..5, test_batch) and
sizes: the first 50,000 Fashion-MNIST training images in five batches of 10,000, and its 10,000
test images. Each 28x28 image is zero-padded to 32x32 and repeated over 3 channels. So the
`cifar10` profiles run unchanged on it, with their models (3 input channels, cifar stem), recipe
(batch 512, 10 epochs, crop + flip) and step counts; what they measure is whether that recipe
trains and ranks models on 32x32 images, not the errors CIFAR-10 would give.
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

TRAIN_IMAGES, TRAIN_BATCHES = 50000, 5  # CIFAR-10's training set and its files


def to_cifar_rows(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> uint8 [N, 3072]: padded to 32x32, gray repeated as R, G and B (CIFAR's row layout)."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[:, None], 3, axis=1).reshape(len(images), 3 * 32 * 32)


def write_batch(path: str, rows: np.ndarray, labels: np.ndarray) -> None:
    with open(path + ".tmp", "wb") as f:
        pickle.dump({b"data": rows, b"labels": [int(y) for y in labels]}, f, protocol=2)
    os.replace(path + ".tmp", path)


def write_standin(source: str, out_dir: str) -> str:
    """Fashion-MNIST's IDX folder -> a CIFAR-10 python-batches folder; returns a one-line description."""
    from designspace.data.idx import load_idx_folder

    train_x, train_y, test_x, test_y = load_idx_folder(source)
    train = min(TRAIN_IMAGES, len(train_x))
    os.makedirs(out_dir, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(train), TRAIN_BATCHES)):
        write_batch(os.path.join(out_dir, f"data_batch_{i + 1}"), to_cifar_rows(train_x[part]), train_y[part])
    write_batch(os.path.join(out_dir, "test_batch"), to_cifar_rows(test_x), test_y)
    counts = np.bincount(train_y[:train], minlength=10)
    return (f"{out_dir}: {train} training images ({counts.min()}-{counts.max()} per class), {len(test_x)} test "
            f"images, 32x32x3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist",
                        help="the folder of Fashion-MNIST's four *-ubyte.gz files")
    args = parser.parse_args()
    from designspace.errors import DesignspaceError

    try:
        print(write_standin(args.source, args.out_dir))
    except FileNotFoundError as e:
        print(f"cifar_standin: Fashion-MNIST file not found: {e} (--source names its folder)", file=sys.stderr)
        sys.exit(2)
    except DesignspaceError as e:
        print(f"cifar_standin: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
