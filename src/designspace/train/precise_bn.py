"""Precise BN statistics: before a test, replace each batch norm's running averages by the plain
mean of its batch statistics over a fixed number of training images, under the current weights.

    images = recompute_bn_statistics(model, train_loader, images=2048, epoch=1)

The running averages of a short run weight the last few dozen batches (momentum 0.1), so their
sampling noise reaches every test error. Training is unchanged: only the normalization buffers
are rewritten, and the loader's order comes from its own per-epoch generator, not global state.
"""
from __future__ import annotations

import math

import torch

from . import ddp
from .device import autocast


def images_used(images: int, batch_size: int, train_images: int) -> int:
    """How many images recompute_bn_statistics goes through on one process: whole training batches until
    `images` are reached, at most one epoch's full batches (the training loader drops a partial last one)."""
    if images <= 0:
        return 0
    return min(math.ceil(images / batch_size), train_images // batch_size) * batch_size


def batch_norms(model: torch.nn.Module) -> list:
    """The model's batch-norm layers that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_bn_statistics(model: torch.nn.Module, loader, images: int, epoch: int, device=None, amp: bool = False,
                            ctx=None) -> int:
    """Recompute the running statistics over the first `images` training images of the loader's `epoch`
    order (split over DDP ranks, then averaged); the number of images this process used."""
    norms = batch_norms(model)
    if not norms or images <= 0:
        return 0
    world_size = ctx.world_size if ctx is not None and ctx.enabled else 1
    wanted = math.ceil(images / world_size)
    momenta = [norm.momentum for norm in norms]
    was_training = model.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # None: torch keeps an equal-weight average over the batches
    model.train()
    seen = 0
    try:
        for x, _ in loader.epoch(epoch):
            with autocast(device or x.device, amp):
                model(x)
            seen += len(x)
            if seen >= wanted:
                break
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.train(was_training)
    if world_size > 1:
        for norm in norms:
            for buffer in (norm.running_mean, norm.running_var):
                total = ddp.all_reduce_sum(buffer.double(), ctx)
                buffer.copy_(total / world_size)
    return seen
