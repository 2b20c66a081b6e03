"""Counting primitives: flops (multiply-adds), params and activations of single layers.

The counting rules are in docs/design.md, Complexity. Each module in
`designspace.models` has a static `complexity(cx, ...)` that mirrors its
constructor and calls the primitives below, so the counter and the builder walk
the same spec:

    >>> cx = batchnorm(conv(Cx(224, 224), 3, 3, 32, stride=2), 32)
    >>> (cx.h, cx.flops, cx.params, cx.acts)
    (112, 10838016, 928, 401408)

The primitives use only integer arithmetic, so every argument may also be a
numpy integer array: one call then counts a whole batch of candidate networks
that share a stage layout (this is what the samplers use).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def take(value, index):
    """`value[index]` for an array, `value` itself for a scalar (shared by every row)."""
    return value[index] if isinstance(value, np.ndarray) else value


@dataclass
class Cx:
    """Running complexity state: spatial size and accumulated totals."""

    h: object
    w: object
    flops: object = 0
    params: object = 0
    acts: object = 0

    def totals(self) -> dict:
        return {"flops": self.flops, "params": self.params, "acts": self.acts}

    def add_scaled(self, delta: "Cx", times) -> "Cx":
        """Add `times` copies of `delta`'s totals, keeping `delta`'s spatial size."""
        return Cx(delta.h, delta.w, self.flops + times * delta.flops,
                  self.params + times * delta.params, self.acts + times * delta.acts)

    def take(self, index) -> "Cx":
        """The state of the rows `index` of a batch (the spatial size is shared by all rows)."""
        return Cx(self.h, self.w, take(self.flops, index), take(self.params, index), take(self.acts, index))


def rint(x):
    """Round half to even, returning ints (or an int64 array)."""
    if isinstance(x, np.ndarray):
        return np.rint(x).astype(np.int64)
    return int(round(x))


def floor_int(x):
    """int() that also works elementwise on arrays (truncation toward zero)."""
    if isinstance(x, np.ndarray):
        return np.trunc(x).astype(np.int64)
    return int(x)


def out_size(h, k: int, stride):
    """Output size of a conv/pool with padding (k - 1) // 2."""
    pad = (k - 1) // 2
    return (h + 2 * pad - k) // stride + 1


def conv(cx: Cx, k: int, c_in, c_out, stride=1, groups=1, bias: bool = False) -> Cx:
    h, w = out_size(cx.h, k, stride), out_size(cx.w, k, stride)
    weights = k * k * c_in * c_out // groups
    flops = weights * h * w + (c_out * h * w if bias else 0)
    params = weights + (c_out if bias else 0)
    return Cx(h, w, cx.flops + flops, cx.params + params, cx.acts + c_out * h * w)


def batchnorm(cx: Cx, c) -> Cx:
    return Cx(cx.h, cx.w, cx.flops, cx.params + 2 * c, cx.acts)


def maxpool(cx: Cx, k: int, stride, c) -> Cx:
    h, w = out_size(cx.h, k, stride), out_size(cx.w, k, stride)
    return Cx(h, w, cx.flops, cx.params, cx.acts + c * h * w)


def global_pool(cx: Cx) -> Cx:
    return Cx(1, 1, cx.flops, cx.params, cx.acts)


def linear(cx: Cx, c_in, c_out) -> Cx:
    return Cx(cx.h, cx.w, cx.flops + c_in * c_out + c_out, cx.params + c_in * c_out + c_out, cx.acts + c_out)
