"""The refined space as a YAML space file, and a sweep file comparing it with its parent.

    >>> from designspace.analysis.refine.write import refined_files, write_files
    >>> files = refined_files(result, parent, steps=None)   # {"anynetx_a_refined.yaml": text, "sweep.yaml": text}
    >>> write_files("refined", files)                        # each written atomically

The space file is the user-space format of `designspace.spaces.yaml_space` (`get_space(path)` reads
it). The sweep file runs the parent and the refined space side by side with the parent's band, n,
seed, data, recipe (the regime) and runner, so `designspace sweep run DIR/sweep.yaml` tests the
refinement directly. It needs the parent's sweep: a sweep directory stores it; for an exported
table give the sweep file (`--sweep`), else only the space file is written.
"""
from __future__ import annotations

import os
import re

from ...errors import DesignspaceError
from ...io import atomic_write_text

SPEC_FRAME_OPTIONS = ("stem", "stem_width", "head_width")  # entry options a refined space keeps
SWEEP_FILE = "sweep.yaml"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "space"


def space_file_name(label: str) -> str:
    return f"{_safe(label)}_refined.yaml"


def _steps(result, steps: int | None) -> int:
    if not result.path:
        raise DesignspaceError(f"space {result.label!r}: no restriction to write (none helps or costs nothing)")
    if steps is None:
        return len(result.path)
    if steps < 1:
        raise DesignspaceError(f"--steps must be >= 1, got {steps}")
    return min(steps, len(result.path))


def space_yaml(result, steps: int | None = None) -> str:
    import yaml

    k = _steps(result, steps)
    doc, size = result.steps[k - 1]
    applied = [c.name for c in result.path[:k]]
    base = os.path.splitext(os.path.basename(result.space))[0]
    doc = {**doc, "name": f"{base}_refined",
           "description": f"{result.space} restricted by designspace refine: {'; '.join(applied)}"}
    header = (f"# Written by `designspace refine` from {result.source or 'a results table'} "
              f"({result.models} finished models of {result.label}).\n"
              f"# Restrictions, in order: {'; '.join(applied)}.\n"
              f"# log10 size: {result.parent_log10_size:.2f} (parent) -> {size:.2f}.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def _band(pair) -> str | None:
    if not pair or all(x is None for x in pair):
        return None
    return ":".join("" if x is None else str(int(x)) for x in pair)


def _plain(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None and v != {}}


def _space_entry(name: str, n: int, label: str, options: dict, entry: dict) -> dict:
    out = {"name": name, "n": int(n), "label": label}
    if options:
        out["options"] = options
    for key in ("flops", "params", "acts"):
        band = _band(entry.get(key))
        if band is not None:
            out[key] = band
    return out


def sweep_yaml(result, parent, space_file: str, steps: int | None = None) -> str:
    """The parent and its refinement, same band, n, seed, data, recipe and runner."""
    import yaml

    sweep, entry = parent.sweep, parent.entry
    k = _steps(result, steps)
    options = dict(entry.get("options") or {})
    frame_options = {key: v for key, v in options.items() if key in SPEC_FRAME_OPTIONS}
    doc = {"name": f"{sweep['name']}-refined", "seed": int(sweep.get("seed", 0))}
    if sweep.get("resolution") is not None:
        doc["resolution"] = int(sweep["resolution"])
    doc["spaces"] = [
        _space_entry(str(entry["name"]), entry["n"], parent.label, options, entry),
        _space_entry(space_file, entry["n"], f"{_safe(parent.label)}_refined", frame_options, entry)]
    doc["data"] = _plain(sweep["data"])
    doc["recipe"] = _plain(sweep["recipe"])
    doc["runner"] = _plain(sweep.get("runner") or {})
    header = (f"# Written by `designspace refine`: {parent.label} against itself restricted by "
              f"{'; '.join(c.name for c in result.path[:k])}.\n"
              f"# designspace sweep run {SWEEP_FILE} --out runs/{doc['name']}, "
              f"then designspace report runs/{doc['name']}\n")
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def refined_files(result, parent, steps: int | None = None) -> dict:
    """{file name: text}: the refined space, and the comparison sweep when the parent's sweep is known."""
    name = space_file_name(parent.label)
    files = {name: space_yaml(result, steps)}
    if parent.sweep is not None and parent.entry is not None:
        files[SWEEP_FILE] = sweep_yaml(result, parent, name, steps)
    return files


def check_write_dir(path) -> str:
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise DesignspaceError(f"{path}: exists and is not a directory; --write takes a directory")
    return path


def write_files(directory, files: dict) -> list[str]:
    directory = check_write_dir(directory)
    written = []
    for name, text in files.items():
        path = os.path.join(directory, name)
        atomic_write_text(path, text)
        written.append(path)
    return written
