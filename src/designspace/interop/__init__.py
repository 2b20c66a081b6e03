"""Checkpoint interop: load pycls, torchvision and timm weights into designspace models.

Each library has one module naming its parts (`pycls`, `torchvision`, `timm`);
this package tells the libraries apart, unwraps their checkpoint containers,
renames every key to ours and checks every shape. A key or shape that does not
fit raises a DesignspaceError naming it, and nothing is loaded.

    import torch, torchvision
    from designspace import build_model, get_spec
    from designspace.interop import load_foreign_state_dict
    model = build_model(get_spec("RegNetX-400MF", rounding="torchvision"))
    load_foreign_state_dict(model, torchvision.models.regnet_x_400mf().state_dict())  # -> "torchvision"

Usually `designspace.create_model(name, checkpoint=path)` is all a user needs.
"""
from __future__ import annotations

import re

from ..errors import CheckpointMismatchError, DesignspaceError
from . import pycls, timm, torchvision
from ._mapping import PARAM_NAMES, remap

FORMATS = ("designspace", "pycls", "torchvision", "timm")
_LAYOUTS = {"pycls": pycls.LAYOUTS, "torchvision": torchvision.LAYOUTS, "timm": timm.LAYOUTS}
_OURS = re.compile(
    r"(stem\.(conv|bn)|head\.(conv|bn|fc)|stage\d+\.block\d+\.(conv_[abc]|bn_[abc]|se\.(reduce|expand)|shortcut\.(conv|bn)))"
    r"\.(" + "|".join(PARAM_NAMES) + ")")
# Containers that training scripts wrap a state dict in: ours/timm/Lightning, pycls, others.
_WRAPPER_KEYS = ("state_dict", "model_state", "model")


def _rename_ours(key: str) -> str | None:
    return key if _OURS.fullmatch(key) else None


def _is_tensor_dict(obj) -> bool:
    import torch

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_checkpoint(obj, source: str = "checkpoint") -> dict:
    """The state dict inside a loaded checkpoint (plain, {"state_dict"}, {"model_state"}, {"model"}).

    A "module." prefix left by DistributedDataParallel is removed.
    """
    if not _is_tensor_dict(obj) and isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if _is_tensor_dict(obj.get(key)):
                obj = obj[key]
                break
    if not _is_tensor_dict(obj):
        keys = ", ".join(map(repr, list(obj)[:5])) if isinstance(obj, dict) else type(obj).__name__
        raise DesignspaceError(f"{source}: not a state dict of tensors (found {keys})")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _coverage(fmt: str, keys) -> int:
    if fmt == "designspace":
        return sum(_rename_ours(k) is not None for k in keys)
    return max(layout.coverage(keys) for layout in _LAYOUTS[fmt])


def detect_format(state_dict: dict, source: str = "checkpoint") -> str:
    """Which library named these keys: one of FORMATS (the one that understands most keys).

    ResNets of torchvision and timm share their names; they report "torchvision".
    """
    keys = list(state_dict)
    scores = {fmt: _coverage(fmt, keys) for fmt in FORMATS}
    best = max(FORMATS, key=lambda f: scores[f])  # ties go to the earlier format
    if scores[best] == 0:
        raise DesignspaceError(f"{source}: cannot tell which library wrote it (first keys: "
                               f"{', '.join(map(repr, keys[:3]))}); pass the format explicitly")
    return best


def _renamer(fmt: str, keys):
    if fmt == "designspace":
        return _rename_ours
    if fmt not in _LAYOUTS:
        raise DesignspaceError(f"unknown checkpoint format {fmt!r}; known: auto, {', '.join(FORMATS)}")
    return max(_LAYOUTS[fmt], key=lambda layout: layout.coverage(keys)).rename


def convert_state_dict(state_dict: dict, model, fmt: str = "auto", bgr_to_rgb: bool = False,
                       source: str = "checkpoint", keep=()) -> dict:
    """`state_dict` (written by `fmt`, or detected) renamed and checked against `model`.

    `bgr_to_rgb` reverses the stem conv's input channels: a network trained on BGR
    images (pycls's released weights) then gives the same outputs on RGB images.
    `keep`: prefixes of our keys that keep the model's values (e.g. "head.fc.").
    """
    state_dict = unwrap_checkpoint(state_dict, source)
    fmt = detect_format(state_dict, source) if fmt == "auto" else fmt
    target = model.state_dict()
    name = getattr(getattr(model, "spec", None), "name", None) or "this model"
    try:
        out = remap(state_dict, target, _renamer(fmt, list(state_dict)), f"{source} ({fmt} format)", name, keep)
    except DesignspaceError as e:
        looks_like = detect_format(state_dict, source)
        if looks_like != fmt:
            note = f"its keys look like the {looks_like} format"
            if isinstance(e, CheckpointMismatchError):  # keep the mismatched keys for the caller
                raise e.with_note(note) from None
            raise DesignspaceError(f"{e} ({note})") from None
        raise
    if bgr_to_rgb:
        weight = out["stem.conv.weight"]
        if weight.shape[1] != 3:
            raise DesignspaceError(f"bgr_to_rgb needs a 3-channel stem, {name} has {weight.shape[1]} input channels")
        out["stem.conv.weight"] = weight.flip(1)
    return out


def load_foreign_state_dict(model, state_dict: dict, fmt: str = "auto", bgr_to_rgb: bool = False,
                            source: str = "checkpoint", keep=()) -> str:
    """Load a foreign (or our own) state dict into `model`, all or nothing; returns the format used."""
    state_dict = unwrap_checkpoint(state_dict, source)
    fmt = detect_format(state_dict, source) if fmt == "auto" else fmt
    model.load_state_dict(convert_state_dict(state_dict, model, fmt, bgr_to_rgb, source, keep), strict=True)
    return fmt


__all__ = ["FORMATS", "unwrap_checkpoint", "detect_format", "convert_state_dict", "load_foreign_state_dict"]
