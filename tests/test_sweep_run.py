"""End-to-end sweeps on CPU: tiny sampled models, synthetic images (one test on real Fashion-MNIST), one epoch."""
import json
import math
import os
import sqlite3

from sweep_helpers import FASHION, needs_fashion_mnist, starts, sweep_yaml, write_sweep

from designspace.cli import main
from designspace.sweep import load_sweep_file, read_results, run_sweep
from designspace.sweep.driver import driver_lock, sample_rows
from designspace.sweep.status import sweep_status
from designspace.sweep.store import Store


@needs_fashion_mnist
def test_end_to_end_local_sweep_status_export_resume(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path, sweep_yaml(data="fashion-mnist"))
    out = tmp_path / "out"
    assert main(["sweep", "run", str(sweep_file), "--out", str(out), "--no-progress"]) == 0
    assert "4 done" in capsys.readouterr().out

    frame = read_results(out)
    assert len(frame) == 4 and set(frame.status) == {"done"}
    assert sorted(frame.space.unique()) == ["anynetx_a", "regnetx"]
    assert (frame.attempts == 1).all() and frame.last_error.isna().all()
    assert frame.best_error.between(0, 100).all() and (frame.best_error <= frame.final_error).all()
    assert frame.device.str.startswith("cpu").all() and frame.host.notna().all() and frame.finished_at.notna().all()
    assert (frame.images_per_sec > 0).all() and (frame.wall_time > 0).all()
    for row in frame.itertuples():
        epochs = json.loads(row.epochs)
        assert [e["epoch"] for e in epochs] == [1] and epochs[0]["test_error"] == row.best_error
        run_dir = out / "runs" / row.space / str(row.index)
        assert json.loads((run_dir / "result.json").read_text())["best_error"] == row.best_error
        assert len(starts(run_dir)) == 1
    assert Store.open_existing(out).conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    assert main(["sweep", "status", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["done"] == 4 and info["by_space"]["regnetx"]["done"] == 2 and info["eta_seconds"] == 0
    assert main(["sweep", "status", str(out)]) == 0
    assert "every model is finished" in capsys.readouterr().out
    assert main(["sweep", "export", str(out), "--out", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text().splitlines()[0].startswith("sweep,space,index,status,spec,values")

    # A second run trains nothing; a result a dead driver never stored is picked up from the run dir.
    conn = sqlite3.connect(out / "results.db")
    conn.execute("UPDATE models SET status='running', best_error=NULL WHERE space='regnetx' AND idx=1")
    conn.commit()
    conn.close()
    summary = run_sweep(sweep_file, out, progress=False)
    assert summary["trained"] == 0 and summary["recovered"] == 1 and summary["counts"]["done"] == 4
    again = read_results(out)
    assert again.best_error.tolist() == frame.best_error.tolist()
    assert all(len(starts(out / "runs" / r.space / str(r.index))) == 1 for r in again.itertuples())


def test_different_sweep_and_foreign_dirs_are_refused(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path, sweep_yaml(n=(1, 1)))
    out = tmp_path / "out"
    config = load_sweep_file(sweep_file)
    Store.create(str(out), json.dumps(config.to_dict()), config.fingerprint(), config.name,
                 sample_rows(config)).close()
    before = (out / "results.db").read_bytes()

    other = write_sweep(tmp_path, sweep_yaml(n=(1, 2)), name="other.yaml")
    assert main(["sweep", "run", str(other), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "they differ in spaces" in err and err.count("\n") == 1
    assert (out / "results.db").read_bytes() == before      # (SQLite may add its -shm index file)
    assert not (out / "runs").exists()

    with driver_lock(str(out)):     # one driver (one writer) per directory
        assert main(["sweep", "run", str(sweep_file), "--out", str(out), "--no-progress"]) == 2
        assert sweep_status(out)["driver_running"] is True
    assert sweep_status(out)["driver_running"] is False
    assert f"another sweep driver (pid {os.getpid()}) is running" in capsys.readouterr().err

    cluttered = tmp_path / "cluttered"
    cluttered.mkdir()
    (cluttered / "notes.txt").write_text("mine")
    assert main(["sweep", "run", str(sweep_file), "--out", str(cluttered), "--no-progress"]) == 2
    assert "not empty and holds no sweep store" in capsys.readouterr().err
    assert sorted(os.listdir(cluttered)) == ["notes.txt"]

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "results.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert main(["sweep", "run", str(sweep_file), "--out", str(foreign), "--no-progress"]) == 2
    assert "results.db" in capsys.readouterr().err
    assert (foreign / "results.db").read_bytes() == b"SQLite format 3\x00" + b"\x00" * 200


def test_failing_model_is_retried_then_failed_and_missing_data_stops_cleanly(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path, sweep_yaml(n=(2, 1), runner="type: local\n  slots: 1"))
    out = tmp_path / "out"
    config = load_sweep_file(sweep_file)
    Store.create(str(out), json.dumps(config.to_dict()), config.fingerprint(), config.name,
                 sample_rows(config)).close()
    # A checkpoint that is not a checkpoint: every attempt on this model fails (the trainer refuses it).
    bad_dir = out / "runs" / "anynetx_a" / "1"
    bad_dir.mkdir(parents=True)
    (bad_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    summary = run_sweep(sweep_file, out, progress=False)
    assert summary["counts"] == {"pending": 0, "running": 0, "done": 2, "diverged": 0, "oom": 0, "failed": 1}
    frame = read_results(out).set_index(["space", "index"])
    failed = frame.loc[("anynetx_a", 1)]
    assert failed.status == "failed" and failed.attempts == 2 and "checkpoint" in failed.last_error
    assert math.isnan(failed.best_error)
    # Once the cause is gone, --retry-failed gives it a fresh set of attempts; the others are not touched.
    (bad_dir / "checkpoint.pt").unlink()
    assert main(["sweep", "run", str(sweep_file), "--out", str(out), "--no-progress", "--retry-failed"]) == 0
    retried = read_results(out).set_index(["space", "index"])
    assert (retried.status == "done").all() and retried.loc[("anynetx_a", 1), "attempts"] == 1
    assert retried.loc[("anynetx_a", 0), "finished_at"] == frame.loc[("anynetx_a", 0), "finished_at"]

    # A data folder that does not exist is refused before anything is written.
    missing = write_sweep(tmp_path, sweep_yaml(name="nodata", n=(1, 1), runner="type: local\n  slots: 1",
                                               data="fashion-mnist").replace(f"root: {FASHION}",
                                                                             f"root: {tmp_path / 'nowhere'}"),
                          name="nodata.yaml")
    assert main(["sweep", "run", str(missing), "--out", str(tmp_path / "nodata"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and err.count("\n") == 1
    assert not (tmp_path / "nodata").exists()
    # A folder without the files stops the sweep in the worker with one line; no attempt is charged.
    (tmp_path / "nowhere").mkdir()
    assert main(["sweep", "run", str(missing), "--out", str(tmp_path / "nodata"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and err.count("\n") == 1
    pending = read_results(tmp_path / "nodata")
    assert set(pending.status) == {"pending"} and (pending.attempts == 0).all()
