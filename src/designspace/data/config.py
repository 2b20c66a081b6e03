"""Which data set to read, and where it lives.

    from designspace.data import DataConfig
    DataConfig("fashion-mnist", train_subset=1000)       # first 1000 images of each class
    DataConfig("cifar10").info.num_classes               # 10

This module reads no data (`designspace.data.datasets` does, and answers
`dataset_shape` for data sets whose shape only their files know).

Roots are looked up in this order: `DataConfig.root`, the data set's own
environment variable (DESIGNSPACE_FASHION_MNIST, DESIGNSPACE_CIFAR10, ...),
$DESIGNSPACE_DATA/<folder>, then the data set's default location.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from ..errors import DesignspaceError, UnknownNameError, check_keys


@dataclass(frozen=True)
class DatasetInfo:
    """What is known of a data set before reading it (None: read from its files)."""

    name: str
    in_channels: int
    num_classes: int | None  # None: counted from the class folders
    resolution: int | None
    folder: str  # the folder name under $DESIGNSPACE_DATA
    env_var: str
    default_roots: tuple = ()
    how_to_get: str = ""
    in_memory: bool = True  # small images: the whole set lives on the device


DATASETS = {
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", 1, 10, 28, "fashion-mnist", "DESIGNSPACE_FASHION_MNIST", ("/usr/share/datasets/fashion-mnist",),
        "install Debian's dataset-fashion-mnist package (apt install dataset-fashion-mnist) or put the four "
        "*-ubyte.gz files from github.com/zalandoresearch/fashion-mnist there"),
    "mnist": DatasetInfo(
        "mnist", 1, 10, 28, "mnist", "DESIGNSPACE_MNIST", ("/usr/share/datasets/mnist",),
        "put the four MNIST *-ubyte.gz files (train-images-idx3-ubyte.gz, ...) there"),
    "cifar10": DatasetInfo(
        "cifar10", 3, 10, 32, "cifar-10-batches-py", "DESIGNSPACE_CIFAR10", (),
        "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it there"),
    "cifar100": DatasetInfo(
        "cifar100", 3, 100, 32, "cifar-100-python", "DESIGNSPACE_CIFAR100", (),
        "download cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it there"),
    "imagenet": DatasetInfo(
        "imagenet", 3, 1000, 224, "imagenet", "DESIGNSPACE_IMAGENET", (),
        "arrange the images as ROOT/train/<class>/*.JPEG and ROOT/val/<class>/*.JPEG", in_memory=False),
    "folder": DatasetInfo(
        "folder", 3, None, None, "folder", "DESIGNSPACE_FOLDER", (),
        "arrange small images as ROOT/train/<class>/*.png and ROOT/val/<class>/*.png"),
    "synthetic": DatasetInfo("synthetic", 3, 10, 32, "", "", ()),
}
ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
           "cifar-10": "cifar10", "cifar_10": "cifar10", "cifar-100": "cifar100", "cifar_100": "cifar100",
           "folders": "folder", "imagefolder": "folder"}


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise UnknownNameError("data set", name, list(DATASETS))
    return key


@dataclass(frozen=True)
class DataConfig:
    """A data set and how much of it to use.

    train_subset / test_subset: keep the first N images of each class (None: all).
    val_split: hold out this many training images (a fraction if < 1) and evaluate on them instead of the test set.
    resolution: input size for folder data sets (None: the data set's own).
    synthetic_*: size of the synthetic set.
    """

    name: str = "fashion-mnist"
    root: str | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    val_split: float = 0
    resolution: int | None = None
    synthetic_train: int = 10000
    synthetic_test: int = 2000
    synthetic_seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "name", canonical_name(self.name))
        if self.root is not None:
            object.__setattr__(self, "root", os.fspath(self.root))
        for field_name in ("train_subset", "test_subset", "resolution"):
            value = getattr(self, field_name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise DesignspaceError(f"data.{field_name} must be a positive integer or null, got {value!r}")
        if not (isinstance(self.val_split, (int, float)) and self.val_split >= 0):
            raise DesignspaceError(f"data.val_split must be >= 0, got {self.val_split!r}")

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "DataConfig":
        if isinstance(data, str):
            return cls(name=data)
        check_keys(data, cls, "data")
        return cls(**data)

    def candidate_roots(self) -> list[str]:
        """Where the data set is looked for, in order."""
        info = self.info
        if self.root:
            return [os.path.expanduser(self.root)]
        roots = []
        if info.env_var and os.environ.get(info.env_var):
            roots.append(os.path.expanduser(os.environ[info.env_var]))
        if os.environ.get("DESIGNSPACE_DATA") and info.folder:
            base = os.path.expanduser(os.environ["DESIGNSPACE_DATA"])
            roots += [os.path.join(base, info.folder), os.path.join(base, info.name)]
        roots += list(info.default_roots)
        return list(dict.fromkeys(roots))

    def require_root(self) -> str | None:
        """The first existing root (None for synthetic data), or the one-line missing-data error.

        Cheap (no files are read), so a sweep can check before it writes anything.
        """
        if self.name == "synthetic":
            return None
        roots = self.candidate_roots()
        for root in roots:
            if os.path.isdir(root):
                return root
        raise self.missing_error(roots)

    def missing_error(self, looked: list[str], detail: str = "") -> DesignspaceError:
        info = self.info
        where = ", ".join(looked) if looked else f"no location (there is no default folder for {info.name})"
        hint = f"; pass --data-dir DIR or set {info.env_var} or DESIGNSPACE_DATA" if info.env_var else ""
        extra = f" ({detail})" if detail else ""
        return DesignspaceError(f"data set {info.name} not found{extra}; looked in: {where}; to get it: "
                                f"{info.how_to_get}{hint}")
