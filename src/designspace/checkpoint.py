"""Our checkpoint format: a state dict with its NetSpec embedded as JSON text.

The file is a plain `torch.save` of
    {"format": "designspace", "version": 1, "spec": "<NetSpec JSON>", "state_dict": {...}, "meta": {...}}
holding only tensors, strings and numbers, so it loads with `weights_only=True`
and needs no separate spec file. Files are written atomically. The training
loop's every-epoch checkpoints (`designspace.train.checkpoint`) carry their spec
too, so `load_model` and `designspace export` read those as well (model weights,
not the EMA copy).

    from designspace import get_spec, build_model
    from designspace.checkpoint import save_model, load_model
    save_model(build_model(get_spec("RegNetY-400MF")), "y400.pt")
    model = load_model("y400.pt")           # same spec, same weights
"""
from __future__ import annotations

import json
import os

from .errors import DesignspaceError
from .io import atomic_torch_save, safe_torch_load

FORMAT = "designspace"
VERSION = 1
TRAIN_FORMAT = "designspace-train-checkpoint"


def is_designspace_checkpoint(obj) -> bool:
    """True for a loaded object in our format, or a training checkpoint of ours (both embed the spec)."""
    return isinstance(obj, dict) and obj.get("format") in (FORMAT, TRAIN_FORMAT)


def _from_training_checkpoint(obj, source: str):
    from .spec import NetSpec

    try:
        spec = NetSpec.from_dict(json.loads(obj["fingerprint"])["spec"])
    except (KeyError, TypeError, ValueError) as e:  # SpecError is a ValueError
        raise DesignspaceError(f"{source}: training checkpoint without a valid spec ({e})") from None
    state = obj.get("model")
    if not isinstance(state, dict):
        raise DesignspaceError(f"{source}: training checkpoint without model weights")
    return spec, state, {"epoch": obj.get("epoch"), "step": obj.get("step")}


def pack(model, meta: dict | None = None) -> dict:
    """The dict `save_model` writes (tensors on the CPU, spec as JSON text)."""
    spec = getattr(model, "spec", None)
    if spec is None or not hasattr(spec, "to_json"):
        raise DesignspaceError("save_model needs a designspace model (built by build_model / create_model)")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"format": FORMAT, "version": VERSION, "spec": spec.to_json(), "state_dict": state, "meta": dict(meta or {})}


def save_model(model, path, meta: dict | None = None) -> None:
    """Write `model`'s weights and spec to `path` atomically. `meta`: plain values (str/int/float/lists)."""
    atomic_torch_save(pack(model, meta), path)


def unpack(obj, source: str = "checkpoint"):
    """(NetSpec, state dict, meta) from a loaded object in our format."""
    from .spec import NetSpec

    if not is_designspace_checkpoint(obj):
        raise DesignspaceError(f"{source}: not a designspace checkpoint (no embedded spec); "
                               "use designspace.create_model(name, checkpoint=...) for other formats")
    if obj.get("format") == TRAIN_FORMAT:
        return _from_training_checkpoint(obj, source)
    version = obj.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise DesignspaceError(f"{source}: checkpoint format version {version!r} is newer than this "
                               f"designspace understands ({VERSION})")
    spec_text = obj.get("spec")
    if not isinstance(spec_text, str):
        raise DesignspaceError(f"{source}: the embedded spec is missing")
    try:
        spec = NetSpec.from_json(spec_text)
    except DesignspaceError as e:
        raise DesignspaceError(f"{source}: the embedded spec is invalid: {e}") from None
    state = obj.get("state_dict")
    if not isinstance(state, dict):
        raise DesignspaceError(f"{source}: the state dict is missing")
    return spec, state, obj.get("meta") or {}


def read_checkpoint(path):
    """(NetSpec, state dict, meta) of a file written by `save_model`, loaded safely."""
    return unpack(safe_torch_load(path), os.fspath(path))


def load_model(path, device=None):
    """The model saved at `path`: rebuilt from its embedded spec, every tensor checked and loaded."""
    from .interop import convert_state_dict
    from .models import build_model

    spec, state, _ = read_checkpoint(path)
    model = build_model(spec)
    model.load_state_dict(convert_state_dict(state, model, "designspace", source=os.fspath(path)))
    return model if device is None else model.to(device)
