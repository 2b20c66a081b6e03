"""The SQLite result store: schema, WAL, the contract's columns, refusals, status and export."""
import json
import math
import os
import sqlite3

import pandas as pd
import pytest

from designspace.errors import DesignspaceError
from designspace.spec import NetSpec, StageSpec
from designspace.sweep import COLUMNS, read_results
from designspace.sweep.status import export_results, format_status, sweep_status
from designspace.sweep.store import Store
from designspace.train import TrainResult

SPEC = NetSpec(stages=(StageSpec(1, 8), StageSpec(1, 16)), stem="cifar", stem_width=8, in_channels=1, num_classes=10)
CONTRACT_COLUMNS = ["sweep", "space", "index", "status", "spec", "values", "flops", "params", "acts", "resolution",
                    "best_error", "final_error", "epochs", "wall_time", "images_per_sec", "attempts", "last_error",
                    "host", "device", "created_at", "finished_at"]


def make_store(path, n=3, spaces=("a", "b")):
    rows = [{"space": s, "index": i, "spec": json.dumps(SPEC.to_dict()), "values": json.dumps({"depth": i + 1}),
             "flops": 1000 + i, "params": 200 + i, "acts": 30 + i, "resolution": 28}
            for s in spaces for i in range(n)]
    return Store.create(str(path), json.dumps({"name": "t"}), "abc123", "t", rows)


def result(best, status="done"):
    return TrainResult(status=status, best_error=best, final_error=best + 1.0,
                       epochs=[{"epoch": 1, "test_error": best + 1.0}, {"epoch": 2, "test_error": best}],
                       wall_time=2.5, images_per_sec=100.0, host="h", device="cpu")


