"""Named models: the RegNetX/Y zoo (see docs/design.md, RegNet generation), ResNe(X)t and CIFAR ResNets.

One table entry per model, timm style: a name and the keyword arguments of its
family's builder (`regnet_spec` for RegNets). `build_spec` turns any entry into a
NetSpec. Names are matched in the user's spelling: `RegNetX-400MF`,
`regnetx_400mf` and `regnetx-400mf` are the same model.

    >>> get_spec("regnetx_200mf").widths
    [24, 56, 152, 368]
    >>> REGNETX["RegNetX-200MF"]
    {'depth': 13, 'w0': 24, 'wa': 36.44, 'wm': 2.49, 'group_width': 8}
"""
from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatch
from functools import partial

from .errors import UnknownNameError
from .regnet import regnet_spec
from .spec import NetSpec, StageSpec, bottleneck_width

# name: keyword arguments of the family's builder (here regnet_spec; Y = X + SE of ratio 0.25).
REGNETX = {
    "RegNetX-200MF": dict(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8),
    "RegNetX-400MF": dict(depth=22, w0=24, wa=24.48, wm=2.54, group_width=16),
    "RegNetX-600MF": dict(depth=16, w0=48, wa=36.97, wm=2.24, group_width=24),
    "RegNetX-800MF": dict(depth=16, w0=56, wa=35.73, wm=2.28, group_width=16),
    "RegNetX-1.6GF": dict(depth=18, w0=80, wa=34.01, wm=2.25, group_width=24),
    "RegNetX-3.2GF": dict(depth=25, w0=88, wa=26.31, wm=2.25, group_width=48),
    "RegNetX-4.0GF": dict(depth=23, w0=96, wa=38.65, wm=2.43, group_width=40),
    "RegNetX-6.4GF": dict(depth=17, w0=184, wa=60.83, wm=2.07, group_width=56),
    "RegNetX-8.0GF": dict(depth=23, w0=80, wa=49.56, wm=2.88, group_width=120),
    "RegNetX-12GF": dict(depth=19, w0=168, wa=73.36, wm=2.37, group_width=112),
    "RegNetX-16GF": dict(depth=22, w0=216, wa=55.59, wm=2.1, group_width=128),
    "RegNetX-32GF": dict(depth=23, w0=320, wa=69.86, wm=2.0, group_width=168),
}
REGNETY = {
    "RegNetY-200MF": dict(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8, se_ratio=0.25),
    "RegNetY-400MF": dict(depth=16, w0=48, wa=27.89, wm=2.09, group_width=8, se_ratio=0.25),
    "RegNetY-600MF": dict(depth=15, w0=48, wa=32.54, wm=2.32, group_width=16, se_ratio=0.25),
    "RegNetY-800MF": dict(depth=14, w0=56, wa=38.84, wm=2.4, group_width=16, se_ratio=0.25),
    "RegNetY-1.6GF": dict(depth=27, w0=48, wa=20.71, wm=2.65, group_width=24, se_ratio=0.25),
    "RegNetY-3.2GF": dict(depth=21, w0=80, wa=42.63, wm=2.66, group_width=24, se_ratio=0.25),
    "RegNetY-4.0GF": dict(depth=22, w0=96, wa=31.41, wm=2.24, group_width=64, se_ratio=0.25),
    "RegNetY-6.4GF": dict(depth=25, w0=112, wa=33.22, wm=2.27, group_width=72, se_ratio=0.25),
    "RegNetY-8.0GF": dict(depth=17, w0=192, wa=76.82, wm=2.19, group_width=56, se_ratio=0.25),
    "RegNetY-12GF": dict(depth=19, w0=168, wa=73.36, wm=2.37, group_width=112, se_ratio=0.25),
    "RegNetY-16GF": dict(depth=18, w0=200, wa=106.23, wm=2.48, group_width=112, se_ratio=0.25),
    "RegNetY-32GF": dict(depth=20, w0=232, wa=115.89, wm=2.53, group_width=232, se_ratio=0.25),
}
# Published ImageNet top-1 error, 100 epochs (docs/design.md, RegNet generation).
PUBLISHED_ERROR = {
    "RegNetX-200MF": 31.1, "RegNetX-400MF": 27.4, "RegNetX-600MF": 25.9, "RegNetX-800MF": 24.8,
    "RegNetX-1.6GF": 23.0, "RegNetX-3.2GF": 21.7, "RegNetX-4.0GF": 21.4, "RegNetX-6.4GF": 20.8,
    "RegNetX-8.0GF": 20.7, "RegNetX-12GF": 20.3, "RegNetX-16GF": 20.0, "RegNetX-32GF": 19.5,
    "RegNetY-200MF": 29.7, "RegNetY-400MF": 25.9, "RegNetY-600MF": 24.5, "RegNetY-800MF": 23.7,
    "RegNetY-1.6GF": 22.1, "RegNetY-3.2GF": 21.1, "RegNetY-4.0GF": 20.6, "RegNetY-6.4GF": 20.1,
    "RegNetY-8.0GF": 20.1, "RegNetY-12GF": 19.7, "RegNetY-16GF": 19.6, "RegNetY-32GF": 19.1,
    "ResNet-50": 23.2,
}
RESNETS = {  # name: keyword arguments of resnet_spec
    "ResNet-50": dict(depths=(3, 4, 6, 3), bottleneck_ratio=4.0, groups=1),
    "ResNet-101": dict(depths=(3, 4, 23, 3), bottleneck_ratio=4.0, groups=1),
    "ResNet-152": dict(depths=(3, 8, 36, 3), bottleneck_ratio=4.0, groups=1),
    "ResNeXt-50-32x4d": dict(depths=(3, 4, 6, 3), bottleneck_ratio=2.0, groups=32),
    "ResNeXt-101-32x4d": dict(depths=(3, 4, 23, 3), bottleneck_ratio=2.0, groups=32),
    "ResNeXt-152-32x4d": dict(depths=(3, 8, 36, 3), bottleneck_ratio=2.0, groups=32),
}
CIFAR_RESNETS = {  # name (zoo name without "CIFAR-"): keyword arguments of cifar_resnet_spec
    "ResNet-20": dict(blocks_per_stage=3),
    "ResNet-56": dict(blocks_per_stage=9),
    "ResNet-110": dict(blocks_per_stage=18),
}


