"""Synthetic results tables in the exact `read_results` column schema.

They let the analysis and the report be tried, tested and benchmarked without training anything:
the specs are real (built with `designspace.regnet.regnet_spec` / `NetSpec`, complexity counted
exactly); only the errors are made up, from a smooth function of the architecture plus noise.

    >>> from designspace.analysis.synthetic import synthetic_results
    >>> df = synthetic_results("regnetx", n=100, seed=0)
    >>> df.to_csv("regnetx.csv", index=False)
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..complexity import complexity
from ..regnet import quantized_linear, regnet_spec
from ..results import RESULT_COLUMNS, Status
from ..spec import NetSpec, StageSpec, bottleneck_width

KINDS = ("regnetx", "anynetx")


def _regnet(rng, resolution, num_classes):
    while True:
        d = int(rng.integers(6, 17))
        w0 = int(rng.integers(2, 13)) * 8
        wa = float(np.round(rng.uniform(8, 64), 2))
        wm = float(np.round(rng.uniform(1.5, 3.0), 2))
        g = int(rng.choice([1, 2, 4, 8, 16]))
        qw = quantized_linear(d, w0, wa, wm)
        if qw.skips_exponent or not 2 <= qw.num_stages <= 4:
            continue
        spec = regnet_spec(d, w0, wa, wm, group_width=g, num_classes=num_classes, stem_width=16)
        values = {"depth": d, "w0": w0, "wa": wa, "wm": wm, "bottleneck_ratio": 1.0, "group_width": g}
        return spec, values


def _anynet(rng, resolution, num_classes):
    while True:
        depths = rng.integers(1, 5, 4).tolist()
        widths = (rng.integers(1, 33, 4) * 8).tolist()
        ratios = rng.choice([1.0, 2.0, 4.0], 4).tolist()
        groups = rng.choice([1, 2, 4, 8], 4).tolist()
        if all(bottleneck_width(w, b) % g == 0 for w, b, g in zip(widths, ratios, groups)):
            break
    stages = tuple(StageSpec(depth=int(d), width=int(w), bottleneck_ratio=float(b), group_width=int(g))
                   for d, w, b, g in zip(depths, widths, ratios, groups))
    spec = NetSpec(stages=stages, num_classes=num_classes, stem_width=16)
    values = {"depths": depths, "widths": widths, "bottleneck_ratios": ratios, "group_widths": groups}
    return spec, values


def _epochs(rng, final, epochs):
    start = final + rng.uniform(20, 40)
    curve = final + (start - final) * np.exp(-np.arange(1, epochs + 1) / (epochs / 3.0))
    curve = curve - curve[-1] + final + rng.normal(0, 0.3, epochs) * (np.arange(epochs) < epochs - 1)
    return [{"epoch": i + 1, "train_loss": float(curve[i] / 40), "train_error": float(curve[i] * 0.9),
             "test_error": float(curve[i]), "test_top5_error": float(curve[i] / 4), "images_per_sec": 1000.0,
             "wall_time": float(i + 1), "peak_mem_mb": 100.0, "lr": 0.1} for i in range(epochs)]


def synthetic_results(kind: str = "regnetx", n: int = 100, seed: int = 0, sweep: str | None = None,
                      space: str | None = None, resolution: int = 32, num_classes: int = 10, epochs: int = 5,
                      unfinished: int = 0, flops=(2e6, 12e6)) -> pd.DataFrame:
    """n rows of a made-up sweep over RegNetX-like ("regnetx") or AnyNetX-like ("anynetx") models
    whose flops lie in the band `flops` (lo, hi), like a sweep sampled in a complexity band."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    rng = np.random.default_rng(seed)
    make = _regnet if kind == "regnetx" else _anynet
    rows = []
    for index in range(n):
        while True:
            spec, values = make(rng, resolution, num_classes)
            cx = complexity(spec, resolution)
            if flops is None or flops[0] <= cx["flops"] <= flops[1]:
                break
        bw = np.asarray(spec.block_widths(), dtype=np.float64)
        # Error falls with flops, rises with irregular widths (so e_fit matters), plus noise.
        irregular = float(np.mean(np.abs(np.diff(np.log(bw))))) if bw.size > 1 else 0.0
        error = 40.0 - 3.0 * np.log10(cx["flops"]) + 4.0 * irregular + rng.normal(0, 1.0)
        error = float(np.clip(error, 5.0, 90.0))
        done = index < n - unfinished
        epoch_list = _epochs(rng, error, epochs) if done else []
        best = min(e["test_error"] for e in epoch_list) if done else float("nan")
        rows.append({
            "sweep": sweep or f"synthetic-{kind}", "space": space or kind, "index": index,
            "status": str(Status.DONE if done else Status.PENDING), "spec": spec.to_json(), "values": json.dumps(values),
            "flops": int(cx["flops"]), "params": int(cx["params"]), "acts": int(cx["acts"]),
            "resolution": resolution, "best_error": best, "final_error": error if done else float("nan"),
            "epochs": json.dumps(epoch_list), "wall_time": float(epochs) if done else float("nan"),
            "images_per_sec": 1000.0 if done else float("nan"), "attempts": 1 if done else 0, "last_error": None,
            "host": "synthetic" if done else None, "device": "cpu" if done else None,
            "created_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:10:00+00:00" if done else None,
        })
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
