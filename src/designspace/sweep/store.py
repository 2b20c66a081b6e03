"""The result store: one SQLite file (WAL mode), `results.db`, in the sweep directory.

One row per sampled model, keyed by (space, index); a `meta` table holds the
sweep file (as JSON) and its fingerprint, so a directory always knows which
experiment it holds. Only the driver writes; workers send results back to it.

    store = Store.open_existing("runs/my-sweep")
    store.counts()                   # {("anynetx_a", "done"): 12, ...}
    read_results("runs/my-sweep")    # pandas DataFrame in the contract's columns
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from datetime import datetime, timezone

from ..errors import DesignspaceError

DB_NAME = "results.db"
FORMAT = "designspace-sweep/1"
STATUSES = ("pending", "running", "done", "diverged", "oom", "failed")
FINISHED = ("done", "diverged", "oom", "failed")

# Columns of read_results / export, in order (the contract).
COLUMNS = ["sweep", "space", "index", "status", "spec", "values", "flops", "params", "acts", "resolution",
           "best_error", "final_error", "epochs", "wall_time", "images_per_sec", "attempts", "last_error",
           "host", "device", "created_at", "finished_at"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    position INTEGER PRIMARY KEY,
    space TEXT NOT NULL, idx INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    spec TEXT NOT NULL, values_json TEXT NOT NULL,
    flops INTEGER NOT NULL, params INTEGER NOT NULL, acts INTEGER NOT NULL, resolution INTEGER NOT NULL,
    best_error REAL, final_error REAL, epochs TEXT NOT NULL DEFAULT '[]',
    wall_time REAL, images_per_sec REAL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, host TEXT, device TEXT,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    UNIQUE (space, idx));
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def db_path(sweep_dir) -> str:
    return os.path.join(os.fspath(sweep_dir), DB_NAME)


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


class Store:
    """A connection to one sweep's results.db. Create with `create` or `open_existing`."""

    def __init__(self, path: str, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def _connect(cls, path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @classmethod
    def open_existing(cls, sweep_dir, readonly: bool = False) -> "Store":
        """Open a store; anything that is not one of ours, or is damaged, is a DesignspaceError."""
        path = db_path(sweep_dir)
        if not os.path.isfile(path):
            raise DesignspaceError(f"{os.fspath(sweep_dir)}: not a sweep directory (no {DB_NAME})")
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, timeout=30)
                conn.row_factory = sqlite3.Row
            else:
                conn = cls._connect(path)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"meta", "models"} <= tables:
                conn.close()
                raise DesignspaceError(f"{path}: an SQLite file that is not a designspace sweep store")
            fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if fmt is None or fmt[0] != FORMAT:
                conn.close()
                raise DesignspaceError(f"{path}: not a designspace sweep store (format {fmt[0] if fmt else None!r})")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                conn.close()
                raise DesignspaceError(f"{path}: the store is corrupt ({check})")
        except sqlite3.DatabaseError as e:
            raise DesignspaceError(f"{path}: not a readable sweep store ({e})") from None
        store = cls(path, conn)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        return store

    @classmethod
    def create(cls, sweep_dir, config_json: str, fingerprint: str, name: str, rows: list[dict]) -> "Store":
        """Write a new store holding every sampled model as `pending`, in one transaction."""
        os.makedirs(sweep_dir, exist_ok=True)
        path = db_path(sweep_dir)
        tmp = path + ".creating"
        for stale in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            if os.path.exists(stale):
                os.unlink(stale)
        # Built under a temporary name and renamed: a crash leaves no half-made store behind.
        conn = cls._connect(tmp)
        conn.executescript(_SCHEMA)
        created = now_iso()
        conn.execute("BEGIN")
        meta = {"format": FORMAT, "config": config_json, "fingerprint": fingerprint, "name": name,
                "created_at": created}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        conn.executemany(
            "INSERT INTO models (space, idx, spec, values_json, flops, params, acts, resolution, created_at) "
            "VALUES (:space, :index, :spec, :values, :flops, :params, :acts, :resolution, :created_at)",
            [{**r, "created_at": created} for r in rows])
        conn.execute("COMMIT")
        conn.close()
        os.replace(tmp, path)
        store = cls(path, cls._connect(path))
        store.conn.execute("PRAGMA journal_mode=WAL")
        return store

    def close(self) -> None:
        self.conn.close()

    # ---- metadata ------------------------------------------------------------------------------
    def meta(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ---- the driver's writes -------------------------------------------------------------------
    def reset_running(self) -> int:
        """Rows a dead driver left `running` go back to `pending`; returns how many."""
        cur = self.conn.execute("UPDATE models SET status='pending' WHERE status='running'")
        return cur.rowcount

    def reset_failed(self) -> int:
        """`failed` rows back to `pending` with a fresh set of attempts (after fixing the cause)."""
        return self.conn.execute("UPDATE models SET status='pending', attempts=0, finished_at=NULL "
                                 "WHERE status='failed'").rowcount

    def mark_running(self, space: str, index: int) -> int:
        """Count one more attempt and return it."""
        self.conn.execute("UPDATE models SET status='running', attempts=attempts+1, started_at=? "
                          "WHERE space=? AND idx=?", (now_iso(), space, index))
        return self.conn.execute("SELECT attempts FROM models WHERE space=? AND idx=?", (space, index)).fetchone()[0]

    def unmark_running(self, space: str, index: int) -> None:
        """An attempt cut short by the driver (interrupt, fatal data error) does not count."""
        self.conn.execute("UPDATE models SET status='pending', attempts=MAX(attempts-1, 0) "
                          "WHERE space=? AND idx=? AND status='running'", (space, index))

    def mark_error(self, space: str, index: int, error: str, max_attempts: int) -> str:
        """An attempt failed: back to pending while attempts remain, else `failed`. Returns the new status."""
        attempts = self.conn.execute("SELECT attempts FROM models WHERE space=? AND idx=?",
                                     (space, index)).fetchone()[0]
        status = "failed" if attempts >= max_attempts else "pending"
        self.conn.execute("UPDATE models SET status=?, last_error=?, finished_at=? WHERE space=? AND idx=?",
                          (status, error, now_iso() if status == "failed" else None, space, index))
        return status

    def record_result(self, space: str, index: int, result: dict) -> None:
        """Store a TrainResult (as a dict); its status (done, diverged, oom) becomes the row's."""
        status = result.get("status", "done")
        if status not in ("done", "diverged", "oom"):
            raise ValueError(f"not a result status: {status!r}")
        self.conn.execute(
            "UPDATE models SET status=?, best_error=?, final_error=?, epochs=?, wall_time=?, images_per_sec=?, "
            "host=?, device=?, finished_at=? WHERE space=? AND idx=?",
            (status, _finite(result.get("best_error")), _finite(result.get("final_error")),
             json.dumps(result.get("epochs") or []), _finite(result.get("wall_time")),
             _finite(result.get("images_per_sec")), result.get("host"), result.get("device"), now_iso(),
             space, index))

    # ---- reads ---------------------------------------------------------------------------------
    def rows(self, status: str | tuple | None = None) -> list[sqlite3.Row]:
        if status is None:
            return self.conn.execute("SELECT * FROM models ORDER BY position").fetchall()
        statuses = (status,) if isinstance(status, str) else tuple(status)
        marks = ",".join("?" * len(statuses))
        return self.conn.execute(f"SELECT * FROM models WHERE status IN ({marks}) ORDER BY position",
                                 statuses).fetchall()

    def counts(self) -> dict:
        return {(r[0], r[1]): r[2] for r in
                self.conn.execute("SELECT space, status, COUNT(*) FROM models GROUP BY space, status")}


def read_results(sweep_dir):
    """One row per sampled model with exactly the contract's columns (see COLUMNS)."""
    import pandas as pd

    store = Store.open_existing(sweep_dir, readonly=True)
    try:
        name = store.meta("name")
        rows = store.rows()
    finally:
        store.close()
    records = []
    for r in rows:
        done = r["status"] == "done"
        records.append({
            "sweep": name, "space": r["space"], "index": int(r["idx"]), "status": r["status"],
            "spec": r["spec"], "values": r["values_json"], "flops": int(r["flops"]), "params": int(r["params"]),
            "acts": int(r["acts"]), "resolution": int(r["resolution"]),
            "best_error": r["best_error"] if done and r["best_error"] is not None else math.nan,
            "final_error": r["final_error"] if done and r["final_error"] is not None else math.nan,
            "epochs": r["epochs"],
            "wall_time": r["wall_time"] if r["wall_time"] is not None else math.nan,
            "images_per_sec": r["images_per_sec"] if r["images_per_sec"] is not None else math.nan,
            "attempts": int(r["attempts"]), "last_error": r["last_error"], "host": r["host"],
            "device": r["device"], "created_at": r["created_at"], "finished_at": r["finished_at"]})
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    for col in ("index", "flops", "params", "acts", "resolution", "attempts"):
        frame[col] = frame[col].astype("int64")
    for col in ("best_error", "final_error", "wall_time", "images_per_sec"):
        frame[col] = frame[col].astype("float64")
    return frame
