"""One model on several processes with DistributedDataParallel.

    torchrun --nproc_per_node=8 -m designspace train RegNetX-400MF --data imagenet --data-dir ~/imagenet
    torchrun --standalone --nproc_per_node=2 -m designspace train regnetx_200mf --data fashion-mnist --device cpu

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; `train()` then joins the process
group (NCCL on GPUs, gloo on CPU), shards every epoch's shuffled order between
the ranks, sums the metrics over ranks, and only rank 0 writes checkpoints and
the result file. The batch size in the recipe is the global batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False  # we initialized the group, so we tear it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def from_environment(device_request: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment; a plain run gets a 1-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = str(device_request).startswith("cuda") or (device_request in (None, "auto") and torch.cuda.is_available())
    backend = "nccl" if wants_cuda else "gloo"
    owns = False
    if not dist.is_initialized():
        if wants_cuda:  # a launcher may show each process only its own GPU
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dist.init_process_group(backend=backend)
        owns = True
    return DistContext(rank, world_size, local_rank, dist.get_backend(), owns)


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    if ctx.enabled and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank % torch.cuda.device_count())
    return device


def wrap(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a (float64) tensor over ranks, in place; a no-op for one process."""
    if ctx.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True if `flag` is true on any rank (so every rank stops together on a divergence)."""
    if not ctx.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
