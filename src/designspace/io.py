"""Atomic writes and safe loads.

Every result file is written to a temporary file in the same directory, flushed,
fsynced and renamed over the target, so a crash leaves the old file or the new
one, never half of one. Checkpoints load with `weights_only=True` only.
"""
from __future__ import annotations

import json
import os
import re
import tempfile

from .errors import DesignspaceError


def atomic_write_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)  # mkstemp makes 0600 files; results should get the usual permissions
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj, **kw) -> None:
    kw.setdefault("indent", 2)
    atomic_write_text(path, json.dumps(obj, **kw) + "\n")


def read_jsonl(path, what: str = "file"):
    """(line number, record) for each non-blank line of a JSON-lines file; one-line errors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DesignspaceError(f"{path}: no such {what}")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except ValueError:
                    raise DesignspaceError(f"{path}: line {n} is not JSON") from None


def atomic_torch_save(obj, path) -> None:
    import io as _io

    import torch

    buf = _io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def safe_torch_load(path, map_location="cpu"):
    """torch.load with weights_only=True; anything else is refused with one clear line."""
    import pickle

    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DesignspaceError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsupported content"
        detail = f"it would import {found.group(1)}" if found else first[:160]
        raise DesignspaceError(
            f"{path}: refused to load: the file holds pickled objects other than tensors and plain "
            f"containers ({detail})") from None
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DesignspaceError(f"{path}: not a readable checkpoint ({msg[:160]})") from None
