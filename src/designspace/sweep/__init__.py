"""Sweeps: sample models from design spaces, train each, keep every result.

    from designspace.sweep import load_sweep_file, run_sweep, read_results
    config = load_sweep_file("examples/paper/a_vs_b.yaml")
    summary = run_sweep(config, "sweeps/a_vs_b")        # run again to resume
    frame = read_results("sweeps/a_vs_b")               # one row per sampled model

Command line: `designspace sweep run|status|export` (see designspace/commands/sweep.py).
"""
from .config import SweepConfig, load_sweep_file
from .driver import run_sweep
from ..results import RESULT_COLUMNS as COLUMNS
from .store import read_results

__all__ = ["SweepConfig", "load_sweep_file", "run_sweep", "read_results", "COLUMNS"]
