"""MNIST / Fashion-MNIST IDX files (optionally gzip-compressed).

    from designspace.data.idx import read_idx, load_idx_folder
    images = read_idx("train-images-idx3-ubyte.gz")      # uint8 array [60000, 28, 28]
    train_x, train_y, test_x, test_y = load_idx_folder("/usr/share/datasets/fashion-mnist")

The IDX header is: two zero bytes, a type code, the number of dimensions, then
one big-endian uint32 per dimension; the payload follows in row-major order.
"""
from __future__ import annotations

import gzip
import os

import numpy as np

from ..errors import DesignspaceError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path) -> np.ndarray:
    """One IDX file (plain or .gz) -> numpy array; a malformed file raises DesignspaceError."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DesignspaceError(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DesignspaceError(f"{path}: not an IDX file (bad magic number)")
    dtype = np.dtype(_TYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DesignspaceError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(data) - header != count * dtype.itemsize:
        raise DesignspaceError(f"{path}: IDX payload has {len(data) - header} bytes, header promises "
                               f"{count * dtype.itemsize} for shape {shape}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_file(root: str, stem: str) -> str | None:
    """`stem`, `stem.gz` or the common dotted variant (`train-images.idx3-ubyte`) inside root."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    return None


def load_idx_folder(root: str):
    """A folder with the four standard IDX files -> (train_x [N,28,28], train_y, test_x, test_y) as numpy."""
    arrays = {}
    for key, stem in FILES.items():
        path = find_file(root, stem)
        if path is None:
            raise FileNotFoundError(os.path.join(root, stem + ".gz"))
        arrays[key] = read_idx(path)
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DesignspaceError(f"{root}: {split} images {x.shape} and labels {y.shape} do not match")
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]
