"""CIFAR-10 / CIFAR-100 from the standard "python version" batches folder.

    from designspace.data.cifar import load_cifar_folder
    train_x, train_y, test_x, test_y = load_cifar_folder("~/data/cifar-10-batches-py", num_classes=10)

The batches are pickles. They are read with a restricted unpickler that only
rebuilds plain containers and numpy arrays: anything else (a pickle that would
run code) is refused, so a doctored data folder cannot execute anything.
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from ..errors import DesignspaceError

# (module, name) pairs a CIFAR batch needs: numpy array reconstruction only.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # python 3 pickles of python 2 byte strings
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "bytes"),
    ("builtins", "bytearray"), ("__builtin__", "list"), ("__builtin__", "dict"),
}

TRAIN_FILES = {10: [f"data_batch_{i}" for i in range(1, 6)], 100: ["train"]}
TEST_FILES = {10: ["test_batch"], 100: ["test"]}
LABEL_KEYS = {10: "labels", 100: "fine_labels"}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_batch(path) -> dict:
    """One CIFAR pickle -> dict with str keys; refuses anything but containers and arrays."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = _RestrictedUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DesignspaceError(f"{path}: refused: not a plain CIFAR batch ({e})") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DesignspaceError(f"{path}: cannot read CIFAR batch ({type(e).__name__}: {e})") from None
    if not isinstance(raw, dict):
        raise DesignspaceError(f"{path}: a CIFAR batch must be a dict, got {type(raw).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _images_labels(path, label_key):
    batch = read_batch(path)
    if "data" not in batch or label_key not in batch:
        raise DesignspaceError(f"{path}: CIFAR batch lacks 'data' or '{label_key}' (keys: {sorted(batch)})")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DesignspaceError(f"{path}: expected uint8 data [N, 3072] with N labels, got {data.dtype} {data.shape}"
                               f" and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar_folder(root: str, num_classes: int = 10):
    """The batches folder -> (train_x [N,3,32,32] uint8, train_y, test_x, test_y) as numpy."""
    out = []
    for names in (TRAIN_FILES[num_classes], TEST_FILES[num_classes]):
        xs, ys = [], []
        for name in names:
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            x, y = _images_labels(path, LABEL_KEYS[num_classes])
            xs.append(x)
            ys.append(y)
        out += [np.concatenate(xs), np.concatenate(ys)]
    return tuple(out)