def resnet_spec(depths, bottleneck_ratio: float, groups: int, name: str | None = None,
                rounding: str = "pycls") -> NetSpec:
    """ResNe(X)t: widths 256..2048, a ResNet stem, `groups` groups in every 3x3 (`rounding` does not apply)."""
    stages = []
    for depth, width, stride in zip(depths, (256, 512, 1024, 2048), (1, 2, 2, 2)):
        w_b = bottleneck_width(width, bottleneck_ratio)
        stages.append(StageSpec(depth=depth, width=width, stride=stride, bottleneck_ratio=bottleneck_ratio,
                                group_width=w_b // groups))
    return NetSpec(stages=tuple(stages), stem="resnet", stem_width=64, name=name)


def cifar_resnet_spec(blocks_per_stage: int, name: str | None = None, rounding: str = "pycls") -> NetSpec:
    """The CIFAR ResNets of He et al.: three stages of R blocks, widths 16, 32, 64 (`rounding` does not apply)."""
    stages = tuple(StageSpec(depth=blocks_per_stage, width=w, stride=s, block="R") for w, s in zip((16, 32, 64), (1, 2, 2)))
    return NetSpec(stages=stages, stem="cifar", stem_width=16, num_classes=10, name=name)


def _model_configs() -> dict:
    """zoo name -> (builder, keyword config), every family in the zoo's order."""
    families = ((regnet_spec, REGNETX), (regnet_spec, REGNETY), (resnet_spec, RESNETS),
                (cifar_resnet_spec, {f"CIFAR-{name}": config for name, config in CIFAR_RESNETS.items()}))
    return {name: (builder, config) for builder, table in families for name, config in table.items()}


MODEL_CONFIGS = _model_configs()


def build_spec(name: str, rounding: str = "pycls") -> NetSpec:
    """The NetSpec of the zoo entry `name` (the zoo's exact spelling; `get_spec` takes any)."""
    builder, config = MODEL_CONFIGS[name]
    return builder(**config, rounding=rounding, name=name)


# name -> build(rounding="pycls") -> NetSpec
MODELS = {name: partial(build_spec, name) for name in MODEL_CONFIGS}
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
    spec = build_spec(resolve_name(name), rounding)
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return replace(spec, **overrides) if overrides else spec


def list_models(pattern: str = "*") -> list[str]:
    """Zoo names matching a shell-style pattern (case-insensitive)."""
    return [n for n in MODELS if fnmatch(n.lower(), pattern.lower()) or fnmatch(canonical(n), canonical(pattern))]
