"""The training recipe: optimizer, schedule, regularization (docs/design.md, Training).

    from designspace.train import Recipe
    recipe = Recipe(epochs=10, batch_size=256, lr=0.1)     # lr is the rate at batch 128: 0.2 is used at 256
    recipe.lr_at(step=500, steps_per_epoch=390)            # half-period cosine, per iteration
    Recipe.from_dict({"regime": "small-images", "epochs": 2})   # a named regime, then changes

`Recipe()` is the paper's ImageNet low-epoch regime: SGD momentum 0.9, lr 0.1 at batch 128
scaled linearly with the batch, weight decay 5e-5, half-period cosine, no warmup, crop + flip.
`REGIMES` names it "imagenet" beside "small-images", the regime measured for 28x28 and 32x32
images (docs/regime.md); `default_regime(resolution)` picks between them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..errors import DesignspaceError, UnknownNameError, check_keys

REFERENCE_BATCH = 128
# Fields added after runs were first stored; their defaults leave training as it was.
ADDED_FIELDS = ("precise_bn_images", "test_every")
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


@dataclass(frozen=True)
class Recipe:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1  # at batch REFERENCE_BATCH; scaled linearly with batch_size
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-5
    exclude_norm_and_bias_from_decay: bool = False  # by parameter type: norm layers' weights and every bias
    warmup_epochs: float = 0
    warmup_factor: float = 0.1  # lr multiplier at step 0 of the warmup, rising linearly to 1
    min_lr: float = 0.0  # as a fraction of the peak lr
    label_smoothing: float = 0.0
    augment: bool = True  # random crop (pad) + flip for small images; Inception crop + flip for ImageNet
    crop_padding: int = 4
    ema_decay: float = 0.0  # 0: no EMA; e.g. 0.999 keeps an exponential moving average of the weights
    zero_init_last_bn: bool = False
    grad_clip: float = 0.0  # largest global L2 norm of the gradients (0: no clipping)
    precise_bn_images: int = 0  # before each test, BN statistics recomputed over this many training images (0: off)
    test_every: int = 1  # test after every N-th epoch and after the last (training is the same for any N)
    eval_batch_size: int = 1024
    amp: bool = True  # bf16 autocast on CUDA (CPU runs stay fp32)
    channels_last: str = "auto"  # "auto" (measured per model), "on", "off"
    cuda_graph: bool = False  # capture the whole training step in a CUDA graph (GPU, in-memory data)
    fast_loader: bool = True  # device-resident data for in-memory data sets
    workers: int = 4  # DataLoader workers for streamed data

    def __post_init__(self):
        def need(cond, text):
            if not cond:
                raise DesignspaceError(f"recipe: {text}")

        need(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be an integer >= 1, got {self.epochs!r}")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size!r}")
        need(self.lr > 0 and math.isfinite(self.lr), f"lr must be positive, got {self.lr!r}")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum!r}")
        need(not self.nesterov or self.momentum > 0, "nesterov needs momentum > 0")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}")
        need(0 <= self.warmup_epochs <= self.epochs, f"warmup_epochs must be in [0, epochs], got {self.warmup_epochs!r}")
        need(0 < self.warmup_factor <= 1, f"warmup_factor must be in (0, 1], got {self.warmup_factor!r}")
        need(0 <= self.min_lr < 1, f"min_lr must be in [0, 1), got {self.min_lr!r}")
        need(0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        need(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        need(self.grad_clip >= 0 and math.isfinite(self.grad_clip), f"grad_clip must be >= 0, got {self.grad_clip!r}")
        need(isinstance(self.precise_bn_images, int) and self.precise_bn_images >= 0,
             f"precise_bn_images must be an integer >= 0, got {self.precise_bn_images!r}")
        need(isinstance(self.test_every, int) and self.test_every >= 1,
             f"test_every must be an integer >= 1, got {self.test_every!r}")
        need(self.crop_padding >= 0, f"crop_padding must be >= 0, got {self.crop_padding!r}")
        need(self.channels_last in ("auto", "on", "off"), f"channels_last must be auto, on or off, got {self.channels_last!r}")

    @property
    def peak_lr(self) -> float:
        """The lr actually used at the top of the schedule: lr * batch_size / 128."""
        return self.lr * self.batch_size / REFERENCE_BATCH

    def tests_after(self, epoch: int) -> bool:
        """Whether the epoch (1-based) ends with a test: every test_every-th one, and always the last."""
        return epoch % self.test_every == 0 or epoch == self.epochs

    @property
    def tested_epochs(self) -> int:
        return sum(self.tests_after(e) for e in range(1, self.epochs + 1))

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        """Learning rate at iteration `step` (0-based): linear warmup, then half-period cosine to min_lr."""
        total = self.epochs * steps_per_epoch
        warmup = int(round(self.warmup_epochs * steps_per_epoch))
        progress = min(step, total) / total
        lr = self.peak_lr * (self.min_lr + (1 - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress)))
        if step < warmup:
            alpha = step / warmup
            lr *= self.warmup_factor * (1 - alpha) + alpha
        return lr

    def lr_table(self, steps_per_epoch: int, device=None) -> torch.Tensor:
        """Every step's lr as a float32 tensor (indexed on the device inside a captured step)."""
        values = [self.lr_at(s, steps_per_epoch) for s in range(self.epochs * steps_per_epoch + 1)]
        return torch.tensor(values, dtype=torch.float32, device=device)

    def to_dict(self) -> dict:
        """The fields as plain JSON; those in ADDED_FIELDS only when set, so that runs stored before a field
        existed keep their fingerprints."""
        fields = asdict(self)
        for name in ADDED_FIELDS:
            if fields[name] == self.__dataclass_fields__[name].default:
                del fields[name]
        return fields

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        """A recipe from a mapping of its fields; `regime: NAME` starts from that regime instead of the defaults."""
        if isinstance(data, dict) and "regime" in data:
            data = dict(data)
            base = regime(data.pop("regime"))
            check_keys(data, cls, "recipe")
            return replace(base, **data)
        check_keys(data, cls, "recipe")
        return cls(**data)