def test_store_rows_and_contract_columns(tmp_path):
    store = make_store(tmp_path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.mark_running(store.key("a", 0)) == 1
    store.record_result(store.key("a", 0), result(12.5))
    store.mark_running(store.key("a", 1))
    store.record_result(store.key("a", 1), result(math.nan, status="diverged"))
    store.mark_running(store.key("b", 0))
    assert store.mark_error(store.key("b", 0), "RuntimeError: boom", max_attempts=2) == "pending"
    store.mark_running(store.key("b", 0))
    assert store.mark_error(store.key("b", 0), "RuntimeError: boom again", max_attempts=2) == "failed"
    store.close()

    frame = read_results(tmp_path)
    assert list(frame.columns) == CONTRACT_COLUMNS == list(COLUMNS)
    assert len(frame) == 6
    row = frame[(frame.space == "a") & (frame["index"] == 0)].iloc[0]
    assert row.status == "done" and row.best_error == 12.5 and row.final_error == 13.5
    assert json.loads(row.epochs)[1]["test_error"] == 12.5
    assert NetSpec.from_dict(json.loads(row.spec)) == SPEC
    assert json.loads(row["values"]) == {"depth": 1}
    assert (row.flops, row.params, row.acts, row.resolution, row.attempts) == (1000, 200, 30, 28, 1)
    assert row.sweep == "t" and row.host == "h" and row.device == "cpu" and row.finished_at
    diverged = frame[(frame.space == "a") & (frame["index"] == 1)].iloc[0]
    assert diverged.status == "diverged" and math.isnan(diverged.best_error)
    failed = frame[(frame.space == "b") & (frame["index"] == 0)].iloc[0]
    assert failed.status == "failed" and failed.attempts == 2 and failed.last_error == "RuntimeError: boom again"
    assert math.isnan(failed.best_error)
    assert (frame.status == "pending").sum() == 3
    assert frame["index"].dtype == "int64" and frame["best_error"].dtype == "float64"


def test_reset_running_and_unmark(tmp_path):
    store = make_store(tmp_path, n=2, spaces=("a",))
    store.mark_running(store.key("a", 0))
    store.mark_running(store.key("a", 1))
    store.unmark_running(store.key("a", 1))
    assert store.reset_running("models") == 1
    rows = {r["index"]: r for r in store.rows()}
    assert rows[0]["status"] == "pending" and rows[0]["attempts"] == 1
    assert rows[1]["status"] == "pending" and rows[1]["attempts"] == 0


def test_foreign_and_corrupt_stores_are_refused(tmp_path):
    missing = tmp_path / "none"
    with pytest.raises(DesignspaceError, match="not a sweep directory"):
        read_results(missing)
    other = tmp_path / "other"
    other.mkdir()
    conn = sqlite3.connect(other / "results.db")
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    before = (other / "results.db").read_bytes()
    with pytest.raises(DesignspaceError, match="not a designspace sweep store"):
        read_results(other)
    assert (other / "results.db").read_bytes() == before
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "results.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DesignspaceError, match="not a readable sweep store"):
        read_results(garbage)
    assert (garbage / "results.db").read_bytes() == b"this is not sqlite at all" * 100


def test_status_counts_throughput_and_eta(tmp_path):
    store = make_store(tmp_path, n=4, spaces=("a", "b"))
    for i, (space, best) in enumerate([("a", 10.0), ("a", 20.0), ("b", 30.0)]):
        store.mark_running(store.key(space, i))
        store.record_result(store.key(space, i), result(best))
    # Finishes 40 s apart: 2 intervals in 80 s, a pace of 90 models per hour.
    for i, (space, t) in enumerate([("a", "2026-01-01T00:00:00+00:00"), ("a", "2026-01-01T00:00:40+00:00"),
                                    ("b", "2026-01-01T00:01:20+00:00")]):
        store.conn.execute("UPDATE models SET finished_at=? WHERE space=? AND idx=?", (t, space, i))
    store.close()
    info = sweep_status(tmp_path)
    assert info["counts"]["done"] == 3 and info["counts"]["pending"] == 5 and info["total"] == 8
    assert info["by_space"]["a"]["done"] == 2 and info["by_space"]["b"]["pending"] == 3
    assert info["models_per_hour"] == pytest.approx(90.0)
    assert info["eta_seconds"] == pytest.approx(5 / 90 * 3600)
    assert info["errors"]["a"]["best_error"] == 10.0
    assert info["driver_running"] is False
    text = format_status(info)
    assert "90.0 models/hour" in text and "time left: about 3m20s for 5 model(s)" in text


@pytest.mark.parametrize("ext", [".csv", ".jsonl", ".parquet"])
def test_export_round_trip(tmp_path, ext):
    store = make_store(tmp_path / "sweep", n=2, spaces=("a",))
    store.mark_running(store.key("a", 0))
    store.record_result(store.key("a", 0), result(11.0))
    store.close()
    out = tmp_path / f"out{ext}"
    assert export_results(tmp_path / "sweep", out) == 2
    if ext == ".csv":
        back = pd.read_csv(out)
    elif ext == ".jsonl":
        back = pd.read_json(out, lines=True)
    else:
        back = pd.read_parquet(out)
    assert list(back.columns) == list(COLUMNS)
    assert back.loc[back["index"] == 0, "best_error"].iloc[0] == 11.0
    assert json.loads(back.loc[0, "spec"])["stem"] == "cifar"
    with pytest.raises(DesignspaceError, match="unknown export format"):
        export_results(tmp_path / "sweep", tmp_path / "out.xlsx")
    assert not os.path.exists(tmp_path / "out.xlsx")


def test_the_progress_bar_shows_new_submissions_at_once(capsys):
    pytest.importorskip("tqdm")
    from designspace.sweep.driver import _Progress

    bar = _Progress(4, 0, True, "tiny")
    bar.update({"pending": 3, "running": 1, "done": 1})     # a model finished: one slot free for a moment
    bar.update({"pending": 2, "running": 2, "done": 1}, advance=0)   # the next one was submitted
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    bar.close()
    assert "running=2" in last and "pending=2" in last


def test_the_pace_estimates_the_total_from_the_first_runs_and_each_quarter(monkeypatch):
    from designspace.sweep import driver

    clock = [1000.0]
    monkeypatch.setattr(driver.time, "time", lambda: clock[0])
    pace = driver.Pace([1.0] * 40, capacity=2)
    # No estimate before the first: a quarter of 40 runs, 10, came before it (+28% on a demo, section 4.12).
    assert pace.milestones == [driver.FIRST_ESTIMATE_RUNS, 20, 30] == [12, 20, 30]
    assert driver.Pace([1.0] * 60, capacity=2).milestones == [12, 15, 30, 45]
    assert driver.Pace([1.0] * 60, capacity=8).milestones == [16, 30, 45]  # every slot's second run
    assert driver.Pace([1.0] * 6, capacity=2).milestones == [6]
    said = []
    for run in range(1, 40):
        # 20 s of start-up before the first run ends; then two slots, 10 s a model; then slower ones
        clock[0] += 25.0 if run == 1 else 5.0 if run <= 20 else 7.5
        if pace.finished_one():
            said.append((run, round(pace.current())))
    # At run 12: 80 s elapsed, 5 s a run since the first: 80 + 28 * 5 = 220 s (not 80 * 40 / 12 = 267 s)
    # At run 30: 195 s elapsed, (195 - 25) / 29 s a run: 195 + 10 * 5.86 = 254 s
    assert said == [(12, 220), (20, 220), (30, 254)]
    assert pace.estimate == 220  # the first estimate is kept for the summary
    # 39 runs in 120 + 19 * 7.5 = 262.5 s, then (262.5 - 25) / 38 s for the last one: 268.75 s
    assert "39 of 40 runs in 4.4 minutes" in pace.describe() and "all take about 4.5 minutes" in pace.describe()


def test_a_cpu_sweep_shares_its_work_by_multiply_adds_and_a_calibration_by_image_passes_too():
    from designspace.demo import demo_config
    from designspace.sweep import driver
    from designspace.sweep.calibrate import REFERENCE, REGIME, calibration_plan

    cpu, auto = demo_config("fashion-mnist"), demo_config("cifar10")
    assert (cpu.runner.device, auto.runner.device) == ("cpu", "auto")
    row = {"flops": 1_500_000, "role": REFERENCE}
    assert driver.sweep_plan(cpu, "unused").work(row) == 1_500_000.0
    assert driver.sweep_plan(auto, "unused").work(row) == 1.0  # launch-bound on a GPU: every model alike
    passes = {REGIME: 16_000, REFERENCE: 240_000}
    plan = calibration_plan(cpu, "unused", cpu.data, cpu.recipe, passes)
    assert plan.work(row) == 240_000 * 1_500_000 and plan.work({**row, "role": REGIME}) == 16_000 * 1_500_000
    assert calibration_plan(auto, "unused", auto.data, auto.recipe, passes).work(row) == 240_000


def test_the_pace_weighs_runs_by_their_work(monkeypatch):
    """A calibration's 12 long reference runs (15 units of work each) come first, then 24 regime runs (1 each)."""
    from designspace.sweep import driver

    clock = [1000.0]
    monkeypatch.setattr(driver.time, "time", lambda: clock[0])
    works = [15.0] * 12 + [1.0] * 24
    pace = driver.Pace(works, capacity=2)
    assert pace.milestones == [12, 18, 27]
    said = []
    for run, work in enumerate(works, start=1):
        clock[0] += (20.0 if run == 1 else 0.0) + work  # 20 s of start-up, then 1 s per unit of work
        if pace.finished_one(work):
            said.append((run, round(pace.current())))
    # At run 12: 200 s elapsed, 165 s for 165 units since the first run: 200 + 24 units x 1 s = 224 s, the actual
    # total (counting runs instead, 200 + 24 runs x 15 s = 560 s).
    assert said == [(12, 224), (18, 224), (27, 224)] and pace.estimate == 224 and clock[0] - 1000.0 == 224
