"""Results tables with planted effects, from real samples of a design space: refine's test bench.

    >>> from designspace.analysis.refine.planted import sample_table, planted_errors, with_errors, PLANTED
    >>> table = sample_table("anynetx_a", n=600, seed=0)         # real samples, 28x28 x 1 channel, 10 classes
    >>> errors = planted_errors(table, {PLANTED["widths increase"]: -2.0}, noise=1.0, seed=1)
    >>> with_errors(table, errors).to_csv("planted.csv", index=False)   # a table `designspace refine` reads

The specs, sampled values and complexities are the sampler's own (in the `read_results` columns,
like analysis/synthetic.py); only the errors are made up: a base that falls with log flops, plus
each planted effect where its predicate holds, plus Gaussian noise.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ...results import RESULT_COLUMNS, Status
from .frame import stage_values

SMALL_FRAME = {"resolution": 28, "in_channels": 1, "num_classes": 10}
BAND = (1e6, 4e6)


def _non_decreasing(letter: str):
    return lambda f: np.all(np.diff(stage_values(f, letter), axis=1) >= 0, axis=1)


PLANTED = {
    "widths increase": _non_decreasing("w"),
    "depths increase": _non_decreasing("d"),
    "b = 1": lambda f: np.all(stage_values(f, "b") == 1, axis=1),
    "deep": lambda f: f["d"].to_numpy() >= 20,
}


def sample_table(space, n: int, seed: int = 0, flops=BAND, sweep: str = "planted", label: str | None = None,
                 **frame) -> pd.DataFrame:
    """n real samples of `space` (a name, a YAML path or a DesignSpace) as done rows without errors."""
    from ...spaces import get_space

    if isinstance(space, str):
        space = get_space(space, **{**SMALL_FRAME, **frame})
    rows = []
    for s in space.sample(n, seed=seed, flops=flops):
        rows.append({"sweep": sweep, "space": label or space.name, "index": s.index, "status": str(Status.DONE),
                     "spec": s.spec.to_json(), "values": json.dumps(s.values), "flops": s.flops, "params": s.params,
                     "acts": s.acts, "resolution": space.resolution, "best_error": np.nan, "final_error": np.nan,
                     "epochs": "[]", "wall_time": 1.0, "images_per_sec": 1.0, "attempts": 1, "last_error": None,
                     "host": "planted", "device": "cpu", "created_at": "2026-01-01T00:00:00+00:00",
                     "finished_at": "2026-01-01T00:01:00+00:00"})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def architecture_frame(table: pd.DataFrame) -> pd.DataFrame:
    """d, d_i, w_i (stored), b_i, g_i (sampled) and flops per row: what the planted predicates read."""
    from .frame import sampled_per_stage

    data = []
    for spec_text, values_text, flops in zip(table["spec"], table["values"], table["flops"]):
        spec, values = json.loads(spec_text), json.loads(values_text)
        row = {"flops": float(flops), "d": float(sum(s["depth"] for s in spec["stages"]))}
        stages = len(spec["stages"])
        b = sampled_per_stage(values, spec, "bottleneck_ratios", "bottleneck_ratio", "bottleneck_ratio", 1.0, stages)
        g = sampled_per_stage(values, spec, "group_widths", "group_width", "group_width", 1.0, stages)
        for i, s in enumerate(spec["stages"], start=1):
            row.update({f"d{i}": float(s["depth"]), f"w{i}": float(s["width"]), f"b{i}": b[i - 1], f"g{i}": g[i - 1]})
        data.append(row)
    return pd.DataFrame(data)


def planted_errors(table: pd.DataFrame, effects: dict, noise: float = 1.0, seed: int = 0, base: float = 30.0,
                   per_decade: float = 3.0) -> np.ndarray:
    """base - per_decade * log10(flops / 1M) + sum of each effect where its predicate holds + N(0, noise)."""
    frame = architecture_frame(table)
    errors = base - per_decade * np.log10(frame["flops"].to_numpy() / 1e6)
    for predicate, shift in effects.items():
        errors = errors + shift * np.asarray(predicate(frame), dtype=np.float64)
    return errors + np.random.default_rng(seed).normal(0.0, noise, len(frame))


def with_errors(table: pd.DataFrame, errors) -> pd.DataFrame:
    out = table.copy()
    out["best_error"] = out["final_error"] = np.asarray(errors, dtype=np.float64)
    return out
