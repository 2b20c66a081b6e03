# Baseline: designspace/analysis/analyze.py as it was before the report speed-up (see __init__.py).
"""Per-space statistics for the report: everything computed, nothing drawn.

    >>> from designspace.analysis import load_results, summarize
    >>> summary = summarize([load_results("runs/x"), load_results("runs/y")], metric="best", normalize="flops")
    >>> summary["spaces"][1]["ks_plain"], summary["pairs"][0]["finding"]

The first space is the reference of the summary table's KS columns; the findings compare the
pairs asked for (`pairs=[("anynetx_a", "anynetx_b")]`), by default the first space with every other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from designspace.errors import DesignspaceError, UnknownNameError
from . import stats
from designspace.analysis.calibration import noise_floor
from designspace.analysis.complexity import power_law
from .table import finished, metric_column, model_metrics

DEFAULT_BINS = 10
NORMALIZE = ("flops", "params")
BASE_PARAMETERS = ("d", "stages", "b", "g", "w0", "wa", "wm", "e_fit", "flops", "params", "acts")


def group_spaces(frames) -> dict[str, pd.DataFrame]:
    """Split loaded tables into design spaces; a label is the space name, or sweep/space when ambiguous."""
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    parts = []
    for df in frames:
        source = df.attrs.get("source", "results")
        for (sweep, space), part in df.groupby(["sweep", "space"], sort=False):
            part = part.copy()
            part.attrs["source"] = source
            parts.append((str(sweep), str(space), part))
    if not parts:
        raise DesignspaceError("no results to analyse")
    names = [space for _, space, _ in parts]
    out = {}
    for sweep, space, part in parts:
        label = space if names.count(space) == 1 else f"{sweep}/{space}"
        if label in out:
            out[label] = pd.concat([out[label], part], ignore_index=True)
            out[label].attrs["source"] = part.attrs["source"]
        else:
            out[label] = part
    return out


def canonical_order(stages: int) -> list[str]:
    """d, stages, then w_i, d_i per stage, then the rest of BASE_PARAMETERS."""
    per_stage = [f"{x}{i}" for i in range(1, stages + 1) for x in ("w", "d")]
    return list(BASE_PARAMETERS[:2]) + per_stage + list(BASE_PARAMETERS[2:])


def parameters_of(metrics: pd.DataFrame) -> list[str]:
    """The quantities to bootstrap and plot: the base ones plus per-stage w_i, d_i present in most models,
    leaving out any that take a single value in this space."""
    stages = 0
    while f"w{stages + 1}" in metrics and metrics[f"w{stages + 1}"].notna().mean() >= 0.5:
        stages += 1
    # A parameter that never varies in this space (4 stages, b = 1) says nothing about error.
    return [p for p in canonical_order(stages) if p in metrics and metrics[p].dropna().nunique() > 1]


def _complexity_values(metrics: pd.DataFrame, normalize: str) -> np.ndarray:
    return metrics[normalize].to_numpy(dtype=np.float64)


def resolve_bins(metrics_by_label, normalize: str, bins: int | None):
    """(edges, B, note): B from the user (an empty bin is an error) or the largest B <= default that works."""
    values = [_complexity_values(m, normalize) for m in metrics_by_label.values()]
    if bins is not None:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise DesignspaceError(f"--bins must be an integer >= 1, got {bins!r}")
        edges = stats.shared_bins(values, int(bins))
        for label, m in metrics_by_label.items():
            stats.normalized_weights(_complexity_values(m, normalize), edges=edges, name=f"space {label!r}")
        return edges, int(bins), ""
    b = stats.largest_valid_bins(values, DEFAULT_BINS)
    note = "" if b == DEFAULT_BINS else f"{b} bins (the most for which every space fills every bin)"
    return stats.shared_bins(values, b), b, note


def _compare(ref: dict, other: dict) -> tuple[dict, dict]:
    """KS of `other` against `ref`: on the plain EDFs and on the normalized ones."""
    a, b = other["metrics"]["error"].to_numpy(), ref["metrics"]["error"].to_numpy()
    return (stats.ks_test(a, b).to_dict(),
            stats.ks_test(a, b, weights_a=other["weights"], weights_b=ref["weights"]).to_dict())


def noise_sentence(ref: dict, other: dict, seed_noise: float | None) -> str:
    """Whether the pair's median difference is larger than what seed noise alone produces (from a calibration)."""
    if seed_noise is None:
        return ("Whether this difference exceeds seed noise is unmeasured: no calibration of this regime "
                "(designspace calibrate).")
    diff = abs(other["median_error"] - ref["median_error"])
    floor = noise_floor(seed_noise, other["finished"], ref["finished"])
    larger = "larger" if diff > floor else "not larger"
    return (f"Seed noise alone ({seed_noise:.2f} points per run, from the calibration) moves a median difference "
            f"by up to {floor:.2f} points (95%) at these sizes: this difference of {diff:.2f} is {larger} than "
            f"what seed noise alone produces.")


