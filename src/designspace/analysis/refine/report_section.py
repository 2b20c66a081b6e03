"""The report's refinement section: every space refined cheaply, reusing the summary's metrics.

    >>> from designspace.analysis.refine.report_section import refine_for_report, refine_section
    >>> refinements = refine_for_report(frames, summary)    # [(label, Refinement or a sentence why not)]
    >>> html = refine_section(refinements)                  # every name escaped

Cheap by construction: the quantized linear fits come from the summary, the bootstrap has
REPORT_REPEATS repeats, prior draws are few, and fit-based candidates are sized on the sampled
models instead of fitting prior draws. `designspace refine` gives the full statistics.
"""
from __future__ import annotations

import html

from ...errors import DesignspaceError
from .engine import MIN_MODELS, refine
from .output import html_table

REPORT_REPEATS = 200
REPORT_PRIOR_DRAWS = 5000
REPORT_TOP = 8
INTRO = ("Candidate restrictions of each space (shared b and g, non-decreasing widths and depths, values and "
         "ranges), each compared at matched complexity with the models that do not satisfy it: effect = mean "
         "shift of error (the signed area between the normalized EDFs; negative is better) with a bootstrap "
         f"95% interval ({REPORT_REPEATS} repeats here), KS p-values Holm-adjusted over the candidates of the "
         "space, best-of-8 against all models, and how much smaller the space gets (log10). Sharing restrictions "
         "are judged by the trend of error against the spread of the parameter across stages. Full statistics: "
         "designspace refine DIR --json FILE (docs/refine.md).")


def _refine_one(entry: dict, raw, summary: dict, seed: int):
    from .frame import add_sampled_b_g
    from .inputs import parent_of, stored_sweep

    source = raw.attrs.get("source", "")
    parent = parent_of(raw, entry["space"], source, stored_sweep(source) if source else None)
    frame = add_sampled_b_g(entry["metrics"], raw, summary["metric"])
    return refine(frame, parent.space(), label=entry["label"], metric=summary["metric"],
                  normalize=summary["normalize"], repeats=REPORT_REPEATS, seed=seed,
                  prior_draws=REPORT_PRIOR_DRAWS, fit_draws=0, source=source)


def refine_for_report(frames, summary: dict, seed: int = 0) -> list:
    """[(label, Refinement)] per space of the summary, or (label, why not) where refine cannot run."""
    from ..analyze import group_spaces

    raws = group_spaces(frames)
    out = []
    for entry in summary["spaces"]:
        finished = entry["finished"]
        if finished < MIN_MODELS:
            out.append((entry["label"], f"{finished} finished model(s): refining needs at least {MIN_MODELS} "
                                        f"({MIN_MODELS - finished} more)."))
            continue
        try:
            out.append((entry["label"], _refine_one(entry, raws[entry["label"]], summary, seed)))
        except DesignspaceError as e:
            out.append((entry["label"], f"not refined: {e}"))
    return out


def refine_section(refinements) -> str:
    if refinements is None:
        return "<p class=note>Not computed (the report was built without refinements).</p>"
    parts = [f"<p>{html.escape(INTRO)}</p>"]
    for label, result in refinements:
        parts.append(f"<h3>{html.escape(str(label))}</h3>")
        parts.append(html_table(result, REPORT_TOP) if not isinstance(result, str)
                     else f"<p class=note>{html.escape(result)}</p>")
    return "".join(parts)
