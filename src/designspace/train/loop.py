"""`train()`: one model, one data set, one recipe -> TrainResult (and out_dir/result.json).

    from designspace import get_spec
    from designspace.data import DataConfig
    from designspace.train import Recipe, train
    result = train(get_spec("RegNetX-200MF"), DataConfig("fashion-mnist"), Recipe(epochs=2), out_dir="runs/a")

A `Trainer` does the work in small steps: `setup` (device, data, model, memory format,
optimizer, resume, loaders, the epoch runner), then per epoch `train_epoch`, `evaluate`
and `checkpoint`, and `finish`. An epoch runs eagerly or as a replayed CUDA graph behind one
interface (`EagerEpochs`, `GraphedEpochs`). Each epoch writes out_dir/checkpoint.pt
atomically; a rerun with the same out_dir resumes, and on CPU ends with the same weights as
an uninterrupted run (per-epoch seeded order and augmentation, saved RNG state). A
non-finite loss ends the run as `diverged`, out-of-memory as `oom`.
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
from ..models.small_maps import training_convolutions
from ..results import Status
from . import ddp
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, restore_rng, run_fingerprint, save_checkpoint
from .device import (autocast, choose_channels_last, configure, device_name, host_name, is_oom, peak_memory_mb,
                     reset_peak_memory, resolve_device, synchronize)
from .ema import ModelEMA
from .precise_bn import recompute_bn_statistics
from .progress import make_progress
from .recipe import SGD, Recipe, parameter_groups
from .result import TrainResult, summarize_errors

RESULT_NAME = "result.json"
PROBE_MIN_STEPS = 50  # measure the memory format only for runs at least this long


class Diverged(Exception):
    pass


@torch.no_grad()
def evaluate(model, loader, device, amp: bool, ctx) -> tuple[float, float, float]:
    """(mean loss, top-1 error %, top-5 error %) over the loader, summed over DDP ranks."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1 wrong, top5 wrong, count
    for x, y in loader.epoch(0):
        with autocast(device, amp):
            out = model(x)
        out = out.float()
        hit = out.topk(min(5, out.shape[1]), dim=1).indices == y[:, None]
        totals += torch.stack([torch.nn.functional.cross_entropy(out, y, reduction="sum").double(),
                               (~hit[:, 0]).sum().double(), (~hit.any(1)).sum().double(),
                               torch.tensor(float(len(y)), dtype=torch.float64, device=device)])
    model.train()
    totals = ddp.all_reduce_sum(totals, ctx).tolist()
    count = max(totals[3], 1.0)
    return totals[0] / count, 100.0 * totals[1] / count, 100.0 * totals[2] / count


def _check_finite(loss_sum: float, epoch: int, step: int, ctx=None, device=None) -> None:
    diverged = not math.isfinite(loss_sum)
    if ctx is not None and ddp.any_rank(diverged, ctx, device):  # every rank stops at the same step
        diverged = True
    if diverged:
        raise Diverged(f"non-finite training loss at epoch {epoch + 1}, step {step}")