# The largest image side the small-image regime is for (28x28 Fashion-MNIST, 32x32 CIFAR).
SMALL_IMAGE_MAX_RESOLUTION = 64
REGIMES = {
    "imagenet": Recipe(),
    # Measured in docs/regime.md: without zero-init the deep sampled models blow up in their first steps on
    # small images; crop + flip costs more than it gives in a run of a few epochs; lr 0.2 with a short warmup
    # ranked sampled models best against longer training, with the least seed noise.
    "small-images": Recipe(zero_init_last_bn=True, augment=False, weight_decay=5e-4, lr=0.2, warmup_epochs=0.2),
}


def regime(name: str) -> Recipe:
    """The named regime's recipe (see REGIMES)."""
    if name not in REGIMES:
        raise UnknownNameError("regime", name, list(REGIMES))
    return REGIMES[name]


def default_regime(resolution: int) -> str:
    """The regime for images of this side: small-images up to SMALL_IMAGE_MAX_RESOLUTION, else imagenet."""
    return "small-images" if resolution <= SMALL_IMAGE_MAX_RESOLUTION else "imagenet"


def parameter_groups(model: nn.Module, weight_decay: float, exclude_norm_and_bias: bool):
    """[(params, weight_decay)]: normalization layers' parameters and biases are found by module type and role."""
    decay, no_decay = [], []
    seen = set()
    for module in model.modules():
        for role, param in module.named_parameters(recurse=False):
            if id(param) in seen or not param.requires_grad:
                continue
            seen.add(id(param))
            skip = exclude_norm_and_bias and (isinstance(module, NORM_TYPES) or role == "bias")
            (no_decay if skip else decay).append(param)
    groups = [(decay, weight_decay)]
    if no_decay:
        groups.append((no_decay, 0.0))
    return [(params, wd) for params, wd in groups if params]


class SGD:
    """SGD with momentum (torch.optim.SGD semantics, dampening 0) driven by an lr tensor.

    The lr is a 0-dim tensor on the parameters' device, so the whole update is a
    handful of foreach kernels with no host synchronization: it can be captured
    in a CUDA graph together with the forward and backward passes.
    """

    def __init__(self, groups, momentum: float = 0.9, nesterov: bool = False, grad_clip: float = 0.0):
        self.groups = [(list(params), float(wd)) for params, wd in groups]
        self.momentum, self.nesterov, self.grad_clip = float(momentum), bool(nesterov), float(grad_clip)
        self.buffers = [[torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
                        for params, _ in self.groups]

    @property
    def params(self):
        return [p for params, _ in self.groups for p in params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def clip_scale(self):
        """min(1, grad_clip / global gradient norm) as a 0-dim tensor (no host sync), or None without clipping."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not self.grad_clip or not grads:
            return None
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())
        return (self.grad_clip / (norm + 1e-6)).clamp(max=1.0)

    @torch.no_grad()
    def step(self, lr: torch.Tensor):
        scale = self.clip_scale()
        for (params, wd), buffers in zip(self.groups, self.buffers):
            pairs = [(p, b) for p, b in zip(params, buffers) if p.grad is not None]
            if not pairs:
                continue
            params_g, bufs = [p for p, _ in pairs], [b for _, b in pairs]
            grads = [p.grad for p in params_g]
            if scale is not None:
                grads = torch._foreach_mul(grads, scale)
            if wd:
                grads = torch._foreach_add(grads, params_g, alpha=wd)
            if self.momentum:
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads)
                update = torch._foreach_add(grads, bufs, alpha=self.momentum) if self.nesterov else bufs
            else:
                update = grads
            torch._foreach_add_(params_g, torch._foreach_mul(update, -lr))

    def state_dict(self) -> dict:
        return {"momentum_buffers": [b.detach().clone() for bufs in self.buffers for b in bufs]}

    def load_state_dict(self, state: dict) -> None:
        flat = [b for bufs in self.buffers for b in bufs]
        saved = state["momentum_buffers"]
        if len(saved) != len(flat) or any(a.shape != b.shape for a, b in zip(saved, flat)):
            raise DesignspaceError("optimizer state does not match the model's parameters")
        with torch.no_grad():
            for b, s in zip(flat, saved):
                b.copy_(s)
