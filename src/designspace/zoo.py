"""Named models: the RegNetX/Y zoo (DESIGN section 2), ResNe(X)t and CIFAR ResNets.

One line per model. Names are matched in the user's spelling: `RegNetX-400MF`,
`regnetx_400mf` and `regnetx-400mf` are the same model.
"""
from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatch

from .errors import UnknownNameError
from .regnet import regnet_spec
from .spec import NetSpec, StageSpec

# name: (depth, w0, wa, wm, group_width)
REGNETX = {
    "RegNetX-200MF": (13, 24, 36.44, 2.49, 8),
    "RegNetX-400MF": (22, 24, 24.48, 2.54, 16),
    "RegNetX-600MF": (16, 48, 36.97, 2.24, 24),
    "RegNetX-800MF": (16, 56, 35.73, 2.28, 16),
    "RegNetX-1.6GF": (18, 80, 34.01, 2.25, 24),
    "RegNetX-3.2GF": (25, 88, 26.31, 2.25, 48),
    "RegNetX-4.0GF": (23, 96, 38.65, 2.43, 40),
    "RegNetX-6.4GF": (17, 184, 60.83, 2.07, 56),
    "RegNetX-8.0GF": (23, 80, 49.56, 2.88, 120),
    "RegNetX-12GF": (19, 168, 73.36, 2.37, 112),
    "RegNetX-16GF": (22, 216, 55.59, 2.1, 128),
    "RegNetX-32GF": (23, 320, 69.86, 2.0, 168),
}
REGNETY = {
    "RegNetY-200MF": (13, 24, 36.44, 2.49, 8),
    "RegNetY-400MF": (16, 48, 27.89, 2.09, 8),
    "RegNetY-600MF": (15, 48, 32.54, 2.32, 16),
    "RegNetY-800MF": (14, 56, 38.84, 2.4, 16),
    "RegNetY-1.6GF": (27, 48, 20.71, 2.65, 24),
    "RegNetY-3.2GF": (21, 80, 42.63, 2.66, 24),
    "RegNetY-4.0GF": (22, 96, 31.41, 2.24, 64),
    "RegNetY-6.4GF": (25, 112, 33.22, 2.27, 72),
    "RegNetY-8.0GF": (17, 192, 76.82, 2.19, 56),
    "RegNetY-12GF": (19, 168, 73.36, 2.37, 112),
    "RegNetY-16GF": (18, 200, 106.23, 2.48, 112),
    "RegNetY-32GF": (20, 232, 115.89, 2.53, 232),
}
# Published ImageNet top-1 error, 100 epochs (DESIGN section 2).
PUBLISHED_ERROR = {
    "RegNetX-200MF": 31.1, "RegNetX-400MF": 27.4, "RegNetX-600MF": 25.9, "RegNetX-800MF": 24.8,
    "RegNetX-1.6GF": 23.0, "RegNetX-3.2GF": 21.7, "RegNetX-4.0GF": 21.4, "RegNetX-6.4GF": 20.8,
    "RegNetX-8.0GF": 20.7, "RegNetX-12GF": 20.3, "RegNetX-16GF": 20.0, "RegNetX-32GF": 19.5,
    "RegNetY-200MF": 29.7, "RegNetY-400MF": 25.9, "RegNetY-600MF": 24.5, "RegNetY-800MF": 23.7,
    "RegNetY-1.6GF": 22.1, "RegNetY-3.2GF": 21.1, "RegNetY-4.0GF": 20.6, "RegNetY-6.4GF": 20.1,
    "RegNetY-8.0GF": 20.1, "RegNetY-12GF": 19.7, "RegNetY-16GF": 19.6, "RegNetY-32GF": 19.1,
    "ResNet-50": 23.2,
}
# name: (depths, bottleneck_ratio, groups)
RESNETS = {
    "ResNet-50": ((3, 4, 6, 3), 4.0, 1),
    "ResNet-101": ((3, 4, 23, 3), 4.0, 1),
    "ResNet-152": ((3, 8, 36, 3), 4.0, 1),
    "ResNeXt-50-32x4d": ((3, 4, 6, 3), 2.0, 32),
    "ResNeXt-101-32x4d": ((3, 4, 23, 3), 2.0, 32),
    "ResNeXt-152-32x4d": ((3, 8, 36, 3), 2.0, 32),
}
CIFAR_RESNETS = {"ResNet-20": 3, "ResNet-56": 9, "ResNet-110": 18}  # blocks per stage


