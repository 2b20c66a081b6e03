"""A refinement as a ranked terminal table, an HTML fragment for the report, and a sentence about its path.

    >>> from designspace.analysis.refine.output import format_table, html_table, path_sentence
    >>> print(format_table(result, top=15))
    >>> html_table(result, top=8)         # every name escaped

Columns: the verdict; how many models satisfy a subset restriction (or "trend" for sharing); the
effect in error points with its 95% interval (the mean shift, i.e. the signed area between the
normalized EDFs, or for sharing the predicted change from the mean spread to none; negative is
better); the median shift; the Holm-adjusted p-value; the best-of-8 difference against all models;
how much smaller the space gets (log10) and how that was measured.
"""
from __future__ import annotations

import html

from .engine import HELPS, NOT_SCORED
from .restrictions import SHARING
from .size import PRIOR_DRAWS, SAMPLED

COLUMNS = ("#", "restriction", "verdict", "models", "effect [95%]", "median shift [95%]", "p (Holm)",
           "best-of-8", "log10 smaller")
METHOD_SHORT = {PRIOR_DRAWS: "draws", SAMPLED: "sample"}


def _num(x, digits: int = 2, sign: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _interval(iv) -> str:
    if iv is None:
        return "-"
    if iv.low is None:
        return _num(iv.value)
    return f"{_num(iv.value)} [{_num(iv.low)}, {_num(iv.high)}]"


def _size(c) -> str:
    s = c.size
    if s is None:
        return "-"
    text = ("at least " if s.at_least else "") + f"{s.log10_reduction:.2f}"
    method = METHOD_SHORT.get(s.method)
    return f"{text} ({method})" if method else text


def _p(p) -> str:
    return "-" if p is None else f"{p:.2g}"


def row_cells(rank: int, c) -> list[str]:
    """The table cells of one candidate (shared by the terminal and the HTML table)."""
    if c.verdict == NOT_SCORED:
        return [str(rank), c.name, c.verdict, "-", c.reason, "", "", "", _size(c)]
    if c.kind == SHARING:
        models, effect, median = f"trend ({c.trend.varied:.0%} spread)", _interval(c.trend.sharing_change), "-"
    else:
        models = f"{c.split.satisfied}/{c.split.total}"
        effect, median = _interval(c.split.mean_shift), _interval(c.split.median_shift)
    best = "-" if c.best_of_k is None else _num(c.best_of_k.difference[0].value)
    return [str(rank), c.name, c.verdict, models, effect, median, _p(c.p_holm), best, _size(c)]


def headline(result) -> str:
    return (f"{result.label}: {result.models} finished models of {result.space} ({result.family}), "
            f"{result.metric} error at matched {result.normalize}; {len(result.candidates)} candidates, "
            f"{result.tests} tested, Holm-adjusted at alpha {result.alpha:g}")


def path_sentence(result) -> str:
    """The proposed path and the size it leads to; helpful restrictions no space file can express."""
    on_path = {c.restriction.group for c in result.path}
    unwritable = [c.name for c in result.candidates if c.verdict == HELPS and not c.restriction.expressible
                  and not (c.restriction.group and c.restriction.group in on_path)]
    note = (f" Also helps, but no space file expresses it: {', '.join(unwritable)}." if unwritable else "")
    if not result.path:
        return "No restriction to propose: none that a space file expresses helps or costs nothing." + note
    names = " -> ".join(c.name for c in result.path)
    final = result.steps[-1][1]
    return (f"Proposed path: {names}. The space goes from 10^{result.parent_log10_size:.2f} to 10^{final:.2f} "
            f"configurations ({result.parent_log10_size - final:.2f} log10 smaller).{note}")


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def format_table(result, top: int = 15) -> str:
    """The headline, the ranked candidates (the first `top` scored; the not-scored counted), the path."""
    scored = [c for c in result.candidates if c.verdict != NOT_SCORED]
    skipped = [c for c in result.candidates if c.verdict == NOT_SCORED]
    rows = [list(COLUMNS)] + [row_cells(i, c) for i, c in enumerate(scored[:top], start=1)]
    lines = [headline(result), _aligned(rows)]
    if len(scored) > top:
        lines.append(f"... {len(scored) - top} more scored (--top, or --json for all)")
    if skipped:
        lines.append(f"Not scored ({len(skipped)}): " + "; ".join(f"{c.name} ({c.reason})" for c in skipped))
    lines.append(path_sentence(result))
    return "\n".join(lines)


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def html_table(result, top: int = 8) -> str:
    """The headline, the first `top` ranked candidates and the path sentence, escaped."""
    shown = [c for c in result.candidates if c.verdict != NOT_SCORED][:top]
    head = "".join(f"<th class=name>{_e(h)}</th>" if h in ("restriction", "verdict") else f"<th>{_e(h)}</th>"
                   for h in COLUMNS)
    rows = []
    for i, c in enumerate(shown, start=1):
        cells = row_cells(i, c)
        rows.append("<tr>" + "".join(f"<td class=name>{_e(x)}</td>" if j in (1, 2) else f"<td>{_e(x)}</td>"
                                     for j, x in enumerate(cells)) + "</tr>")
    return (f"<p class=meta>{_e(headline(result))}.</p><table><tr>{head}</tr>{''.join(rows)}</table>"
            f"<p>{_e(path_sentence(result))}</p>")
