"""The result store: one SQLite file (WAL mode), `results.db`, in the sweep directory.

Two tables of training runs share the run-state columns (status, errors, attempts, times):
`models`, one row per sampled model of the sweep, keyed by (space, index); and `calibration`,
the runs of `designspace calibrate` (each calibration model several times in the regime, once
in the reference). A `meta` table holds the sweep file (as JSON) and its fingerprint, so a
directory always knows which experiment it holds. Only the driver writes; workers send
results back to it. The schema is in docs/design.md.

    store = Store.open_existing("runs/my-sweep")
    store.counts("models")           # {("anynetx_a", Status.DONE): 12, ...}
    read_results("runs/my-sweep")    # pandas DataFrame in RESULT_COLUMNS
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from datetime import datetime, timezone

from ..errors import DesignspaceError
from ..results import RESULT_COLUMNS, Status
from .task import TABLES, RunKey

DB_NAME = "results.db"
FORMAT = "designspace-sweep/1"

_RUN_STATE = """
    status TEXT NOT NULL DEFAULT 'pending',
    spec TEXT NOT NULL, values_json TEXT NOT NULL,
    flops INTEGER NOT NULL, params INTEGER NOT NULL, acts INTEGER NOT NULL, resolution INTEGER NOT NULL,
    best_error REAL, final_error REAL, epochs TEXT NOT NULL DEFAULT '[]',
    wall_time REAL, images_per_sec REAL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, host TEXT, device TEXT,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT"""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    position INTEGER PRIMARY KEY, space TEXT NOT NULL, idx INTEGER NOT NULL,{_RUN_STATE},
    UNIQUE (space, idx));
CREATE TABLE IF NOT EXISTS calibration (
    position INTEGER PRIMARY KEY, model INTEGER NOT NULL, role TEXT NOT NULL, replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL, space TEXT NOT NULL, idx INTEGER NOT NULL,{_RUN_STATE},
    UNIQUE (model, role, replicate));
"""
_SAMPLE_COLUMNS = ("space", "idx", "spec", "values_json", "flops", "params", "acts", "resolution")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def db_path(sweep_dir) -> str:
    return os.path.join(os.fspath(sweep_dir), DB_NAME)


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def _table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"not a run table: {table!r}")
    return table


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
            cls._check(conn, path)
        except sqlite3.DatabaseError as e:
            raise DesignspaceError(f"{path}: not a readable sweep store ({e})") from None
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)  # a store made before calibrations existed gains the empty table
        return cls(path, conn)

    @staticmethod
    def _check(conn, path: str) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        problem = None
        if not {"meta", "models"} <= tables:
            problem = "an SQLite file that is not a designspace sweep store"
        else:
            fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if fmt is None or fmt[0] != FORMAT:
                problem = f"not a designspace sweep store (format {fmt[0] if fmt else None!r})"
            elif check != "ok":
                problem = f"the store is corrupt ({check})"
        if problem:
            conn.close()
            raise DesignspaceError(f"{path}: {problem}")

    @classmethod
    def create(cls, sweep_dir, config_json: str, fingerprint: str, name: str, rows: list[dict]) -> "Store":
        """Write a new store holding every sampled model as `pending`, in one transaction.

        rows: {"space", "index", "spec" (JSON), "values" (JSON), "flops", "params", "acts", "resolution"}.
        """
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

    def has_table(self, table: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                 (_table(table),)).fetchone() is not None

    def key(self, space: str, index: int) -> RunKey:
        """The RunKey of the sweep model (space, index)."""
        row = self.conn.execute("SELECT position FROM models WHERE space=? AND idx=?", (space, index)).fetchone()
        if row is None:
            raise KeyError(f"no model {space} #{index} in {self.path}")
        return RunKey("models", int(row[0]))

    def add_calibration(self, settings_json: str, fingerprint: str, runs: list[dict]) -> None:
        """Record a calibration's settings and its runs as `pending`, in one transaction.

        runs: {"model", "role", "replicate", "seed", "space", "index"}: each copies the sweep model (space, index).
        """
        created = now_iso()
        copied = ", ".join(f"m.{c}" for c in _SAMPLE_COLUMNS if c not in ("space", "idx"))
        self.conn.execute("BEGIN")
        try:
            for key, value in (("calibration", settings_json), ("calibration_fingerprint", fingerprint)):
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            self.conn.executemany(
                f"INSERT INTO calibration (model, role, replicate, seed, space, idx, "
                f"{', '.join(c for c in _SAMPLE_COLUMNS if c not in ('space', 'idx'))}, created_at) "
                f"SELECT :model, :role, :replicate, :seed, m.space, m.idx, {copied}, :created_at "
                f"FROM models m WHERE m.space=:space AND m.idx=:index",
                [{**r, "created_at": created} for r in runs])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # ---- the driver's writes -------------------------------------------------------------------
    def reset_running(self, table: str) -> int:
        """Rows a dead driver left `running` go back to `pending`; returns how many."""
        return self.conn.execute(f"UPDATE {_table(table)} SET status=? WHERE status=?",
                                 (Status.PENDING, Status.RUNNING)).rowcount

    def reset_failed(self, table: str) -> int:
        """`failed` rows back to `pending` with a fresh set of attempts (after fixing the cause)."""
        return self.conn.execute(f"UPDATE {_table(table)} SET status=?, attempts=0, finished_at=NULL WHERE status=?",
                                 (Status.PENDING, Status.FAILED)).rowcount

    def mark_running(self, key: RunKey) -> int:
        """Count one more attempt and return it."""
        table = _table(key.table)
        self.conn.execute(f"UPDATE {table} SET status=?, attempts=attempts+1, started_at=? WHERE position=?",
                          (Status.RUNNING, now_iso(), key.position))
        return self.conn.execute(f"SELECT attempts FROM {table} WHERE position=?", (key.position,)).fetchone()[0]

    def unmark_running(self, key: RunKey) -> None:
        """An attempt cut short by the driver (interrupt, fatal data error) does not count."""
        self.conn.execute(f"UPDATE {_table(key.table)} SET status=?, attempts=MAX(attempts-1, 0) "
                          "WHERE position=? AND status=?", (Status.PENDING, key.position, Status.RUNNING))

    def mark_error(self, key: RunKey, error: str, max_attempts: int, retry: bool = True) -> Status:
        """An attempt failed: back to pending while attempts remain (and a retry can help), else `failed`."""
        table = _table(key.table)
        attempts = self.conn.execute(f"SELECT attempts FROM {table} WHERE position=?", (key.position,)).fetchone()[0]
        status = Status.FAILED if attempts >= max_attempts or not retry else Status.PENDING
        self.conn.execute(f"UPDATE {table} SET status=?, last_error=?, finished_at=? WHERE position=?",
                          (status, error, now_iso() if status == Status.FAILED else None, key.position))
        return status

    def record_result(self, key: RunKey, result) -> None:
        """Store a TrainResult; its status (done, diverged, oom) becomes the row's."""
        status = Status(result.status)
        if status not in Status.trained():
            raise ValueError(f"not a result status: {status!r}")
        self.conn.execute(
            f"UPDATE {_table(key.table)} SET status=?, best_error=?, final_error=?, epochs=?, wall_time=?, "
            "images_per_sec=?, host=?, device=?, finished_at=? WHERE position=?",
            (status, _finite(result.best_error), _finite(result.final_error), json.dumps(result.to_dict()["epochs"]),
             _finite(result.wall_time), _finite(result.images_per_sec), result.host, result.device, now_iso(),
             key.position))

    # ---- reads ---------------------------------------------------------------------------------
    def rows(self, table: str = "models", status=None) -> list[sqlite3.Row]:
        """Rows of a table in creation order, optionally only those in `status` (one or a tuple).

        A model's number within its space is `row["index"]` (the SQL column is `idx`: INDEX is an SQL word).
        """
        table = _table(table)
        if table == "calibration" and not self.has_table(table):
            return []
        if status is None:
            return self.conn.execute(f'SELECT *, idx AS "index" FROM {table} ORDER BY position').fetchall()
        statuses = tuple(str(s) for s in ((status,) if isinstance(status, (str, Status)) else status))
        marks = ",".join("?" * len(statuses))
        return self.conn.execute(f'SELECT *, idx AS "index" FROM {table} WHERE status IN ({marks}) ORDER BY position',
                                 statuses).fetchall()

    def counts(self, table: str = "models") -> dict:
        """{(space, Status): number of rows}."""
        if not self.has_table(table):
            return {}
        return {(r[0], Status(r[1])): r[2] for r in
                self.conn.execute(f"SELECT space, status, COUNT(*) FROM {_table(table)} GROUP BY space, status")}


