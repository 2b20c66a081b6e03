"""Loading a DataConfig into memory, once per process.

    from designspace.data import DataConfig, load_dataset, dataset_shape
    data = load_dataset(DataConfig("fashion-mnist"))   # TensorData: uint8 [N,1,28,28] + labels
    data = load_dataset(DataConfig("fashion-mnist"))   # same object: cached per config
    dataset_shape("cifar10")                           # (3, 10, 32): in_channels, classes, resolution

A sweep worker trains many models on one data set; the cache means the files
are read and decoded once. ImageNet-size data is not loaded but streamed
(StreamingData wraps two FolderDatasets).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import DesignspaceError
from .config import DataConfig

_CACHE: dict = {}
_LOCK = threading.Lock()


@dataclass
class TensorData:
    """A whole data set as tensors: images uint8 [N, C, H, W], labels int64 [N]."""

    config: DataConfig
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int
    classes: list | None = None
    eval_split: str = "test"
    _on_device: dict = field(default_factory=dict, repr=False)

    in_memory = True

    @property
    def in_channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.train_images.shape[2])

    @property
    def mean(self) -> tuple:
        """Per-channel mean of the training images in [0, 1] (computed once)."""
        return self._statistics()[0]

    @property
    def std(self) -> tuple:
        return self._statistics()[1]

    def _statistics(self):
        if "stats" not in self._on_device:
            per_channel = self.train_images.cpu().transpose(0, 1).reshape(self.in_channels, -1)
            mean = [float(c.double().mean()) / 255 for c in per_channel]
            std = [max(float(c.double().std()) / 255, 1e-3) for c in per_channel]
            self._on_device["stats"] = (tuple(mean), tuple(std))
        return self._on_device["stats"]

    def to(self, device) -> "TensorData":
        """The same data with its tensors on `device` (cached: one copy per device)."""
        device = torch.device(device)
        if device.type == "cpu":
            return self
        key = str(device)
        if key not in self._on_device:
            self._on_device[key] = TensorData(self.config, *(t.to(device) for t in (
                self.train_images, self.train_labels, self.test_images, self.test_labels)),
                num_classes=self.num_classes, classes=self.classes, eval_split=self.eval_split)
            self._on_device[key]._on_device["stats"] = self._statistics()
        return self._on_device[key]

    def describe(self) -> dict:
        return {"name": self.config.name, "train_size": len(self.train_labels), "test_size": len(self.test_labels),
                "eval_split": self.eval_split, "in_channels": self.in_channels, "num_classes": self.num_classes,
                "resolution": self.resolution}


@dataclass
class StreamingData:
    """Image folders too large for memory: read per batch through a DataLoader with workers."""

    config: DataConfig
    train_set: object
    test_set: object
    num_classes: int
    resolution: int
    classes: list | None = None
    eval_split: str = "val"
    mean: tuple = (0.485, 0.456, 0.406)  # the usual ImageNet statistics
    std: tuple = (0.229, 0.224, 0.225)

    in_memory = False
    in_channels = 3

    def describe(self) -> dict:
        return {"name": self.config.name, "train_size": len(self.train_set), "test_size": len(self.test_set),
                "eval_split": self.eval_split, "in_channels": 3, "num_classes": self.num_classes,
                "resolution": self.resolution}


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` items of each class, in their original order."""
    keep = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        keep[np.flatnonzero(labels == cls)[:per_class]] = True
    return np.flatnonzero(keep)


def _read_arrays(config: DataConfig):
    """-> (train_x [N,C,H,W] uint8, train_y, test_x, test_y, classes) from the first root that exists."""
    import os

    name = config.name
    if name == "synthetic":
        from .synthetic import make_synthetic

        arrays = make_synthetic(config.synthetic_train, config.synthetic_test, config.resolution or 32,
                                seed=config.synthetic_seed)
        return (*[a.numpy() for a in arrays], None)
    roots = config.candidate_roots()
    existing = [r for r in roots if os.path.isdir(r)]
    if not existing:
        raise config.missing_error(roots)
    root = existing[0]
    try:
        if name in ("fashion-mnist", "mnist"):
            from .idx import load_idx_folder

            train_x, train_y, test_x, test_y = load_idx_folder(root)
            return train_x[:, None], train_y, test_x[:, None], test_y, None
        if name in ("cifar10", "cifar100"):
            from .cifar import load_cifar_folder

            return (*load_cifar_folder(root, 10 if name == "cifar10" else 100), None)
        if name == "folder":
            from .folders import load_folder_tensors

            train_x, train_y, test_x, test_y, classes = load_folder_tensors(root, config.resolution)
            return train_x.numpy(), train_y.numpy(), test_x.numpy(), test_y.numpy(), classes
    except FileNotFoundError as e:
        raise config.missing_error(roots, f"missing {e.filename or e}") from None
    raise AssertionError(name)


