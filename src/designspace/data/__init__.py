"""Data sets read from disk (nothing is downloaded) and the loaders that feed training.

    from designspace.data import DataConfig, load_dataset, dataset_shape
    data = load_dataset(DataConfig("fashion-mnist", train_subset=500))
    dataset_shape("cifar10")   # (3, 10, 32)

Names: fashion-mnist, mnist (IDX gz), cifar10, cifar100 (python pickle batches),
imagenet (streamed class folders), folder (small class folders, in memory), synthetic.
"""
from .config import DATASETS, DataConfig, DatasetInfo, canonical_name
from .datasets import StreamingData, TensorData, clear_cache, dataset_shape, load_dataset
from .loader import DeviceLoader, TorchLoader, make_loader, random_crop_flip

__all__ = ["DataConfig", "DatasetInfo", "DATASETS", "canonical_name", "dataset_shape", "load_dataset", "clear_cache",
           "TensorData", "StreamingData", "DeviceLoader", "TorchLoader", "make_loader", "random_crop_flip"]
