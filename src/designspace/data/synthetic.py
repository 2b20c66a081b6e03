"""A synthetic image set for benchmarks and tests: no files, deterministic from a seed.

    from designspace.data.synthetic import make_synthetic
    train_x, train_y, test_x, test_y = make_synthetic(num_train=1024, num_test=256, resolution=32)

Each class has its own smooth random template; an image is its class template plus
noise, so a working training loop learns it quickly and a broken one does not.
"""
from __future__ import annotations

import torch


def make_synthetic(num_train: int = 10000, num_test: int = 2000, resolution: int = 32, channels: int = 3,
                   num_classes: int = 10, seed: int = 0, noise: float = 48.0):
    generator = torch.Generator().manual_seed(seed)
    # smooth templates (4x4 upsampled): a shifted or mirrored crop still looks like its class
    coarse = torch.rand(num_classes, channels, 4, 4, generator=generator) * 255
    templates = torch.nn.functional.interpolate(coarse, size=(resolution, resolution), mode="bilinear",
                                                align_corners=False)

    def split(n):
        labels = torch.randint(0, num_classes, (n,), generator=generator)
        noise_part = torch.randn(n, channels, resolution, resolution, generator=generator) * noise
        images = (templates[labels] + noise_part).round_().clamp_(0, 255).to(torch.uint8)
        return images, labels

    return (*split(num_train), *split(num_test))
