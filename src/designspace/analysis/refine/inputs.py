"""Where a refine's models came from: their rows, their parent design space and, when known, their sweep.

    >>> from designspace.analysis.refine.inputs import load_parent
    >>> parent = load_parent("runs/a")                 # a sweep directory, or an exported .csv/.jsonl/.parquet
    >>> parent = load_parent("runs/study", space_label="anynetx_b", sweep_file=None)
    >>> parent.space()                                 # the DesignSpace, framed as the models were built
    >>> parent.entry, parent.sweep                     # the sweep entry (n, bands) and the sweep (data, recipe, ...)

A sweep directory stores its sweep file, which maps each label to its space name and options; an
exported table must name a known space in its `space` column, and its sweep is known only when a
sweep file is given. The frame the models were built for (resolution, classes, channels, stem) is
read from their specs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DesignspaceError, UnknownNameError
from ...results import Status
from ..table import load_results, metric_column

SPEC_FRAME = ("stem", "stem_width", "in_channels", "num_classes", "head_width")


@dataclass(frozen=True, eq=False)
class Parent:
    label: str
    name: str                 # the space's registered name, or the path of its YAML file
    options: dict             # the sweep entry's options (stem, ...)
    frame: dict               # resolution, num_classes, in_channels, stem, stem_width, head_width of the models
    raw: pd.DataFrame         # this space's rows, every status
    entry: dict | None        # the sweep entry (name, n, label, options, bands), when the sweep is known
    sweep: dict | None        # the whole sweep as `SweepConfig.to_dict()` gives it, when known
    source: str

    def space(self):
        from ...spaces import get_space

        try:
            return get_space(self.name, **{**self.frame, **self.options})
        except UnknownNameError as e:
            raise DesignspaceError(f"{self.source}: {e}; refine needs the design space the models were sampled "
                                   "from (a sweep directory records it; a table's space column must name it)") from None


def stored_sweep(path: str) -> dict | None:
    """The sweep file a sweep directory was run with (as stored in its results.db), or None for a table."""
    if not (os.path.isdir(path) and os.path.isfile(os.path.join(path, "results.db"))):
        return None
    from ...sweep.store import Store

    store = Store.open_existing(path, readonly=True)
    try:
        text = store.meta("config")
    finally:
        store.close()
    try:
        config = json.loads(text) if text else None
    except ValueError:
        return None
    return config if isinstance(config, dict) and config.get("spaces") else None


def sweep_from_file(path) -> dict:
    """A sweep file, validated, as the plain mapping a sweep directory stores."""
    from ...sweep.config import load_sweep_file

    return json.loads(json.dumps(load_sweep_file(path).to_dict()))


def choose_label(df: pd.DataFrame, wanted: str | None, source: str) -> str:
    labels = list(dict.fromkeys(df["space"].astype(str)))
    if wanted is not None:
        if wanted not in labels:
            raise UnknownNameError("space", wanted, labels)
        return wanted
    if len(labels) > 1:
        raise DesignspaceError(f"{source} holds {len(labels)} spaces ({', '.join(labels)}); choose one with --space")
    return labels[0]


def _entry(sweep: dict | None, label: str) -> dict | None:
    if not sweep:
        return None
    entries = sweep.get("spaces") or []
    for key in ("label", "name"):
        for e in entries:
            if str(e.get(key)) == label:
                return e
    return None


def spec_frame(raw: pd.DataFrame) -> dict:
    """The frame around the sampled bodies, from the first model's spec (and the table's resolution)."""
    text = raw["spec"].iloc[0]
    try:
        spec = text if isinstance(text, dict) else json.loads(text)
    except (TypeError, ValueError):
        raise DesignspaceError("the results table's spec column is not valid JSON") from None
    frame = {k: spec[k] for k in SPEC_FRAME if k in spec and spec[k] is not None}
    if "resolution" in raw.columns and pd.notna(raw["resolution"].iloc[0]):
        frame["resolution"] = int(raw["resolution"].iloc[0])
    return frame


def finished_count(raw: pd.DataFrame, metric: str) -> int:
    column = metric_column(metric)
    if column not in raw.columns:
        return 0
    values = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=np.float64)
    return int(((raw["status"].astype(str) == Status.DONE.value) & np.isfinite(values)).sum())


def parent_of(raw: pd.DataFrame, label: str, source: str, sweep: dict | None) -> Parent:
    """A Parent from one space's rows; `label` is their space column, `sweep` the sweep they came from."""
    entry = _entry(sweep, label)
    name = str(entry["name"]) if entry else label
    options = dict(entry.get("options") or {}) if entry else {}
    return Parent(label=label, name=name, options=options, frame=spec_frame(raw), raw=raw, entry=entry,
                  sweep=sweep if entry else None, source=source)


def load_parent(path, space_label: str | None = None, sweep_file=None) -> Parent:
    """The rows of one space of a sweep directory or table, and what is known of its space and sweep."""
    path = os.fspath(path)
    df = load_results(path)
    label = choose_label(df, space_label, path)
    raw = df[df["space"].astype(str) == label].copy()
    raw.attrs["source"] = path
    sweep = sweep_from_file(sweep_file) if sweep_file is not None else stored_sweep(path)
    if sweep_file is not None and _entry(sweep, label) is None:
        raise DesignspaceError(f"{sweep_file}: has no space labelled or named {label!r}")
    return parent_of(raw, label, path, sweep)
