"""Every-epoch checkpoints: written atomically, loaded with weights_only=True, checked before use.

    from designspace.train.checkpoint import save_checkpoint, load_checkpoint
    save_checkpoint(out_dir / "checkpoint.pt", state)
    state = load_checkpoint(out_dir / "checkpoint.pt", expect=fingerprint)   # refuses foreign/corrupt files

A checkpoint holds only tensors and plain containers (the spec, recipe and data
config as JSON text), so `torch.load(weights_only=True)` reads it. A file that
is not ours, or belongs to another run (other spec, recipe, data or seed), is
refused with one line instead of silently training the wrong thing.
"""
from __future__ import annotations

import json
import os

import torch

from ..errors import DesignspaceError
from ..io import atomic_torch_save, safe_torch_load

FORMAT = "designspace-train-checkpoint"
VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def run_fingerprint(spec, recipe, data_config, seed: int, world_size: int = 1) -> str:
    """What must match for a checkpoint to continue this run (JSON text, compared exactly)."""
    recipe_dict = recipe.to_dict()
    for speed_only in ("eval_batch_size", "cuda_graph", "workers", "channels_last", "fast_loader"):
        recipe_dict.pop(speed_only, None)  # these change speed, not the result being resumed
    return json.dumps({"spec": spec.to_dict(), "recipe": recipe_dict, "data": data_config.to_dict(), "seed": seed,
                       "world_size": world_size}, sort_keys=True)


def save_checkpoint(path, *, fingerprint: str, epoch: int, step: int, model, optimizer, ema=None, history=(),
                    channels_last: bool = False, extra: dict | None = None) -> None:
    state = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": fingerprint,
        "epoch": int(epoch),
        "step": int(step),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": {k: [t.cpu() for t in v] for k, v in optimizer.state_dict().items()},
        "ema": None if ema is None else {k: v.detach().cpu() for k, v in ema.state_dict().items()},
        "history": json.dumps(list(history)),
        "channels_last": bool(channels_last),
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "extra": json.dumps(extra or {}),
    }
    atomic_torch_save(state, path)


def load_checkpoint(path, expect: str | None = None) -> dict:
    """Read and validate a checkpoint; `expect` is the run fingerprint it must carry."""
    path = os.fspath(path)
    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DesignspaceError(f"{path}: not a designspace training checkpoint (refusing to resume from it; "
                               "move it away or use another --out directory)")
    if state.get("version") != VERSION:
        raise DesignspaceError(f"{path}: checkpoint version {state.get('version')!r} is not supported (expected {VERSION})")
    missing = [k for k in ("fingerprint", "epoch", "step", "model", "optimizer", "history", "rng") if k not in state]
    if missing:
        raise DesignspaceError(f"{path}: checkpoint lacks {', '.join(missing)}")
    if expect is not None and state["fingerprint"] != expect:
        ours, theirs = json.loads(expect), json.loads(state["fingerprint"])
        differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise DesignspaceError(f"{path}: checkpoint belongs to a different run ({', '.join(differ)} differ); "
                               "use another --out directory or delete it")
    state["history"] = json.loads(state["history"])
    state["extra"] = json.loads(state.get("extra") or "{}")
    return state


def restore_rng(state: dict) -> None:
    rng = state.get("rng") or {}
    if isinstance(rng.get("torch"), torch.Tensor):
        torch.set_rng_state(rng["torch"])
    cuda_states = rng.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
