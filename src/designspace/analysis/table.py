"""Results tables: load a sweep (or an exported table) and derive per-model metrics.

    >>> from designspace.analysis.table import load_results, model_metrics
    >>> df = load_results("runs/anynetx_a")          # a sweep directory (results.db) ...
    >>> df = load_results("anynetx_a.parquet")       # ... or `designspace sweep export` output (.csv/.jsonl/.parquet)
    >>> m = model_metrics(df, metric="best")         # finished models: error, d, w_i, d_i, b, g, w0, wa, wm, e_fit, ...

For RegNet rows w0/wa/wm come from the sampled values; for any other model from the quantized
linear fit of its per-block widths. e_fit is always the fit's (the minimum over the grid).
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd

from ..errors import DesignspaceError
from ..results import Status
from .fit import fit_many

METRICS = {"best": "best_error", "final": "final_error", "best_error": "best_error", "final_error": "final_error"}
TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")


def _read_table(path: str) -> pd.DataFrame:
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, keep_default_na=True)
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401  (optional dependency)
            except ImportError:
                raise DesignspaceError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
            return pd.read_parquet(path)
    except DesignspaceError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DesignspaceError(f"{path}: cannot read the results table ({first})") from None
    raise DesignspaceError(f"{path}: not a results table; give a sweep directory or a {'/'.join(TABLE_SUFFIXES)} file")


def load_results(path) -> pd.DataFrame:
    """A sweep directory (via `designspace.sweep.read_results`) or an exported table -> DataFrame."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DesignspaceError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "results.db")):
            raise DesignspaceError(f"{path}: not a sweep directory (no results.db)")
        try:
            from ..sweep import read_results
        except ImportError as e:
            raise DesignspaceError(f"{path}: reading a sweep directory needs designspace.sweep ({e})") from None
        df = read_results(path)
    else:
        df = _read_table(path)
    required = ("sweep", "space", "index", "status", "spec", "flops", "params", "acts")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DesignspaceError(f"{path}: not a results table; missing column(s) {', '.join(missing)}")
    if len(df) == 0:
        raise DesignspaceError(f"{path}: the results table is empty")
    df = df.copy()
    df["sweep"] = df["sweep"].astype(str)
    df["space"] = df["space"].astype(str)
    df.attrs["source"] = path
    return df


def metric_column(metric: str) -> str:
    if metric not in METRICS:
        raise DesignspaceError(f"unknown metric {metric!r}; use best or final")
    return METRICS[metric]


def finished(df: pd.DataFrame, metric: str = "best", source: str | None = None) -> pd.DataFrame:
    """Rows with status done and a finite value of the metric; a clear error if there are none."""
    column = metric_column(metric)
    source = source or df.attrs.get("source", "results")
    if column not in df.columns:
        raise DesignspaceError(f"{source}: metric {column!r} is not in the table")
    values = pd.to_numeric(df[column], errors="coerce")
    done = df[(df["status"].astype(str) == Status.DONE.value) & np.isfinite(values.to_numpy(dtype=np.float64))]
    if len(done) == 0:
        counts = df["status"].astype(str).value_counts().to_dict()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        raise DesignspaceError(f"{source}: no finished model with a {column} ({summary}); "
                               "wait for the sweep or rerun it")
    return done


def json_cell(text):
    """A JSON column's cell: parsed text, the object itself, or None for an empty cell; ValueError if unreadable."""
    if isinstance(text, (dict, list)):
        return text
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    try:
        return json.loads(text)
    except TypeError as e:
        raise ValueError(str(e)) from None


def _loads(text, what: str, where: str):
    try:
        return json_cell(text)
    except ValueError:
        raise DesignspaceError(f"{where}: column {what} is not valid JSON") from None


def _scalar(values) -> float:
    """A per-stage parameter as one number: the shared value, else the geometric mean."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan")
    if np.all(arr == arr[0]):
        return float(arr[0])
    return float(np.exp(np.mean(np.log(arr))))


def model_metrics(df: pd.DataFrame, metric: str = "best", label: str | None = None) -> pd.DataFrame:
    """One row per finished model with the quantities plotted against error."""
    column = metric_column(metric)
    done = finished(df, metric)
    source = df.attrs.get("source", "results")
    rows, fitted = [], []
    for rec in done.to_dict("records"):
        where = f"{source}: model {rec.get('index')}"
        spec = _loads(rec["spec"], "spec", where)
        if not isinstance(spec, dict) or not isinstance(spec.get("stages"), list) or not spec["stages"]:
            raise DesignspaceError(f"{where}: spec has no stages")
        values = _loads(rec.get("values"), "values", where) or {}
        stages = spec["stages"]
        depths = [int(s["depth"]) for s in stages]
        widths = [int(s["width"]) for s in stages]
        block_widths = tuple(np.repeat(widths, depths).tolist())
        row = {
            "label": label or str(rec["space"]), "sweep": str(rec["sweep"]), "space": str(rec["space"]),
            "index": int(rec["index"]), "name": spec.get("name") or f"{rec['space']}#{rec['index']}",
            "error": float(rec[column]), "flops": float(rec["flops"]), "params": float(rec["params"]),
            "acts": float(rec["acts"]), "d": float(sum(depths)), "stages": float(len(stages)),
            "b": _scalar([s.get("bottleneck_ratio", 1.0) for s in stages]),
            "g": _scalar([s.get("group_width", 1) for s in stages]),
            "e_fit": None, "block_widths": list(block_widths),
            "fit_w0": None, "fit_wa": None, "fit_wm": None, "fit_block_widths": None,
            "epochs": rec.get("epochs"),
        }
        regnet = isinstance(values, dict) and all(k in values for k in ("w0", "wa", "wm"))
        for key in ("w0", "wa", "wm"):
            row[key] = float(values[key]) if regnet else None  # None: the fit's, filled in below
        for i, (d, w) in enumerate(zip(depths, widths), start=1):
            row[f"d{i}"] = float(d)
            row[f"w{i}"] = float(w)
        rows.append(row)
        fitted.append(block_widths)
    # One fit per distinct widths, all fitted together (fit_many batches the grid searches).
    distinct = list(dict.fromkeys(fitted))
    fits = dict(zip(distinct, fit_many(distinct)))
    for row, block_widths in zip(rows, fitted):
        fit = fits[block_widths]
        row.update(e_fit=fit.e_fit, fit_w0=fit.w0, fit_wa=fit.wa, fit_wm=fit.wm, fit_block_widths=fit.block_widths)
        for key in ("w0", "wa", "wm"):
            if row[key] is None:
                row[key] = float(getattr(fit, key))
    return pd.DataFrame(rows)


def epoch_curves(epochs_json) -> list[dict]:
    """Per-epoch dicts from the epochs column (JSON text or an already-parsed list)."""
    try:
        data = _loads(epochs_json, "epochs", "results")
    except DesignspaceError:
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