class EagerEpochs:
    """Training steps run one by one in Python (any device, DDP, streamed data)."""

    def __init__(self, net, optimizer, loader, lr_table, criterion, device, amp, ema, ctx, check_every: int):
        self.net, self.optimizer, self.loader, self.lr_table = net, optimizer, loader, lr_table
        self.criterion, self.device, self.amp, self.ema, self.ctx = criterion, device, amp, ema, ctx
        self.check_every = check_every

    def run(self, epoch: int, first_step: int, progress) -> tuple[float, int]:
        """One epoch -> (sum of the steps' mean losses, correct predictions)."""
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        model = self.net.module if hasattr(self.net, "module") else self.net
        for i, (x, y) in enumerate(self.loader.epoch(epoch)):
            with autocast(self.device, self.amp):
                out = self.net(x)
                loss = self.criterion(out, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step(self.lr_table[first_step + i])
            if self.ema is not None:
                self.ema.update(model)
            loss_sum += loss.detach().double()
            correct += (out.detach().argmax(1) == y).sum()
            if (i + 1) % self.check_every == 0 or i + 1 == len(self.loader):
                _check_finite(float(loss_sum), epoch, i + 1, self.ctx, self.device)
                progress.advance((i % self.check_every) + 1, float(loss.detach()))
        return float(loss_sum), int(correct)


class GraphedEpochs:
    """The whole training step captured once as a CUDA graph and replayed (CUDA, in-memory data, one process)."""

    def __init__(self, model, optimizer, loader, lr_table, criterion, amp, ema, check_every: int):
        from .cudagraph import GraphedTrainStep

        self.loader, self.check_every = loader, check_every
        self.step = GraphedTrainStep(model, optimizer, loader, lr_table, criterion, amp, ema)
        started = time.perf_counter()
        self.step.capture()
        self.capture_seconds = round(time.perf_counter() - started, 3)

    def run(self, epoch: int, first_step: int, progress) -> tuple[float, int]:
        self.step.start_epoch(self.loader.order(epoch), first_step)
        for i in range(len(self.loader)):
            self.step.replay()
            if (i + 1) % self.check_every == 0 or i + 1 == len(self.loader):
                _check_finite(self.step.epoch_totals()[0], epoch, i + 1)
                progress.advance((i % self.check_every) + 1)
        return self.step.epoch_totals()


class Trainer:
    """One training run; see the module docstring for its steps."""

    def __init__(self, spec, data, recipe: Recipe, out_dir=None, device="auto", threads=None, seed: int = 0,
                 resume: bool = True, progress=None, ctx=None):
        self.spec, self.data_request, self.recipe, self.out_dir = spec, data, recipe, out_dir
        self.device_request, self.threads, self.seed, self.resume = device, threads, seed, resume
        self.ctx = ctx or ddp.DistContext()
        self.progress = make_progress(progress if self.ctx.is_main else False)
        self.started = time.perf_counter()
        self.history, self.start_epoch, self.step = [], 0, 0
        self.settings: dict = {}

    # ---- setup -----------------------------------------------------------------------------------
    def setup(self) -> None:
        self.device = ddp.device_for(self.ctx, resolve_device(self.device_request))
        configure(self.device, self.threads, self.seed)
        self.data = load_dataset(self.data_request)
        if (self.spec.in_channels, self.spec.num_classes) != (self.data.in_channels, self.data.num_classes):
            self.spec = replace(self.spec, in_channels=self.data.in_channels, num_classes=self.data.num_classes)
        self.amp = self.recipe.amp and self.device.type == "cuda"
        if self.ctx.enabled and self.recipe.batch_size % self.ctx.world_size:
            raise DesignspaceError(f"batch size {self.recipe.batch_size} does not split evenly over "
                                   f"{self.ctx.world_size} processes")
        self.batch = self.recipe.batch_size // self.ctx.world_size
        self.fingerprint = run_fingerprint(self.spec, self.recipe, self.data.config, self.seed, self.ctx.world_size)
        self.checkpoint_path = os.path.join(self.out_dir, CHECKPOINT_NAME) if self.out_dir else None
        state = None
        if self.checkpoint_path and self.resume and os.path.exists(self.checkpoint_path):
            state = load_checkpoint(self.checkpoint_path, expect=self.fingerprint)
        self.model = build_model(self.spec, zero_init_last_bn=self.recipe.zero_init_last_bn).to(self.device)
        self.channels_last = state["channels_last"] if state is not None else self._choose_memory_format()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = SGD(parameter_groups(self.model, self.recipe.weight_decay,
                                              self.recipe.exclude_norm_and_bias_from_decay),
                             self.recipe.momentum, self.recipe.nesterov, self.recipe.grad_clip)
        self.ema = ModelEMA(self.model, self.recipe.ema_decay) if self.recipe.ema_decay else None
        if state is not None:
            self._restore(state)
        self._make_loaders()
        self.settings["setup_time"] = round(time.perf_counter() - self.started, 3)

    def _choose_memory_format(self) -> bool:
        """channels_last: as the recipe says, or measured ("auto") when the run is long enough to pay for it."""
        if self.recipe.channels_last != "auto":
            return self.recipe.channels_last == "on"
        steps = self.recipe.epochs * ((self.data.describe()["train_size"] // self.ctx.world_size) // self.batch)
        if steps < PROBE_MIN_STEPS:
            self.settings["channels_last_ms"] = {"skipped": "run too short to measure"}
            return False
        started = time.perf_counter()
        shape = (self.batch, self.data.in_channels, self.data.resolution, self.data.resolution)
        try:
            channels_last, self.settings["channels_last_ms"] = choose_channels_last(self.model, shape, self.device,
                                                                                    self.amp)
        except Exception as error:  # the probe holds a second copy: running out there is not the run's oom
            if not is_oom(error):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            channels_last, self.settings["channels_last_ms"] = False, {"skipped": "probe ran out of memory"}
        self.settings["channels_last_probe_s"] = round(time.perf_counter() - started, 3)
        if self.ctx.enabled:  # every rank must use the same format: rank 0 decides
            flag = torch.tensor([float(channels_last)], device=self.device)
            torch.distributed.broadcast(flag, 0)
            channels_last = bool(flag.item())
        return channels_last

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.history, self.start_epoch, self.step = state["history"], state["epoch"], state["step"]
        restore_rng(state)
        self.progress.log(f"resuming from {self.checkpoint_path} at epoch {self.start_epoch}")

    def _make_loaders(self) -> None:
        recipe, ctx = self.recipe, self.ctx
        fast = recipe.fast_loader and self.data.in_memory
        workers = recipe.workers if not self.data.in_memory else 0
        options = dict(augment=recipe.augment, pad=recipe.crop_padding, seed=self.seed, rank=ctx.rank,
                       world_size=ctx.world_size, channels_last=self.channels_last, fast=fast, workers=workers)
        self.train_loader = make_loader(self.data, self.batch, self.device, True, **options)
        self.test_loader = make_loader(self.data, max(1, recipe.eval_batch_size // ctx.world_size), self.device,
                                       False, **options)
        self.steps_per_epoch = len(self.train_loader)
        self.lr_table = recipe.lr_table(self.steps_per_epoch, self.device)
        criterion = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        check_every = 1 if self.device.type == "cpu" else 50
        graphed = recipe.cuda_graph and self.device.type == "cuda" and fast and not ctx.enabled
        self.settings.update(self._describe(fast, graphed))
        if graphed and self.start_epoch < recipe.epochs:
            self.epochs = GraphedEpochs(self.model, self.optimizer, self.train_loader, self.lr_table, criterion,
                                        self.amp, self.ema, check_every)
            self.settings["graph_capture_s"] = self.epochs.capture_seconds
        else:
            self.epochs = EagerEpochs(ddp.wrap(self.model, ctx, self.device), self.optimizer, self.train_loader,
                                      self.lr_table, criterion, self.device, self.amp, self.ema, ctx, check_every)

    def _describe(self, fast: bool, graphed: bool) -> dict:
        return {"spec": self.spec.to_dict(), "recipe": self.recipe.to_dict(), "data": self.data.config.to_dict(),
                "data_sizes": self.data.describe(), "seed": self.seed, "peak_lr": self.recipe.peak_lr,
                "steps_per_epoch": self.steps_per_epoch, "per_process_batch": self.batch,
                "world_size": self.ctx.world_size, "backend": self.ctx.backend, "channels_last": self.channels_last,
                "autocast": "bf16" if self.amp else "fp32", "cuda_graph": graphed,
                "loader": "device" if fast else "dataloader", "threads": torch.get_num_threads(),
                "torch": torch.__version__, "cpu_kernels": torch.backends.cpu.get_cpu_capability(),
                "convolutions": training_convolutions(self.model, self.device)}

    # ---- one epoch -------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        """Train one epoch; its record without the test metrics."""
        reset_peak_memory(self.device)
        self.progress.start_epoch(epoch + 1, self.recipe.epochs, self.steps_per_epoch)
        synchronize(self.device)
        started = time.perf_counter()
        self.model.train()
        loss_sum, correct = self.epochs.run(epoch, self.step, self.progress)
        synchronize(self.device)
        seconds = time.perf_counter() - started
        self.step += self.steps_per_epoch
        images = float(self.steps_per_epoch * self.batch)
        totals = ddp.all_reduce_sum(torch.tensor([loss_sum, float(correct), float(self.steps_per_epoch), images],
                                                 dtype=torch.float64, device=self.device), self.ctx).tolist()
        return {"epoch": epoch + 1, "train_loss": totals[0] / totals[2],
                "train_error": 100.0 * (1 - totals[1] / totals[3]), "images_per_sec": totals[3] / max(seconds, 1e-9),
                "started": started, "lr": float(self.lr_table[min(self.step - 1, len(self.lr_table) - 1)])}

    def evaluate(self, record: dict) -> dict:
        """Add the test metrics (of the EMA weights when there is an EMA) to an epoch's record; with
        `precise_bn_images`, each tested model's BN statistics are recomputed first (precise_bn.py)."""
        model = self.ema.module if self.ema is not None else self.model
        if self.recipe.precise_bn_images:
            for tested in {id(m): m for m in (model, self.model)}.values():  # the EMA's and the raw weights
                record["precise_bn_images"] = recompute_bn_statistics(
                    tested, self.train_loader, self.recipe.precise_bn_images, record["epoch"] - 1, self.device,
                    self.amp, self.ctx)
        _, record["test_error"], record["test_top5_error"] = evaluate(model, self.test_loader, self.device, self.amp,
                                                                      self.ctx)
        if self.ema is not None:
            record["raw_test_error"] = evaluate(self.model, self.test_loader, self.device, self.amp, self.ctx)[1]
        return record

    def end_epoch(self, record: dict) -> dict:
        """Test the epoch if the recipe says so (`test_every`), then add its time and peak memory."""
        if self.recipe.tests_after(record["epoch"]):
            record = self.evaluate(record)
        record["wall_time"] = time.perf_counter() - record.pop("started")
        record["peak_mem_mb"] = peak_memory_mb(self.device)
        return record

    def checkpoint(self, record: dict) -> None:
        """Keep the epoch: history, then an atomic checkpoint (rank 0), then the log line."""
        self.history.append(record)
        if self.checkpoint_path and self.ctx.is_main:
            save_checkpoint(self.checkpoint_path, fingerprint=self.fingerprint, epoch=record["epoch"], step=self.step,
                            model=self.model, optimizer=self.optimizer, ema=self.ema, history=self.history,
                            channels_last=self.channels_last)
        ddp.barrier(self.ctx)
        self.progress.end_epoch(record, self.recipe.epochs)  # after the checkpoint: a logged epoch is a saved epoch

    def finish(self, status: Status, message: str | None = None) -> TrainResult:
        """The TrainResult (also out_dir/result.json on rank 0)."""
        self.progress.close()
        if status != Status.DONE:
            self.progress.log(f"run ended: {status}: {message}")
        best, final = summarize_errors(self.history)
        rates = [e["images_per_sec"] for e in self.history if e["images_per_sec"] > 0]
        result = TrainResult(status=status, best_error=best, final_error=final, epochs=self.history,
                             wall_time=sum(e["wall_time"] for e in self.history) + self.settings.get("setup_time", 0.0),
                             images_per_sec=len(rates) / sum(1.0 / r for r in rates) if rates else 0.0,
                             device=device_name(self.device), host=host_name(), settings=self.settings, message=message)
        _write_result(self.out_dir, result, self.ctx)
        return result

    def run(self) -> TrainResult:
        self.setup()
        try:
            for epoch in range(self.start_epoch, self.recipe.epochs):
                self.checkpoint(self.end_epoch(self.train_epoch(epoch)))
        except Diverged as e:
            return self.finish(Status.DIVERGED, str(e))
        except Exception as e:
            if not is_oom(e):
                raise
            self.epochs = None  # release the captured graph's memory
            _release_cuda_memory(self.device)
            return self.finish(Status.OOM, _oom_message(e))
        return self.finish(Status.DONE)


def _write_result(out_dir, result: TrainResult, ctx) -> None:
    if out_dir and ctx.is_main:
        atomic_write_json(os.path.join(out_dir, RESULT_NAME), result.to_dict())


def _oom_message(error: BaseException) -> str:
    return f"out of memory: {str(error).strip().splitlines()[0][:200]}"


def _release_cuda_memory(device) -> None:
    if getattr(device, "type", str(device)) == "cuda" or (device == "auto" and torch.cuda.is_available()):
        torch.cuda.empty_cache()


def _as_recipe(recipe) -> Recipe:
    if recipe is None:
        return Recipe()
    return recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)


def train(spec, data="fashion-mnist", recipe=None, out_dir=None, device="auto", threads=None, seed: int = 0,
          resume: bool = True, progress=None) -> TrainResult:
    """Train `spec` on `data` (a DataConfig, name, dict or loaded data set) with `recipe`; see the module doc."""
    recipe = _as_recipe(recipe)
    if isinstance(data, (str, dict)):
        data = DataConfig.from_dict(data)
    ctx = ddp.from_environment(device)
    trainer = Trainer(spec, data, recipe, out_dir, device, threads, seed, resume, progress, ctx)
    try:
        return trainer.run()
    except Exception as e:
        if not is_oom(e):  # out of memory before the first epoch (model build, memory-format probe)
            raise
        _release_cuda_memory(getattr(trainer, "device", device))
        result = TrainResult(status=Status.OOM, best_error=math.nan, final_error=math.nan, device=str(device),
                             host=host_name(), wall_time=time.perf_counter() - trainer.started,
                             settings={"spec": spec.to_dict(), "recipe": recipe.to_dict(), "seed": seed},
                             message=_oom_message(e))
        _write_result(out_dir, result, ctx)
        return result
    finally:
        ddp.shutdown(ctx)
