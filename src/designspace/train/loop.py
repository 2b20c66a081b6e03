"""`train()`: one model, one data set, one recipe -> TrainResult (and out_dir/result.json).

    from designspace import get_spec
    from designspace.data import DataConfig
    from designspace.train import Recipe, train
    result = train(get_spec("RegNetX-200MF"), DataConfig("fashion-mnist"), Recipe(epochs=2), out_dir="runs/a")

Each epoch: train (device-resident batches, or a DataLoader for streamed data;
eagerly or as a replayed CUDA graph), evaluate top-1/top-5, record metrics,
write out_dir/checkpoint.pt atomically. A rerun with the same out_dir resumes
from the checkpoint; on CPU the resumed run ends with the same weights as an
uninterrupted one (per-epoch seeded order/augmentation + saved RNG state).
A non-finite loss ends the run as "diverged", CUDA out-of-memory as "oom".
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import replace

import torch

from ..data import DataConfig, load_dataset, make_loader
from ..errors import DesignspaceError
from ..io import atomic_write_json
from ..models import build_model
from . import ddp
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, restore_rng, run_fingerprint, save_checkpoint
from .device import (autocast, choose_channels_last, configure, device_name, host_name, is_oom, peak_memory_mb,
                     reset_peak_memory, resolve_device, synchronize)
from .ema import ModelEMA
from .progress import make_progress
from .recipe import SGD, Recipe, parameter_groups
from .result import TrainResult, summarize_errors

RESULT_NAME = "result.json"


PROBE_MIN_STEPS = 50  # measure the memory format only for runs at least this long


class Diverged(Exception):
    pass


def _total_steps(data, recipe, per_rank_batch, ctx) -> int:
    train_size = data.describe()["train_size"]
    return recipe.epochs * ((train_size // ctx.world_size) // per_rank_batch)


def _as_data(data):
    if isinstance(data, (str, dict)):
        data = DataConfig.from_dict(data)
    return load_dataset(data)


def _as_recipe(recipe):
    if recipe is None:
        return Recipe()
    return recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)


@torch.no_grad()
def evaluate(model, loader, device, amp: bool, ctx) -> tuple[float, float, float]:
    """(mean loss, top-1 error %, top-5 error %) over the loader, summed over DDP ranks."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1 wrong, top5 wrong, count
    for x, y in loader.epoch(0):
        with autocast(device, amp):
            out = model(x)
        out = out.float()
        k = min(5, out.shape[1])
        topk = out.topk(k, dim=1).indices
        hit = topk == y[:, None]
        totals += torch.stack([torch.nn.functional.cross_entropy(out, y, reduction="sum").double(),
                               (~hit[:, 0]).sum().double(), (~hit.any(1)).sum().double(),
                               torch.tensor(float(len(y)), dtype=torch.float64, device=device)])
    model.train()
    totals = ddp.all_reduce_sum(totals, ctx).tolist()
    count = max(totals[3], 1.0)
    return totals[0] / count, 100.0 * totals[1] / count, 100.0 * totals[2] / count


