"""Design the design space: what the good models of a space share, as restrictions to test next.

    >>> from designspace.analysis.refine import refine_results, format_table, refined_files
    >>> parent, result = refine_results("runs/anynetx_a")      # a sweep directory or an exported table
    >>> print(format_table(result))                            # ranked candidates and the proposed path
    >>> refined_files(result, parent)                          # the refined space file and a comparison sweep

The paper's loop, one command per step (docs/refine.md):

    designspace sweep run a.yaml --out runs/a        # (1) sample a space and train its models
    designspace refine runs/a --write refined        # (2) what the good models share; (3) the restricted space
    designspace sweep run refined/sweep.yaml --out runs/a-refined
    designspace report runs/a-refined                # (4) at least as good, and much smaller?

Add candidates in Python with `register_restriction(Restriction(...))` (see `restrictions`).
"""
from __future__ import annotations

from .engine import MIN_GROUP, MIN_MODELS, Candidate, Refinement, check_enough, refine
from .output import format_table, html_table, path_sentence
from .restrictions import Restriction, register_restriction, unregister_restriction
from .write import refined_files, write_files


def refine_results(path, space_label: str | None = None, metric: str = "best", sweep_file=None, **options):
    """Load one space's results (sweep directory or table) and refine it: (Parent, Refinement).

    `options` go to `engine.refine` (normalize, alpha, repeats, seed, prior_draws, fit_draws)."""
    from .frame import refine_frame
    from .inputs import finished_count, load_parent

    parent = load_parent(path, space_label=space_label, sweep_file=sweep_file)
    space = parent.space()
    check_enough(finished_count(parent.raw, metric), parent.label)
    frame = refine_frame(parent.raw, metric, label=parent.label)
    return parent, refine(frame, space, label=parent.label, metric=metric, source=parent.source, **options)


__all__ = ["refine_results", "refine", "Refinement", "Candidate", "Restriction", "register_restriction",
           "unregister_restriction", "format_table", "html_table", "path_sentence", "refined_files", "write_files",
           "MIN_MODELS", "MIN_GROUP"]
