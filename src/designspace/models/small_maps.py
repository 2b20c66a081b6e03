"""`SmallMapConv2d`: nn.Conv2d, with two faster routes for training on a CPU where small images leave tiny maps.

A /32 network on 28x28 or 32x32 images ends its last stages at 2x2 and 1x1. There PyTorch's CPU
convolution (oneDNN) costs more per call than its arithmetic, and the weight gradient of a 3x3
convolution whose input is smaller than the kernel takes 5-10x its forward pass. So, on a CPU,
while autograd records:

- a 1x1 convolution on a channels-last map of at most SMALL_MAP_PIXELS pixels is a matrix product
  (F.linear over the N*H*W rows);
- a convolution whose input is smaller than its kernel keeps oneDNN's forward pass and input
  gradient, and computes its weight gradient as one batched product over the groups: the output
  gradient times the kernel's shifted views of the padded input (`weight_grad_by_shifts`).

The results are nn.Conv2d's up to the order of float summation, as on another CPU's kernels.
Elsewhere (inference, CUDA, tracing, ONNX export, CPU autocast) it is nn.Conv2d, so a loaded
checkpoint gives torch's outputs; its parameters are nn.Conv2d's, so checkpoints are unchanged.
The speed against nn.Conv2d: `python benchmarks/bench_cpu_step.py` (docs/regime.md, section 4.15).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SMALL_MAP_PIXELS = 16  # up to 4x4: up to 7x7 made the demo's training steps slower in all (docs/regime.md 4.15)


def weight_grad_by_shifts(x, grad_out, weight_shape, stride, padding, groups: int) -> torch.Tensor:
    """The gradient of conv2d(x, w, stride, padding, groups) with respect to w, for dilation 1."""
    n = x.shape[0]
    c_out, c_in_group, kh, kw = weight_shape
    ho, wo = grad_out.shape[2], grad_out.shape[3]
    (sh, sw), (ph, pw) = stride, padding
    padded = F.pad(x, (pw, pw, ph, ph)).permute(0, 2, 3, 1)  # N, H, W, C
    shifts = [padded[:, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw] for i in range(kh) for j in range(kw)]
    columns = torch.stack(shifts, dim=-1).reshape(n * ho * wo, groups, c_in_group * kh * kw)
    grads = grad_out.permute(0, 2, 3, 1).reshape(n * ho * wo, groups, c_out // groups)
    return torch.bmm(grads.permute(1, 2, 0), columns.permute(1, 0, 2)).reshape(weight_shape)


class _ConvSmallerThanKernel(torch.autograd.Function):
    """conv2d with oneDNN's forward and input gradient, and the weight gradient by shifts."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, groups):
        ctx.save_for_backward(x, weight)
        ctx.conv = (stride, padding, groups)
        return F.conv2d(x, weight, bias, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, groups = ctx.conv
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(grad_out, x, weight, None, list(stride), list(padding), [1, 1],
                                                         False, [0, 0], groups, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad_by_shifts(x, grad_out, weight.shape, stride, padding, groups)
        if ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None


def _native_only(x) -> bool:
    return (x.device.type != "cpu" or not torch.is_grad_enabled() or torch.jit.is_tracing()
            or torch.onnx.is_in_onnx_export() or torch.is_autocast_enabled("cpu"))


class SmallMapConv2d(nn.Conv2d):
    """nn.Conv2d, faster on a CPU where the feature map is tiny (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Fixed by the layer, so decided once: None (torch's only), "pointwise" or "smaller_than_kernel".
        numeric_padding = not isinstance(self.padding, str)  # "same"/"valid" have no per-side sizes
        self.route = None
        if self.dilation == (1, 1) and self.padding_mode == "zeros" and numeric_padding:
            pointwise = self.kernel_size == (1, 1) and self.groups == 1 and self.padding == (0, 0)
            self.route = "pointwise" if pointwise else "smaller_than_kernel"

    def forward(self, x):
        # The shape test first: it is cheaper than _native_only and fails for every map that is not tiny.
        if self.route == "pointwise" and self._pointwise_map_is_small(x) and not _native_only(x):
            sh, sw = self.stride
            return self._pointwise_as_matmul(x[:, :, ::sh, ::sw] if (sh, sw) != (1, 1) else x)
        if self.route == "smaller_than_kernel" and self._map_is_smaller_than_kernel(x) and not _native_only(x):
            return _ConvSmallerThanKernel.apply(x, self.weight, self.bias, self.stride, self.padding, self.groups)
        return super().forward(x)

    def _pointwise_map_is_small(self, x) -> bool:
        h, w = -(-x.shape[2] // self.stride[0]), -(-x.shape[3] // self.stride[1])  # the output map
        return h * w <= SMALL_MAP_PIXELS and x.is_contiguous(memory_format=torch.channels_last)

    def _map_is_smaller_than_kernel(self, x) -> bool:
        return x.shape[2] < self.kernel_size[0] or x.shape[3] < self.kernel_size[1]

    def _pointwise_as_matmul(self, x):
        n, c, h, w = x.shape
        rows = F.linear(x.permute(0, 2, 3, 1).reshape(n * h * w, c), self.weight.flatten(1), self.bias)
        return rows.view(n, h, w, self.out_channels).permute(0, 3, 1, 2)  # channels-last, like the input


def training_convolutions(model: nn.Module, device: torch.device) -> str:
    """The convolution code that trains `model` on `device`, recorded with each run: "SmallMapConv2d" where its
    CPU routes can run, else "torch". Runs of the two differ in their last bits, as on another CPU kernel set."""
    routed = any(isinstance(m, SmallMapConv2d) and m.route is not None for m in model.modules())
    return "SmallMapConv2d" if routed and torch.device(device).type == "cpu" else "torch"


def use_plain_convs(model: nn.Module) -> nn.Module:
    """Make every SmallMapConv2d of `model` a plain nn.Conv2d, in place (the baseline of comparisons)."""
    for module in model.modules():
        if isinstance(module, SmallMapConv2d):
            module.__class__ = nn.Conv2d
    return model