def _nan_if_none(value):
    return math.nan if value is None else value


def read_results(sweep_dir):
    """One row per sampled model with exactly RESULT_COLUMNS."""
    import pandas as pd

    store = Store.open_existing(sweep_dir, readonly=True)
    try:
        name = store.meta("name")
        rows = store.rows("models")
    finally:
        store.close()
    records = []
    for r in rows:
        done = r["status"] == Status.DONE
        records.append({
            "sweep": name, "space": r["space"], "index": int(r["index"]), "status": r["status"],
            "spec": r["spec"], "values": r["values_json"], "flops": int(r["flops"]), "params": int(r["params"]),
            "acts": int(r["acts"]), "resolution": int(r["resolution"]),
            "best_error": _nan_if_none(r["best_error"]) if done else math.nan,
            "final_error": _nan_if_none(r["final_error"]) if done else math.nan,
            "epochs": r["epochs"], "wall_time": _nan_if_none(r["wall_time"]),
            "images_per_sec": _nan_if_none(r["images_per_sec"]),
            "attempts": int(r["attempts"]), "last_error": r["last_error"], "host": r["host"],
            "device": r["device"], "created_at": r["created_at"], "finished_at": r["finished_at"]})
    frame = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    for col in ("index", "flops", "params", "acts", "resolution", "attempts"):
        frame[col] = frame[col].astype("int64")
    for col in ("best_error", "final_error", "wall_time", "images_per_sec"):
        frame[col] = frame[col].astype("float64")
    return frame