def _train_epoch_eager(model, optimizer, loader, epoch, first_step, lr_table, criterion, device, amp, ema, progress,
                       check_every, ctx):
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    step = first_step
    for i, (x, y) in enumerate(loader.epoch(epoch)):
        with autocast(device, amp):
            out = model(x)
            loss = criterion(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(lr_table[step])
        if ema is not None:
            ema.update(model.module if hasattr(model, "module") else model)
        step += 1
        loss_sum += loss.detach().double()
        correct += (out.detach().argmax(1) == y).sum()
        if (i + 1) % check_every == 0 or i + 1 == len(loader):
            diverged = not math.isfinite(float(loss_sum))
            if ddp.any_rank(diverged, ctx, device):  # every rank stops at the same step
                raise Diverged(f"non-finite training loss at epoch {epoch + 1}, step {i + 1}")
            progress.advance(check_every if (i + 1) % check_every == 0 else (i + 1) % check_every,
                             float(loss.detach()))
    return float(loss_sum), int(correct)


def _train_epoch_graphed(graphed, loader, epoch, first_step, progress, check_every):
    graphed.start_epoch(loader.order(epoch), first_step)
    for i in range(len(loader)):
        graphed.replay()
        if (i + 1) % check_every == 0 or i + 1 == len(loader):
            loss_sum, _ = graphed.epoch_totals()
            if not math.isfinite(loss_sum):
                raise Diverged(f"non-finite training loss at epoch {epoch + 1}, step {i + 1}")
            progress.advance(check_every if (i + 1) % check_every == 0 else (i + 1) % check_every)
    return graphed.epoch_totals()


def train(spec, data="fashion-mnist", recipe=None, out_dir=None, device="auto", threads=None, seed: int = 0,
          resume: bool = True, progress=None) -> TrainResult:
    """Train `spec` on `data` (a DataConfig, name, dict or loaded data set) with `recipe`; see the module doc."""
    started = time.perf_counter()
    recipe = _as_recipe(recipe)
    ctx = ddp.from_environment(device)
    try:
        return _train(spec, data, recipe, out_dir, device, threads, seed, resume, progress, ctx, started)
    except Exception as e:
        if not is_oom(e):  # out of memory before the first epoch (model build, memory-format probe)
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        result = TrainResult(status="oom", best_error=math.nan, final_error=math.nan, device=str(device),
                             host=host_name(), wall_time=time.perf_counter() - started,
                             settings={"spec": spec.to_dict(), "recipe": recipe.to_dict(), "seed": seed},
                             message=f"out of memory: {str(e).strip().splitlines()[0][:200]}")
        if out_dir and ctx.is_main:
            atomic_write_json(os.path.join(out_dir, RESULT_NAME), result.to_dict())
        return result
    finally:
        ddp.shutdown(ctx)


def _train(spec, data, recipe, out_dir, device, threads, seed, resume, progress, ctx, started):
    device = ddp.device_for(ctx, resolve_device(device))
    configure(device, threads, seed)
    data = _as_data(data)
    if (spec.in_channels, spec.num_classes) != (data.in_channels, data.num_classes):
        spec = replace(spec, in_channels=data.in_channels, num_classes=data.num_classes)
    progress = make_progress(progress if ctx.is_main else False)
    amp = recipe.amp and device.type == "cuda"
    per_rank_batch = recipe.batch_size // ctx.world_size
    if ctx.enabled and recipe.batch_size % ctx.world_size:
        raise DesignspaceError(f"batch size {recipe.batch_size} does not split evenly over {ctx.world_size} processes")
    fingerprint = run_fingerprint(spec, recipe, data.config, seed, ctx.world_size)
    checkpoint_path = os.path.join(out_dir, CHECKPOINT_NAME) if out_dir else None
    state = None
    if checkpoint_path and resume and os.path.exists(checkpoint_path):
        state = load_checkpoint(checkpoint_path, expect=fingerprint)

    model = build_model(spec, zero_init_last_bn=recipe.zero_init_last_bn).to(device)
    setup_timings = {}
    if state is not None:
        channels_last = state["channels_last"]
    elif recipe.channels_last == "auto" and _total_steps(data, recipe, per_rank_batch, ctx) < PROBE_MIN_STEPS:
        channels_last = False  # the probe (~9 steps) cannot pay for itself in so short a run
        setup_timings["channels_last_ms"] = {"skipped": "run too short to measure"}
    elif recipe.channels_last == "auto":
        t0 = time.perf_counter()
        shape = (per_rank_batch, data.in_channels, data.resolution, data.resolution)
        try:
            channels_last, setup_timings["channels_last_ms"] = choose_channels_last(model, shape, device, amp)
        except Exception as error:  # the probe holds a second copy: running out there is not the run's oom
            if not is_oom(error):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            channels_last, setup_timings["channels_last_ms"] = False, {"skipped": "probe ran out of memory"}
        setup_timings["channels_last_probe_s"] = round(time.perf_counter() - t0, 3)
        if ctx.enabled:  # every rank must use the same format: rank 0 decides
            flag = torch.tensor([float(channels_last)], device=device)
            torch.distributed.broadcast(flag, 0)
            channels_last = bool(flag.item())
    else:
        channels_last = recipe.channels_last == "on"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = SGD(parameter_groups(model, recipe.weight_decay, recipe.exclude_norm_and_bias_from_decay),
                    recipe.momentum, recipe.nesterov)
    ema = ModelEMA(model, recipe.ema_decay) if recipe.ema_decay else None
    history, start_epoch, step = [], 0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        history, start_epoch, step = state["history"], state["epoch"], state["step"]
        restore_rng(state)
        progress.log(f"resuming from {checkpoint_path} at epoch {start_epoch}")

    fast = recipe.fast_loader and data.in_memory
    loader_kw = dict(augment=recipe.augment, pad=recipe.crop_padding, seed=seed, rank=ctx.rank,
                     world_size=ctx.world_size, channels_last=channels_last)
    workers = recipe.workers if not data.in_memory else 0
    train_loader = make_loader(data, per_rank_batch, device, True, fast=fast, workers=workers, **loader_kw)
    test_loader = make_loader(data, max(1, recipe.eval_batch_size // ctx.world_size), device, False, fast=fast,
                              workers=workers, **loader_kw)
    steps_per_epoch = len(train_loader)
    lr_table = recipe.lr_table(steps_per_epoch, device)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    net = ddp.wrap(model, ctx, device)

    graphed = None
    use_graph = recipe.cuda_graph and device.type == "cuda" and fast and not ctx.enabled
    settings = {"spec": spec.to_dict(), "recipe": recipe.to_dict(), "data": data.config.to_dict(),
                "data_sizes": data.describe(), "seed": seed, "peak_lr": recipe.peak_lr, "steps_per_epoch": steps_per_epoch,
                "per_process_batch": per_rank_batch, "world_size": ctx.world_size, "backend": ctx.backend,
                "channels_last": channels_last, "autocast": "bf16" if amp else "fp32", "cuda_graph": use_graph,
                "loader": "device" if fast else "dataloader", "threads": torch.get_num_threads(),
                "torch": torch.__version__, **setup_timings}
    status, message = "done", None
    check_every = 1 if device.type == "cpu" else 50
    try:
        if use_graph and start_epoch < recipe.epochs:
            t0 = time.perf_counter()
            from .cudagraph import GraphedTrainStep

            graphed = GraphedTrainStep(model, optimizer, train_loader, lr_table, criterion, amp, ema)
            graphed.capture()
            settings["graph_capture_s"] = round(time.perf_counter() - t0, 3)
        settings["setup_time"] = round(time.perf_counter() - started, 3)
        for epoch in range(start_epoch, recipe.epochs):
            reset_peak_memory(device)
            progress.start_epoch(epoch + 1, recipe.epochs, steps_per_epoch)
            synchronize(device)
            t0 = time.perf_counter()
            net.train()
            if graphed is not None:
                loss_sum, correct = _train_epoch_graphed(graphed, train_loader, epoch, step, progress, check_every)
            else:
                loss_sum, correct = _train_epoch_eager(net, optimizer, train_loader, epoch, step, lr_table, criterion,
                                                       device, amp, ema, progress, check_every, ctx)
            synchronize(device)
            train_time = time.perf_counter() - t0
            step += steps_per_epoch
            totals = ddp.all_reduce_sum(torch.tensor([loss_sum, float(correct), float(steps_per_epoch),
                                                      float(steps_per_epoch * per_rank_batch)],
                                                     dtype=torch.float64, device=device), ctx).tolist()
            eval_model = ema.module if ema is not None else model
            _, test_error, top5_error = evaluate(eval_model, test_loader, device, amp, ctx)
            record = {"epoch": epoch + 1, "train_loss": totals[0] / totals[2],
                      "train_error": 100.0 * (1 - totals[1] / totals[3]), "test_error": test_error,
                      "test_top5_error": top5_error,
                      "images_per_sec": totals[3] / max(train_time, 1e-9),
                      "wall_time": time.perf_counter() - t0, "peak_mem_mb": peak_memory_mb(device),
                      "lr": float(lr_table[min(step - 1, len(lr_table) - 1)])}
            if ema is not None:
                record["raw_test_error"] = evaluate(model, test_loader, device, amp, ctx)[1]
            history.append(record)
            if checkpoint_path and ctx.is_main:
                save_checkpoint(checkpoint_path, fingerprint=fingerprint, epoch=epoch + 1, step=step, model=model,
                                optimizer=optimizer, ema=ema, history=history, channels_last=channels_last)
            ddp.barrier(ctx)
            progress.end_epoch(record, recipe.epochs)  # after the checkpoint: a logged epoch is a saved epoch
    except Diverged as e:
        status, message = "diverged", str(e)
    except Exception as e:
        if not is_oom(e):
            raise
        status, message = "oom", f"out of memory: {str(e).strip().splitlines()[0][:200]}"
        graphed = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
    finally:
        progress.close()
    if status != "done":
        progress.log(f"run ended: {status}: {message}")
    best, final = summarize_errors(history)
    result = TrainResult(status=status, best_error=best, final_error=final, epochs=history,
                         wall_time=sum(e["wall_time"] for e in history) + settings.get("setup_time", 0.0),
                         images_per_sec=_mean_throughput(history), device=device_name(device), host=host_name(),
                         settings=settings, message=message)
    if out_dir and ctx.is_main:
        atomic_write_json(os.path.join(out_dir, RESULT_NAME), result.to_dict())
    return result


def _mean_throughput(history) -> float:
    """Images per second over all epochs: total images / total training time."""
    rates = [e["images_per_sec"] for e in history if e["images_per_sec"] > 0]
    return len(rates) / sum(1.0 / r for r in rates) if rates else 0.0