def _split_and_subset(config: DataConfig, train_x, train_y, test_x, test_y):
    train_y, test_y = train_y.astype(np.int64), test_y.astype(np.int64)
    eval_split = "test"
    if config.val_split:
        n = len(train_y)
        count = int(round(config.val_split * n)) if config.val_split < 1 else int(config.val_split)
        if not 0 < count < n:
            raise DesignspaceError(f"data.val_split={config.val_split} leaves no training or validation images "
                                   f"(the training set has {n})")
        # A fixed permutation (seed 0): the same held-out images for every model of a sweep.
        order = np.random.default_rng(0).permutation(n)
        held, kept = np.sort(order[:count]), np.sort(order[count:])
        test_x, test_y, train_x, train_y = train_x[held], train_y[held], train_x[kept], train_y[kept]
        eval_split = "val"
    if config.train_subset:
        keep = first_per_class(train_y, config.train_subset)
        train_x, train_y = train_x[keep], train_y[keep]
    if config.test_subset:
        keep = first_per_class(test_y, config.test_subset)
        test_x, test_y = test_x[keep], test_y[keep]
    return train_x, train_y, test_x, test_y, eval_split


def _load_uncached(config: DataConfig):
    if not config.info.in_memory:
        import os

        from .folders import FolderDataset, test_split_dir

        roots = config.candidate_roots()
        root = next((r for r in roots if os.path.isdir(os.path.join(r, "train"))), None)
        if root is None:
            raise config.missing_error(roots, "no train/ folder")
        resolution = config.resolution or config.info.resolution
        try:
            train_set = FolderDataset(os.path.join(root, "train"), resolution, train=True)
            test_set = FolderDataset(test_split_dir(root), resolution, train=False)
        except FileNotFoundError as e:
            raise config.missing_error(roots, f"missing {e.filename or e}") from None
        if config.train_subset or config.test_subset or config.val_split:
            raise DesignspaceError(f"data set {config.name}: subsets and val_split apply to in-memory data sets only")
        return StreamingData(config, train_set, test_set, len(train_set.classes), resolution, train_set.classes)
    train_x, train_y, test_x, test_y, classes = _read_arrays(config)
    num_classes = config.info.num_classes or len(classes)
    for split, y in (("train", train_y), ("test", test_y)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise DesignspaceError(f"data set {config.name}: {split} labels outside 0..{num_classes - 1}")
    train_x, train_y, test_x, test_y, eval_split = _split_and_subset(config, train_x, train_y, test_x, test_y)
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in (train_x, train_y, test_x, test_y)]
    return TensorData(config, *tensors, num_classes=num_classes, classes=classes, eval_split=eval_split)


def load_dataset(config) -> TensorData | StreamingData:
    """A DataConfig (or name, or dict) -> the loaded data set; cached per process, keyed by the config."""
    if isinstance(config, (TensorData, StreamingData)):
        return config
    if not isinstance(config, DataConfig):
        config = DataConfig.from_dict(config)
    key = (config, tuple(config.candidate_roots()))  # the same config may resolve elsewhere after an env change
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load_uncached(config)
        return _CACHE[key]


def dataset_shape(name_or_config) -> tuple[int, int, int]:
    """(in_channels, num_classes, resolution) of a data set name or DataConfig, without loading it.

    Class-folder data ("folder") has no fixed shape: its class folders are counted and
    one image's size is read (`designspace.data.folders.folder_shape`).
    """
    import os

    config = name_or_config if isinstance(name_or_config, DataConfig) else DataConfig(name=name_or_config)
    info = config.info
    if info.num_classes is not None and info.resolution is not None:
        return info.in_channels, info.num_classes, config.resolution or info.resolution
    from .folders import folder_shape

    roots = config.candidate_roots()
    root = next((r for r in roots if os.path.isdir(r)), None)
    if root is None:
        raise config.missing_error(roots)
    try:
        return folder_shape(root, config.resolution)
    except FileNotFoundError as e:
        raise config.missing_error(roots, f"missing {e.filename or e}") from None


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