def _resnet(name, depths, b, groups) -> NetSpec:
    stages = []
    for depth, width, stride in zip(depths, (256, 512, 1024, 2048), (1, 2, 2, 2)):
        w_b = int(round(width / b))
        stages.append(StageSpec(depth=depth, width=width, stride=stride, bottleneck_ratio=b, group_width=w_b // groups))
    return NetSpec(stages=tuple(stages), stem="resnet", stem_width=64, name=name)


def _cifar_resnet(name, n) -> NetSpec:
    stages = tuple(StageSpec(depth=n, width=w, stride=s, block="R") for w, s in zip((16, 32, 64), (1, 2, 2)))
    return NetSpec(stages=stages, stem="cifar", stem_width=16, num_classes=10, name=name)


def _regnet(name, params, se_ratio, rounding="pycls") -> NetSpec:
    d, w0, wa, wm, g = params
    return regnet_spec(d, w0, wa, wm, g, se_ratio=se_ratio, rounding=rounding, name=name)


def _build_table():
    table = {}
    for name, p in REGNETX.items():
        table[name] = lambda rounding="pycls", n=name, p=p: _regnet(n, p, 0.0, rounding)
    for name, p in REGNETY.items():
        table[name] = lambda rounding="pycls", n=name, p=p: _regnet(n, p, 0.25, rounding)
    for name, (depths, b, groups) in RESNETS.items():
        table[name] = lambda rounding="pycls", n=name, a=(depths, b, groups): _resnet(n, *a)
    for name, n_blocks in CIFAR_RESNETS.items():
        table[f"CIFAR-{name}"] = lambda rounding="pycls", n=f"CIFAR-{name}", k=n_blocks: _cifar_resnet(n, k)
    return table


MODELS = _build_table()
# Residual stages are RegNet-generated; these are "regnet" family models.
REGNET_NAMES = list(REGNETX) + list(REGNETY)


def canonical(name: str) -> str:
    """A name folded for matching: 'RegNetY-1.6GF', 'regnet_y_1_6gf' and 'regnety_1.6gf' agree."""
    key = re.sub(r"(\d)[._](\d+)([gm]f)", r"\1p\2\3", name.lower().strip())  # keep 1.6GF apart from 16GF
    key = key.replace("p0gf", "gf")  # torchvision writes 8.0GF as 8gf
    return re.sub(r"[-_.\s]", "", key)


def _timm_code(name: str) -> str:
    """timm's suffix: hundreds of MF with three digits (RegNetX-1.6GF -> regnetx_016)."""
    size = name.split("-")[1]
    mf = float(size[:-2]) * (1000 if size.endswith("GF") else 1)
    return f"{name.split('-')[0].lower()}_{round(mf / 100):03d}"


_CANON = {canonical(n): n for n in MODELS}
_CANON.update({canonical(_timm_code(n)): n for n in REGNET_NAMES})
_CANON.update({canonical(f"resnext{d}_32x4d"): f"ResNeXt-{d}-32x4d" for d in (50, 101, 152)})
_CANON.update({canonical(f"cifar_resnet{n[7:]}"): f"CIFAR-{n}" for n in CIFAR_RESNETS})


def resolve_name(name: str) -> str:
    """The zoo's spelling of `name`, or UnknownNameError with close suggestions."""
    key = canonical(name)
    if key in _CANON:
        return _CANON[key]
    raise UnknownNameError("model", name, list(MODELS))


def get_spec(name: str, num_classes: int | None = None, rounding: str = "pycls", **overrides) -> NetSpec:
    """The NetSpec of a zoo model. `rounding='torchvision'` builds torchvision's variant."""
    spec = MODELS[resolve_name(name)](rounding=rounding)
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return replace(spec, **overrides) if overrides else spec


def list_models(pattern: str = "*") -> list[str]:
    """Zoo names matching a shell-style pattern (case-insensitive)."""
    return [n for n in MODELS if fnmatch(n.lower(), pattern.lower()) or fnmatch(canonical(n), canonical(pattern))]
