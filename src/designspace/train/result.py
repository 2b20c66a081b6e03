"""TrainResult: what one training run produced (also written as out_dir/result.json).

    result = train(spec, DataConfig("fashion-mnist"))
    result.status, result.best_error, result.epochs[-1]["test_error"]
    TrainResult.from_dict(json.load(open("run/result.json")))
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..results import Status

EPOCH_KEYS = ("epoch", "train_loss", "train_error", "test_error", "test_top5_error", "images_per_sec", "wall_time",
              "peak_mem_mb", "lr")


def _json_number(value):
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class TrainResult:
    status: Status  # done, diverged or oom
    best_error: float  # top-1 test error in percent, best over epochs (NaN if no epoch finished)
    final_error: float  # top-1 test error of the last finished epoch
    epochs: list = field(default_factory=list)
    wall_time: float = 0.0
    images_per_sec: float = 0.0
    device: str = ""
    host: str = ""
    settings: dict = field(default_factory=dict)
    message: str | None = None  # why a run ended early (diverged / oom)

    def __post_init__(self):
        self.status = Status(self.status)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        for key in ("best_error", "final_error", "wall_time", "images_per_sec"):
            data[key] = _json_number(data[key])
        data["epochs"] = [{k: _json_number(v) for k, v in e.items()} for e in self.epochs]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainResult":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("best_error", "final_error"):
            values[key] = math.nan if values.get(key) is None else float(values[key])
        values["epochs"] = [{k: (math.nan if v is None and k != "epoch" else v) for k, v in e.items()}
                            for e in values.get("epochs", [])]
        return cls(**values)


def summarize_errors(epochs: list) -> tuple[float, float]:
    """(best, final) top-1 test error over the finished epochs; NaN when there are none."""
    errors = [e["test_error"] for e in epochs if e.get("test_error") is not None and math.isfinite(e["test_error"])]
    if not errors:
        return math.nan, math.nan
    return min(errors), errors[-1]