def _finding(ref: dict, other: dict, kp: dict, kn: dict, metric: str, normalize: str, bins: int,
             seed_noise: float | None = None) -> str:
    """What the data show for one pair, with the statistics, and nothing more."""
    lower = other["label"] if other["median_error"] < ref["median_error"] else ref["label"]
    diff = abs(other["median_error"] - ref["median_error"])
    verdict_p = "rejects" if kp["pvalue"] < 0.05 else "does not reject"
    verdict_n = "rejects" if kn["pvalue"] < 0.05 else "does not reject"
    return (
        f"{other['label']} ({other['finished']} finished models) vs {ref['label']} ({ref['finished']}), "
        f"{metric} error: "
        f"median {other['median_error']:.2f}% vs {ref['median_error']:.2f}% ({lower} lower by {diff:.2f} points), "
        f"minimum {other['min_error']:.2f}% vs {ref['min_error']:.2f}%. "
        f"KS on the plain EDFs: D = {kp['statistic']:.3f}, p = {kp['pvalue']:.3g}, so the test {verdict_p} equal "
        f"distributions at the 5% level. KS on the {normalize}-normalized EDFs ({bins} bins): "
        f"D = {kn['statistic']:.3f}, p = {kn['pvalue']:.3g} (approximate), {verdict_n} at 5%. "
        + noise_sentence(ref, other, seed_noise)
    )


def summarize(frames, metric: str = "best", normalize: str = "flops", bins: int | None = None,
              seed: int = 0, repeats: int = 10_000, pairs=None, seed_noise: dict | None = None) -> dict:
    """Per-space statistics (see the module docstring). JSON-serializable except the 'metrics' frames
    and 'weights' arrays. `pairs`: the (reference, other) space labels to compare with KS tests and a
    finding each; default: the first space against every other. `seed_noise`: {sweep name: the seed
    noise its calibration measured}, so each finding says whether it rises above that noise."""
    if normalize not in NORMALIZE:
        raise DesignspaceError(f"--normalize must be flops or params, got {normalize!r}")
    metric_column(metric)
    spaces = group_spaces(frames)
    pairs = None if pairs is None else _check_pairs(pairs, list(spaces))
    metrics_by_label = {}
    for label, raw in spaces.items():
        finished(raw, metric, source=f"{raw.attrs.get('source', 'results')} (space {label!r})")
        metrics_by_label[label] = model_metrics(raw, metric, label=label)
    edges, n_bins, bins_note = resolve_bins(metrics_by_label, normalize, bins)
    out, ref = [], None
    for label, m in metrics_by_label.items():
        raw = spaces[label]
        errors = m["error"].to_numpy(dtype=np.float64)
        weights = stats.normalized_weights(_complexity_values(m, normalize), edges=edges, name=f"space {label!r}")
        entry = {
            "label": label, "sweep": str(raw["sweep"].iloc[0]), "space": str(raw["space"].iloc[0]),
            "source": raw.attrs.get("source", ""), "n": int(len(raw)), "finished": int(len(m)),
            "statuses": {str(k): int(v) for k, v in raw["status"].astype(str).value_counts().items()},
            "min_error": float(errors.min()), "median_error": float(np.median(errors)),
            "normalized_median_error": float(_weighted_median(errors, weights)),
            "weights": weights, "metrics": m,
            "best_of_k_plain": stats.best_of_k(errors).to_dict(),
            "best_of_k_normalized": stats.best_of_k(errors, weights=weights).to_dict(),
        }
        params = parameters_of(m)
        entry["parameters"] = params
        entry["bootstrap"] = {}
        for p in params:
            x = m[p].to_numpy(dtype=np.float64)
            ok = np.isfinite(x)
            if ok.sum():
                entry["bootstrap"][p] = stats.bootstrap_best(x[ok], errors[ok], repeats=repeats, seed=seed).to_dict()
        entry["power_laws"] = {}
        for y in ("acts", "params"):
            try:
                entry["power_laws"][y] = power_law(m["flops"], m[y]).to_dict()
            except DesignspaceError:
                pass  # fewer than two distinct complexities: nothing to fit
        if ref is None:
            ref = entry
            entry["ks_plain"] = entry["ks_normalized"] = None
        else:
            entry["ks_plain"], entry["ks_normalized"] = _compare(ref, entry)
        out.append(entry)
    by_label = {e["label"]: e for e in out}
    wanted = [(ref["label"], e["label"]) for e in out[1:]] if pairs is None else pairs
    compared = []
    for ref_label, other_label in wanted:
        a, b = by_label[ref_label], by_label[other_label]
        kp, kn = (b["ks_plain"], b["ks_normalized"]) if a is ref and b is not ref else _compare(a, b)
        noise = (seed_noise or {}).get(a["sweep"], (seed_noise or {}).get(b["sweep"]))
        compared.append({"reference": a["label"], "other": b["label"], "ks_plain": kp, "ks_normalized": kn,
                         "seed_noise": noise, "median_difference": b["median_error"] - a["median_error"],
                         "noise_floor": None if noise is None else noise_floor(noise, b["finished"], a["finished"]),
                         "finding": _finding(a, b, kp, kn, metric, normalize, n_bins, noise)})
    return {"metric": metric, "metric_column": metric_column(metric), "normalize": normalize, "bins": n_bins,
            "bins_note": bins_note, "edges": edges.tolist(), "spaces": out, "pairs": compared, "seed": seed}


def _check_pairs(pairs, labels: list[str]) -> list[tuple[str, str]]:
    """(reference, other) label pairs, each label one of the loaded spaces ("a:b" strings accepted)."""
    out = []
    for pair in pairs:
        parts = tuple(pair.split(":", 1)) if isinstance(pair, str) else tuple(pair)
        if len(parts) != 2:
            raise DesignspaceError(f"a comparison is a pair of spaces (reference, other), got {pair!r}")
        for label in parts:
            if label not in labels:
                raise UnknownNameError("space", label, labels)
        out.append((str(parts[0]), str(parts[1])))
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cum, 0.5)])
