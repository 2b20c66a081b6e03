"""SmallMapConv2d: nn.Conv2d's values and gradients on every route, the route each map size takes, and
sampled and zoo models that train the same with it as with torch's convolutions."""
import copy

import pytest
import torch
from torch import nn

from designspace import get_spec
from designspace.models import build_model
from designspace.models.small_maps import (SmallMapConv2d, training_convolutions, use_plain_convs,
                                          weight_grad_by_shifts)

ROUTE_OF_GRAD_FN = {"ConvolutionBackward0": "native", "PermuteBackward0": "matmul",
                    "_ConvSmallerThanKernelBackward": "weight grad by shifts"}


def _pair(c_in, c_out, kernel, stride, groups, bias, dtype=torch.float32):
    torch.manual_seed(0)
    ours = SmallMapConv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=bias)
    plain = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=bias)
    plain.load_state_dict(ours.state_dict())
    return ours.to(dtype), plain.to(dtype)


def _forward_backward(conv, x, grad_out_seed=1):
    x = x.detach().clone().requires_grad_()
    out = conv(x)
    torch.manual_seed(grad_out_seed)
    out.backward(torch.randn_like(out))
    grads = [x.grad] + [p.grad for p in conv.parameters()]
    route = ROUTE_OF_GRAD_FN.get(type(out.grad_fn).__name__, type(out.grad_fn).__name__)
    return out.detach(), grads, route


# (c_in, c_out, kernel, stride, groups, bias, side) -> the route a CPU training step takes
CASES = [
    ((72, 72, 3, 1, 72, False, 1), "weight grad by shifts"),   # depthwise at 1x1: a /32 net's last stage
    ((64, 64, 3, 2, 16, False, 2), "weight grad by shifts"),   # group width 4, 2x2 -> 1x1
    ((48, 48, 3, 1, 12, False, 2), "weight grad by shifts"),
    ((16, 24, 3, 1, 1, True, 2), "weight grad by shifts"),     # dense 3x3 (R and V blocks), with a bias
    ((8, 8, 7, 2, 1, False, 5), "weight grad by shifts"),      # a 7x7 kernel on a 5x5 map
    ((48, 48, 3, 1, 12, False, 4), "native"),                  # 4x4 is not smaller than the kernel
    ((80, 320, 1, 1, 1, False, 1), "matmul"),
    ((192, 48, 1, 1, 1, False, 4), "matmul"),                  # 16 pixels: the largest matmul map
    ((32, 64, 1, 2, 1, False, 8), "matmul"),                   # a strided shortcut, 8x8 -> 4x4
    ((24, 16, 1, 1, 1, True, 1), "matmul"),                    # SE's 1x1 convolutions have a bias
    ((32, 32, 1, 1, 1, False, 5), "native"),                   # 25 pixels: over SMALL_MAP_PIXELS
    ((16, 16, 1, 1, 4, False, 1), "native"),                   # grouped 1x1
]


