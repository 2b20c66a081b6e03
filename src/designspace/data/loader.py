"""Batches for training and evaluation, two ways with the same order.

    from designspace.data.loader import DeviceLoader, TorchLoader
    loader = DeviceLoader(data, batch_size=128, device="cuda", train=True, seed=0)
    for x, y in loader.epoch(0):   # float, normalized, on the device; static shapes (the ragged tail is dropped)
        ...

DeviceLoader keeps the whole (small-image) data set on the device as uint8 and
augments per batch there (random crop with zero padding + horizontal flip, one
gather). TorchLoader is the classic path: a torch DataLoader with per-image CPU
augmentation and workers; it serves ImageNet-size data and is the benchmark
baseline. Both take epoch e's order from the same seeded permutation, so
without augmentation they yield identical batches.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import DesignspaceError


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch`'s shuffle and augmentation: independent of how the run got there (resume)."""
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 12345) % (2 ** 63 - 1)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool, rank: int = 0, world_size: int = 1,
                equal_shards: bool = True) -> torch.Tensor:
    """This rank's indices for one epoch (CPU int64); equal-size shards so DDP ranks stay in step."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch))) if shuffle \
        else torch.arange(n)
    if world_size > 1:
        if equal_shards:
            order = order[: (n // world_size) * world_size]
        order = order[rank::world_size]
    return order


def rank_steps(n: int, batch_size: int, train: bool, rank: int, world_size: int) -> tuple[int, int]:
    """(this rank's images, its steps per epoch): training drops the ragged tail, evaluation keeps it."""
    per_rank = (n // world_size) if train else len(range(rank, n, world_size))
    steps = per_rank // batch_size if train else math.ceil(per_rank / batch_size)
    if train and steps == 0:
        raise DesignspaceError(f"batch size {batch_size} (x{world_size} processes) is larger than the training "
                               f"set ({n} images)")
    return per_rank, steps


def crop_flip_indices(batch: int, height: int, width: int, pad: int, flip: bool, device, generator=None):
    """Row and column indices into the padded images for a random crop (+ flip) of each image."""
    offsets = torch.randint(0, 2 * pad + 1, (2, batch), device=device, generator=generator)
    rows = offsets[0, :, None] + torch.arange(height, device=device)
    cols = offsets[1, :, None] + torch.arange(width, device=device)
    if flip:
        flipped = torch.rand(batch, device=device, generator=generator) < 0.5
        cols = torch.where(flipped[:, None], cols.flip(1), cols)  # a flip is the crop read right to left
    return rows, cols


def random_crop_flip(images: torch.Tensor, pad: int = 4, flip: bool = True, generator=None) -> torch.Tensor:
    """Batched random crop with zero padding and horizontal flip, one gather; returns channels_last-strided."""
    batch, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    rows, cols = crop_flip_indices(batch, height, width, pad, flip, images.device, generator)
    out = padded[torch.arange(batch, device=images.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)  # [B,H,W,C] storage viewed as [B,C,H,W]


class Normalizer:
    """uint8 images -> float, (x/255 - mean) / std, in the requested memory format."""

    def __init__(self, mean, std, device, channels_last: bool = False):
        self.scale = (1.0 / (255.0 * torch.tensor(std, dtype=torch.float32, device=device))).view(1, -1, 1, 1)
        self.shift = (torch.tensor(mean, dtype=torch.float32, device=device) * 255.0).view(1, -1, 1, 1)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - self.shift) * self.scale
        return x.contiguous(memory_format=self.memory_format)


class DeviceLoader:
    """The whole data set on the device; per-batch augmentation on the device; no workers."""

    def __init__(self, data, batch_size: int, device, train: bool = True, augment: bool = True, pad: int = 4,
                 flip: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1, channels_last: bool = False):
        self.device = torch.device(device)
        on_device = data.to(self.device)
        self.images = on_device.train_images if train else on_device.test_images
        self.labels = on_device.train_labels if train else on_device.test_labels
        self.batch_size, self.train, self.seed = int(batch_size), train, seed
        self.augment, self.pad, self.flip = augment and train, pad, flip
        self.rank, self.world_size = rank, world_size
        self.normalize = Normalizer(data.mean, data.std, self.device, channels_last)
        self.num_images, self.steps = rank_steps(len(self.labels), self.batch_size, train, rank, world_size)

    def __len__(self):
        return self.steps

    def order(self, epoch: int) -> torch.Tensor:
        order = epoch_order(len(self.labels), self.seed, epoch, self.train, self.rank, self.world_size,
                            equal_shards=self.train)
        return order.to(self.device, non_blocking=True)

    def generator(self, epoch: int):
        if not self.augment:
            return None
        # ranks draw different crops from the same shuffled order
        return torch.Generator(device=self.device).manual_seed(epoch_seed(self.seed, epoch) + 1 + 7919 * self.rank)

    def batch(self, indices: torch.Tensor, generator=None):
        """Gather + augment + normalize: pure tensor ops (also used inside a captured CUDA graph)."""
        images = self.images.index_select(0, indices)
        if self.augment:
            images = random_crop_flip(images, self.pad, self.flip, generator)
        return self.normalize(images), self.labels.index_select(0, indices)

    def epoch(self, epoch: int):
        order, generator = self.order(epoch), self.generator(epoch)
        for step in range(self.steps):
            yield self.batch(order[step * self.batch_size:(step + 1) * self.batch_size], generator)


class AugmentedTensorDataset(torch.utils.data.Dataset):
    """Per-image CPU augmentation of uint8 tensors, as a torchvision-style pipeline would do it."""

    def __init__(self, images, labels, augment: bool, pad: int = 4, flip: bool = True):
        self.images, self.labels, self.augment, self.pad, self.flip = images, labels, augment, pad, flip

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index]
        if self.augment:
            _, h, w = image.shape
            padded = F.pad(image, (self.pad,) * 4) if self.pad else image
            top, left = (int(v) for v in torch.randint(0, 2 * self.pad + 1, (2,)))
            image = padded[:, top:top + h, left:left + w]
            if self.flip and torch.rand(()) < 0.5:
                image = image.flip(2)
        return image.contiguous(), self.labels[index]


class _OrderSampler(torch.utils.data.Sampler):
    def __init__(self, order):
        self.order = order

    def __len__(self):
        return len(self.order)

    def __iter__(self):
        return iter(self.order.tolist())


class TorchLoader:
    """A torch DataLoader (CPU augmentation, optional workers) with DeviceLoader's interface and order."""

    def __init__(self, data, batch_size: int, device, train: bool = True, augment: bool = True, pad: int = 4,
                 flip: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1, channels_last: bool = False,
                 workers: int = 0):
        self.device = torch.device(device)
        if data.in_memory:
            images = data.train_images if train else data.test_images
            labels = data.train_labels if train else data.test_labels
            self.dataset = AugmentedTensorDataset(images, labels, augment and train, pad, flip)
        else:  # folder images: the dataset itself crops (Inception style for training)
            self.dataset = data.train_set if train else data.test_set
        self.batch_size, self.train, self.seed, self.workers = int(batch_size), train, seed, int(workers)
        self.rank, self.world_size = rank, world_size
        self.normalize = Normalizer(data.mean, data.std, self.device, channels_last)
        self.num_images, self.steps = rank_steps(len(self.dataset), self.batch_size, train, rank, world_size)

    def __len__(self):
        return self.steps

    def epoch(self, epoch: int):
        order = epoch_order(len(self.dataset), self.seed, epoch, self.train, self.rank, self.world_size,
                            equal_shards=self.train)
        if hasattr(self.dataset, "epoch"):
            self.dataset.epoch = epoch
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=self.batch_size, sampler=_OrderSampler(order), num_workers=self.workers,
            drop_last=self.train, pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(epoch_seed(self.seed, epoch) + 2),
            persistent_workers=False)
        if self.workers == 0:
            # in-process augmentation draws from the global RNG: seed it per epoch for reproducibility
            state = torch.get_rng_state()
            torch.default_generator.manual_seed(epoch_seed(self.seed, epoch) + 3)  # CPU only: leave CUDA's alone
        try:
            for images, labels in loader:
                images = images.to(self.device, non_blocking=True)
                yield self.normalize(images), labels.to(self.device, non_blocking=True)
        finally:
            if self.workers == 0:
                torch.set_rng_state(state)


def make_loader(data, batch_size: int, device, train: bool, fast: bool | None = None, **kw):
    """DeviceLoader for in-memory data (unless fast=False), TorchLoader otherwise."""
    if fast is None:
        fast = data.in_memory
    if fast and not data.in_memory:
        raise DesignspaceError(f"data set {data.config.name} is streamed from disk; the device-resident path needs "
                               "an in-memory data set")
    workers = kw.pop("workers", 0)
    if fast:
        return DeviceLoader(data, batch_size, device, train=train, **kw)
    return TorchLoader(data, batch_size, device, train=train, workers=workers, **kw)
