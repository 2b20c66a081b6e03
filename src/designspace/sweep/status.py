"""Where a sweep stands (counts, throughput, time left) and exports of its results.

    info = sweep_status("sweeps/demo")      # dict, as `designspace sweep status DIR --json` prints
    print(format_status(info))
    export_results("sweeps/demo", "demo.parquet")
"""
from __future__ import annotations

import io
import os
import statistics
from datetime import datetime

from ..errors import DesignspaceError
from ..io import atomic_write_bytes
from ..results import STATUSES, Status
from .driver import driver_active
from .store import Store

EXPORT_FORMATS = (".csv", ".jsonl", ".parquet")


def _seconds(iso: str | None):
    return None if not iso else datetime.fromisoformat(iso).timestamp()


def sweep_status(sweep_dir) -> dict:
    store = Store.open_existing(sweep_dir, readonly=True)
    try:
        name, fingerprint = store.meta("name"), store.meta("fingerprint")
        rows = store.rows("models")
    finally:
        store.close()
    by_space: dict = {}
    totals = dict.fromkeys(STATUSES, 0)
    errors: dict = {}
    for r in rows:
        space = by_space.setdefault(r["space"], dict.fromkeys(STATUSES, 0))
        space[r["status"]] += 1
        totals[r["status"]] += 1
        if r["status"] == Status.DONE and r["best_error"] is not None:
            errors.setdefault(r["space"], []).append(r["best_error"])
    finished = sorted((_seconds(r["finished_at"]), _seconds(r["started_at"]), r["wall_time"]) for r in rows
                      if r["status"] in Status.finished() and r["finished_at"])
    rate = _recent_rate(finished)
    remaining = totals[Status.PENDING] + totals[Status.RUNNING]
    walls = [w for _, _, w in finished if w is not None]
    best = {space: {"best_error": min(v), "median_error": statistics.median(v)} for space, v in errors.items()}
    failures = [{"space": r["space"], "index": int(r["index"]), "attempts": int(r["attempts"]),
                 "last_error": r["last_error"]} for r in rows if r["status"] == Status.FAILED]
    return {"sweep": name, "dir": os.fspath(sweep_dir), "fingerprint": fingerprint, "total": len(rows),
            "counts": totals, "by_space": by_space, "driver_running": driver_active(os.fspath(sweep_dir)),
            "models_per_hour": rate * 3600 if rate else None,
            "mean_model_seconds": sum(walls) / len(walls) if walls else None,
            "eta_seconds": remaining / rate if rate and remaining else (0.0 if not remaining else None),
            "errors": best, "failures": failures}


def _recent_rate(finished: list, window: int = 50):
    """Models per second over the last `window` finishes (recent pace, robust to pauses long ago)."""
    recent = finished[-window:]
    if not recent:
        return None
    first_start = min((s for _, s, _ in recent if s is not None), default=None)
    begin = recent[0][0] if len(recent) > 1 else first_start
    span = recent[-1][0] - begin if begin is not None else 0
    count = len(recent) - 1 if len(recent) > 1 else 1
    if span <= 0:
        # All within one clock second: fall back on the models' own wall times.
        walls = [w for _, _, w in recent if w]
        return len(walls) / sum(walls) if walls else None
    return count / span


def _duration(seconds) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def format_status(info: dict) -> str:
    shown = [s for s in STATUSES if info["counts"][s] or s in (Status.PENDING, Status.DONE)]
    header = ["space"] + shown + ["total", "best err", "median err"]
    table = [header]
    for space, counts in info["by_space"].items():
        err = info["errors"].get(space, {})
        table.append([space] + [str(counts[s]) for s in shown] + [str(sum(counts.values())),
                     f"{err['best_error']:.2f}" if err else "-", f"{err['median_error']:.2f}" if err else "-"])
    table.append(["all"] + [str(info["counts"][s]) for s in shown] + [str(info["total"]), "", ""])
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = [f"sweep {info['sweep']!r} in {info['dir']} ({'driver running' if info['driver_running'] else 'idle'})"]
    lines += ["  ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(row, widths)))
              for row in table]
    rate = info["models_per_hour"]
    lines.append(f"throughput: {rate:.1f} models/hour" if rate else "throughput: no finished models yet")
    if info["mean_model_seconds"]:
        lines.append(f"mean training time per model: {info['mean_model_seconds']:.1f} s")
    for failure in info["failures"][:10]:  # the last error names the file with the full traceback
        lines.append(f"failed: {failure['space']} #{failure['index']} after {failure['attempts']} attempt(s): "
                     f"{failure['last_error']}")
    if len(info["failures"]) > 10:
        lines.append(f"... and {len(info['failures']) - 10} more failed model(s) (sweep status --json lists all)")
    left = info["counts"][Status.PENDING] + info["counts"][Status.RUNNING]
    lines.append("time left: none, every model is finished" if not left else
                 f"time left: about {_duration(info['eta_seconds'])} for {left} model(s) at that pace")
    return "\n".join(lines)


def export_results(sweep_dir, out_path) -> int:
    """Write read_results(sweep_dir) to .csv, .jsonl or .parquet, atomically; returns the row count."""
    from .store import read_results

    out_path = os.fspath(out_path)
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in EXPORT_FORMATS:
        raise DesignspaceError(f"{out_path}: unknown export format {ext or '(none)'!r}; use one of "
                               f"{', '.join(EXPORT_FORMATS)}")
    frame = read_results(sweep_dir)
    if ext == ".csv":
        data = frame.to_csv(index=False).encode()
    elif ext == ".jsonl":
        data = frame.to_json(orient="records", lines=True).encode()
    else:
        try:
            import pyarrow  # noqa: F401 - pandas needs it for parquet
        except ImportError:
            raise DesignspaceError("parquet export needs pyarrow (pip install pyarrow)") from None
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    atomic_write_bytes(out_path, data)
    return len(frame)

