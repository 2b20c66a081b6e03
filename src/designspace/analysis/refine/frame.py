"""The per-model values candidate restrictions test: the analysis metrics plus per-stage sampled b and g.

    >>> from designspace.analysis.refine.frame import refine_frame, prior_frame
    >>> frame = refine_frame(raw, metric="best")        # model_metrics + b1..bS, g1..gS as sampled
    >>> frame[["error", "flops", "d", "w1", "b1", "g1"]]
    >>> prior = prior_frame(space, draws=20000, seed=0)  # the same columns for prior draws (no error, no flops)

Widths are the stored (group-adjusted) ones, which is what a space's monotone constraint checks;
b and g are the sampled values: the adjusted g of a stage may be clipped to its bottleneck width,
but a refined space shares or narrows the sampled one. For RegNet rows d, w0, wa, wm are the
sampled values (as in `model_metrics`).
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..table import finished, json_cell, model_metrics

FIT_COLUMNS = ("e_fit", "fit_w0", "fit_wa", "fit_wm")


def stage_columns(letter: str, stages: int) -> list[str]:
    """['w1', 'w2', ...]: one column per stage of a per-stage quantity (d, w, b or g)."""
    return [f"{letter}{i}" for i in range(1, stages + 1)]


def stage_count(frame: pd.DataFrame) -> int:
    stages = 0
    while f"w{stages + 1}" in frame.columns:
        stages += 1
    return stages


def stage_values(frame: pd.DataFrame, letter: str) -> np.ndarray:
    """(models, stages) float array of a per-stage quantity."""
    return frame[stage_columns(letter, stage_count(frame))].to_numpy(dtype=np.float64)


def _parsed(text):
    try:
        return json_cell(text)
    except ValueError:
        return None  # model_metrics already rejected an unreadable spec; values are optional


def sampled_per_stage(values, spec, plural: str, singular: str, field: str, default: float,
                      stages: int) -> list[float]:
    """A per-stage parameter as sampled (AnyNet: a list; RegNet: one shared value), else the spec's
    (`spec`: the parsed spec, or its JSON text, parsed only when the values lack the parameter)."""
    if isinstance(values, dict):
        if isinstance(values.get(plural), list) and len(values[plural]) == stages:
            return [float(v) for v in values[plural]]
        if isinstance(values.get(singular), (int, float)):
            return [float(values[singular])] * stages
    spec = _parsed(spec) or {}
    return [float(s.get(field, default)) for s in spec.get("stages", [])]


def add_sampled_b_g(metrics: pd.DataFrame, raw: pd.DataFrame, metric: str) -> pd.DataFrame:
    """metrics plus columns b1..bS and g1..gS (sampled values), matched to the raw rows by (sweep, index)."""
    done = finished(raw, metric)
    values_column = done["values"] if "values" in done.columns else [None] * len(done)
    lookup = {(str(sweep), int(index)): (values, spec)
              for sweep, index, values, spec in zip(done["sweep"], done["index"], values_column, done["spec"])}
    stages = stage_count(metrics)
    b = np.full((len(metrics), stages), np.nan)
    g = np.full((len(metrics), stages), np.nan)
    for row, (sweep, index, count) in enumerate(zip(metrics["sweep"], metrics["index"], metrics["stages"])):
        values, spec = lookup[(str(sweep), int(index))]
        values = _parsed(values)
        count = int(count)
        bs = sampled_per_stage(values, spec, "bottleneck_ratios", "bottleneck_ratio", "bottleneck_ratio", 1.0, count)
        gs = sampled_per_stage(values, spec, "group_widths", "group_width", "group_width", 1.0, count)
        b[row, :len(bs)], g[row, :len(gs)] = bs[:stages], gs[:stages]
    out = metrics.copy()
    for i in range(stages):
        out[f"b{i + 1}"], out[f"g{i + 1}"] = b[:, i], g[:, i]
    return out


def refine_frame(raw: pd.DataFrame, metric: str = "best", label: str | None = None,
                 metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per finished model: `model_metrics` (or the given metrics of the same rows) plus b_i, g_i."""
    if metrics is None:
        metrics = model_metrics(raw, metric, label=label)
    return add_sampled_b_g(metrics, raw, metric)


def _per_stage(values: dict, plural: str, singular: str, fallback: np.ndarray) -> np.ndarray:
    if plural in values:
        return np.asarray(values[plural], dtype=np.float64)
    if singular in values:
        return np.repeat(np.asarray(values[singular], dtype=np.float64)[:, None], fallback.shape[1], axis=1)
    return fallback.astype(np.float64)


def batch_frame(batch, with_fit: bool = False) -> pd.DataFrame:
    """The refine frame's architecture columns for a `Batch` of drawn candidates."""
    depths, widths = batch.depths, batch.widths
    data = {"d": depths.sum(axis=1).astype(np.float64), "stages": np.full(len(batch), float(depths.shape[1]))}
    b = _per_stage(batch.values, "bottleneck_ratios", "bottleneck_ratio", batch.bottleneck_ratios)
    g = _per_stage(batch.values, "group_widths", "group_width", batch.group_widths)
    for i in range(depths.shape[1]):
        data[f"d{i + 1}"], data[f"w{i + 1}"] = depths[:, i].astype(np.float64), widths[:, i].astype(np.float64)
        data[f"b{i + 1}"], data[f"g{i + 1}"] = b[:, i], g[:, i]
    for key in ("w0", "wa", "wm"):
        if key in batch.values:
            data[key] = np.asarray(batch.values[key], dtype=np.float64)
    frame = pd.DataFrame(data)
    return _with_fit(frame, depths, widths) if with_fit else frame


def _with_fit(frame: pd.DataFrame, depths: np.ndarray, widths: np.ndarray) -> pd.DataFrame:
    from ..fit import fit_many

    blocks = [tuple(np.repeat(w, d).tolist()) for w, d in zip(widths, depths)]
    distinct = list(dict.fromkeys(blocks))
    fits = dict(zip(distinct, fit_many(distinct)))  # one fit per distinct widths
    for column, attr in zip(FIT_COLUMNS, ("e_fit", "w0", "wa", "wm")):
        frame[column] = [float(getattr(fits[b], attr)) for b in blocks]
    return frame


def prior_frame(space, draws: int, seed: int = 0, with_fit: bool = False) -> pd.DataFrame:
    """`draws` candidates from the space's own sampler (before any complexity band), as a frame."""
    batch = space.draw(np.random.default_rng(seed), int(draws))
    return batch_frame(batch, with_fit=with_fit)
