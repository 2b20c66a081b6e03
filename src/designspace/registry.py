"""A timm-like registry: create a zoo model by name, optionally with weights from any library.

    import designspace
    designspace.list_models("regnety_*")                     # ['RegNetY-200MF', ...]
    m = designspace.create_model("regnety_400mf", num_classes=10)
    m = designspace.create_model("RegNetX-400MF", checkpoint="regnet_x_400mf.pth")   # torchvision file
    m = designspace.create_model("RegNetY-800MF", checkpoint="RegNetY-800MF_dds_8gpu.pyth", bgr_to_rgb=True)

The checkpoint's library is detected from its keys (or named by
`pretrained_format`). Without an explicit `rounding`, a torchvision checkpoint
is tried with the torchvision rounding first (docs/design.md, RegNet generation,
fact 7; it changes RegNetX-400MF, RegNetY-800MF and RegNetY-8.0GF), any other
with pycls's rounding first; the rounding whose shapes fit is used. A checkpoint
that fits neither raises a CheckpointMismatchError (a DesignspaceError) naming
the mismatched keys; nothing is loaded.
"""
from __future__ import annotations

import os
from dataclasses import replace

from .errors import CheckpointMismatchError, DesignspaceError
from .regnet import ROUNDINGS

PRETRAINED_FORMATS = ("auto", "designspace", "pycls", "torchvision", "timm")


def list_models(pattern: str = "*") -> list[str]:
    """Zoo names matching a shell-style pattern, in any spelling ("regnetx_*", "RegNetY-*GF")."""
    from .zoo import list_models as zoo_list

    return zoo_list(pattern)


def _load_safetensors(path: str) -> dict:
    """A .safetensors file (the format of timm's hub weights): tensors only, no pickle at all."""
    if not os.path.isfile(path):
        raise DesignspaceError(f"{path}: no such checkpoint file")
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise DesignspaceError(f"{path}: reading .safetensors files needs the safetensors package") from None
    try:
        return load_file(path, device="cpu")
    except Exception as e:  # the library raises its own error types for a malformed file
        raise DesignspaceError(f"{path}: not a readable safetensors file ({str(e)[:160]})") from None


def _read_checkpoint(checkpoint):
    """(state dict, format hint, description) from a path or an already loaded dict."""
    from .checkpoint import is_designspace_checkpoint, unpack
    from .io import safe_torch_load

    if isinstance(checkpoint, (str, os.PathLike)):
        source = os.fspath(checkpoint)
        obj = _load_safetensors(source) if source.endswith(".safetensors") else safe_torch_load(source)
    elif isinstance(checkpoint, dict):
        source, obj = "checkpoint", checkpoint
    else:
        raise DesignspaceError(f"checkpoint must be a file path or a state dict, got {type(checkpoint).__name__}")
    if is_designspace_checkpoint(obj):
        return unpack(obj, source)[1], "designspace", source
    return obj, None, source


def _candidate_specs(name, num_classes, rounding, fmt, with_checkpoint, overrides):
    from .spec import NetSpec
    from .zoo import get_spec

    if isinstance(name, NetSpec):
        if rounding is not None:
            raise DesignspaceError("rounding applies to zoo names only; this spec's widths are already fixed")
        changes = dict(overrides, **({"num_classes": num_classes} if num_classes is not None else {}))
        return [replace(name, **changes) if changes else name]
    if not isinstance(name, str):
        raise DesignspaceError(f"model name must be a string or a NetSpec, got {type(name).__name__}")
    if rounding is not None and rounding not in ROUNDINGS:
        raise DesignspaceError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    if rounding is not None:
        order = [rounding]
    elif not with_checkpoint:
        order = ["pycls"]
    else:
        order = ["torchvision", "pycls"] if fmt == "torchvision" else ["pycls", "torchvision"]
    specs = []
    for r in order:
        spec = get_spec(name, num_classes=num_classes, rounding=r, **overrides)
        if spec not in specs:
            specs.append(spec)
    return specs


def create_model(name, num_classes: int | None = None, checkpoint=None, pretrained_format: str = "auto",
                 rounding: str | None = None, bgr_to_rgb: bool = False, reset_classifier: bool = False,
                 **overrides):
    """A zoo model (any spelling, or a NetSpec), with weights from `checkpoint` if given.

    checkpoint: a file path (torch files load with weights_only=True; .safetensors files
        need the safetensors package) or a state dict, written by
        designspace, pycls, torchvision or timm (`pretrained_format`, detected by default).
    rounding: "pycls" or "torchvision" widths; None picks the one the checkpoint fits.
    bgr_to_rgb: reverse the stem's input channels (pycls's released weights expect BGR).
    reset_classifier: keep a freshly initialised head.fc instead of the checkpoint's
        (for `num_classes` different from the checkpoint's).
    overrides: NetSpec fields (in_channels, head_width, ...).
    Returns the model in training mode, as torchvision and timm do.
    """
    import torch

    from .interop import convert_state_dict, detect_format, unwrap_checkpoint
    from .models import build_model

    if pretrained_format not in PRETRAINED_FORMATS:
        raise DesignspaceError(f"pretrained_format must be one of {', '.join(PRETRAINED_FORMATS)}, "
                               f"got {pretrained_format!r}")
    if checkpoint is None:
        if bgr_to_rgb or reset_classifier:
            raise DesignspaceError("bgr_to_rgb and reset_classifier need a checkpoint")
        return build_model(_candidate_specs(name, num_classes, rounding, None, False, overrides)[0])

    state, fmt, source = _read_checkpoint(checkpoint)
    state = unwrap_checkpoint(state, source)
    if pretrained_format != "auto":
        fmt = pretrained_format
    fmt = fmt or detect_format(state, source)
    classifier = "head.fc."
    keep = (classifier,) if reset_classifier else ()
    first_error = None
    for spec in _candidate_specs(name, num_classes, rounding, fmt, True, overrides):
        # Shapes first, on the meta device: no memory or init time for specs that do not fit.
        with torch.device("meta"):
            probe = build_model(spec)
        try:
            convert_state_dict(state, probe, fmt, False, source, keep)
        except DesignspaceError as e:
            first_error = first_error or e
            continue
        model = build_model(spec)
        model.load_state_dict(convert_state_dict(state, model, fmt, bgr_to_rgb, source, keep), strict=True)
        return model
    if isinstance(first_error, CheckpointMismatchError) and first_error.involves(classifier) and not reset_classifier:
        raise first_error.with_note("reset_classifier=True / --reset-classifier starts a new classifier")
    raise first_error


__all__ = ["create_model", "list_models", "PRETRAINED_FORMATS"]