TOLERANCES = {torch.float32: dict(rtol=1e-5, atol=1e-4), torch.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case,route", CASES, ids=[f"{c[0]}-{c[1]}-k{c[2]}-s{c[3]}-g{c[4]}-{c[6]}px" for c, _ in CASES])
def test_equals_conv2d_in_value_and_gradient_on_its_route(case, route, dtype):
    """float32 to float rounding; float64 to rounding, so any wrong index or missing term shows."""
    c_in, c_out, kernel, stride, groups, bias, side = case
    ours, plain = _pair(c_in, c_out, kernel, stride, groups, bias, dtype)
    x = torch.randn(6, c_in, side, side, dtype=dtype).contiguous(memory_format=torch.channels_last)
    out, grads, taken = _forward_backward(ours, x)
    expected_out, expected_grads, _ = _forward_backward(plain, x)
    assert taken == route
    for got, want in zip([out, *grads], [expected_out, *expected_grads]):
        torch.testing.assert_close(got, want, **TOLERANCES[dtype])


@pytest.mark.parametrize("stride,padding,groups,side", [((1, 1), (1, 1), 4, (2, 3)), ((2, 1), (1, 0), 2, (5, 4)),
                                                        ((1, 2), (2, 1), 8, (6, 6))])
def test_weight_grad_by_shifts_is_the_weight_gradient(stride, padding, groups, side):
    """Against autograd's, in float64, for strides, paddings and map sizes that are not square."""
    torch.manual_seed(2)
    x = torch.randn(4, 16, *side, dtype=torch.float64)
    w = torch.randn(8, 16 // groups, 3, 3, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.conv2d(x, w, None, stride, padding, 1, groups)
    grad_out = torch.randn_like(out)
    (expected,) = torch.autograd.grad(out, w, grad_out)
    torch.testing.assert_close(weight_grad_by_shifts(x, grad_out, w.shape, stride, padding, groups), expected,
                               rtol=1e-12, atol=1e-12)


def test_padding_by_name_and_dilation_run_torchs_convolution():
    """Layers the routes do not cover train as nn.Conv2d does, on a map smaller than the kernel."""
    for options in (dict(padding="same"), dict(padding=2, dilation=2)):
        torch.manual_seed(0)
        ours, plain = SmallMapConv2d(8, 8, 3, **options), nn.Conv2d(8, 8, 3, **options)
        plain.load_state_dict(ours.state_dict())
        x = torch.randn(2, 8, 1, 1)
        out, grads, route = _forward_backward(ours, x)
        expected_out, expected_grads, _ = _forward_backward(plain, x)
        assert ours.route is None and route == "native"
        for got, want in zip([out, *grads], [expected_out, *expected_grads]):
            assert torch.equal(got, want)


def test_inference_and_tracing_run_torchs_convolution():
    """A loaded checkpoint predicts exactly as with nn.Conv2d; an exported graph holds convolutions."""
    for case in ((64, 64, 3, 1, 16, False), (80, 32, 1, 1, 1, True)):
        ours, plain = _pair(*case)
        x = torch.randn(2, case[0], 1, 1).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            assert torch.equal(ours(x), plain(x))
    pointwise, _ = _pair(80, 32, 1, 1, 1, False)
    traced = torch.jit.trace(pointwise, torch.randn(2, 80, 1, 1))
    assert "aten::_convolution" in str(traced.graph) and "aten::linear" not in str(traced.graph)


def _demo_like_models():
    from designspace.spaces import get_space

    specs = [s.spec for name in ("anynetx_a", "anynetx_e", "regnetx", "regnety")
             for s in get_space(name, resolution=28, num_classes=10, in_channels=1).sample(2, seed=3, flops=(0.25e6, 2e6))]
    return specs + [get_spec("RegNetX-200MF", in_channels=1, num_classes=10)]


@pytest.mark.parametrize("spec", _demo_like_models(), ids=lambda s: s.name or f"depth{sum(st.depth for st in s.stages)}")
def test_sampled_and_zoo_models_train_as_with_torchs_convolutions(spec):
    """Three SGD steps at 28x28, channels_last: the same losses and weights as with nn.Conv2d, to float rounding."""
    torch.manual_seed(0)
    ours = build_model(spec, zero_init_last_bn=True).to(memory_format=torch.channels_last)
    plain = use_plain_convs(copy.deepcopy(ours))
    assert any(type(m) is SmallMapConv2d for m in ours.modules())
    assert not any(isinstance(m, SmallMapConv2d) for m in plain.modules())
    x = torch.randn(16, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,))
    losses = []
    for model in (ours, plain):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses.append([])
        for _ in range(3):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[-1].append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    for a, b in zip(ours.state_dict().values(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_a_run_records_which_convolution_code_trains_it():
    model = build_model(get_spec("RegNetX-200MF"))
    assert training_convolutions(model, torch.device("cpu")) == "SmallMapConv2d"
    assert training_convolutions(model, torch.device("cuda")) == "torch"  # CUDA runs torch's convolution
    assert training_convolutions(use_plain_convs(model), torch.device("cpu")) == "torch"
    assert training_convolutions(nn.Sequential(SmallMapConv2d(4, 4, 3, dilation=2)), "cpu") == "torch"
