"""One self-contained HTML report comparing design spaces.

    >>> from designspace.analysis import write_report
    >>> write_report(["runs/anynetx_a", "runs/anynetx_b.parquet"], "report.html", metric="best", normalize="flops")

or `designspace report runs/anynetx_a runs/anynetx_b --out report.html`. Figures are inline PNG
data URIs and the style is inline: the file opens offline and references no URL. Every name
from the data (sweep, space, model) is HTML-escaped.
"""
from __future__ import annotations

import html
import os
import time

import numpy as np

from ..errors import DesignspaceError
from ..io import atomic_write_text, read_jsonl
from ..results import Status
from . import plots
from .calibration import format_calibration, stats_of
from .analyze import canonical_order, summarize
from .complexity import runtime_model
from .table import epoch_curves, load_results

SECTIONS = (
    ("summary", "Summary per design space"),
    ("findings", "Findings"),
    ("calibration", "Calibration: is the training regime a valid proxy?"),
    ("edf", "Error EDF"),
    ("normalized-edf", "Normalized error EDF"),
    ("bootstrap", "Bootstrap: best value of each parameter"),
    ("metric-vs-error", "Parameters vs error"),
    ("efficiency", "Random-search efficiency"),
    ("efit", "Quantized linear fit: e_fit vs error"),
    ("complexity", "Complexity: activations and parameters vs flops"),
    ("runtime", "Runtime model"),
    ("best-worst", "Best and worst models: per-block widths"),
    ("epochs", "Per-epoch curves of the best models"),
    ("refine", "Refinement: what the good models share"),  # analysis/refine (designspace refine)
)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0.2em} h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:1.8em}
h3{font-size:1.05em;margin-bottom:0.3em}
table{border-collapse:collapse;font-size:0.85em;margin:8px 0;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f3f3f3}
td.name,th.name{text-align:left} td.name{max-width:22em;overflow-wrap:anywhere;min-width:7em}
img{max-width:100%;height:auto;display:block;margin:6px 0}
.meta{color:#666;font-size:0.9em} .note{color:#666;font-style:italic} nav a{margin-right:10px;font-size:0.9em}
.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
p.finding{background:#f8f8f8;border-left:3px solid #888;padding:6px 10px}
pre{white-space:pre-wrap;font-size:0.85em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _num(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}g}"


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}">'


def _swatch(i: int) -> str:
    return f'<span class="swatch" style="background:{plots.color(i)}"></span>'


def _others(entry: dict) -> str:
    """Models not counted as finished, by status (done models without the metric included)."""
    parts = [f"{count} {status}" for status, count in entry["statuses"].items() if status != Status.DONE]
    missing = entry["statuses"].get(Status.DONE.value, 0) - entry["finished"]
    if missing > 0:
        parts.append(f"{missing} done without the metric")
    return ", ".join(parts) or "-"


def _summary_table(summary: dict) -> str:
    head = ("<tr><th class=name>space</th><th class=name>sweep</th><th>n</th><th>finished</th>"
            "<th class=name>not finished</th><th>min error</th><th>median error</th><th>normalized median</th>"
            "<th>KS D vs first</th><th>p</th>"
            "<th>KS D normalized</th><th>p normalized</th></tr>")
    rows = []
    for i, s in enumerate(summary["spaces"]):
        kp, kn = s["ks_plain"] or {}, s["ks_normalized"] or {}
        rows.append(
            f"<tr><td class=name>{_swatch(i)}{_e(s['label'])}</td><td class=name>{_e(s['sweep'])}</td>"
            f"<td>{s['n']}</td><td>{s['finished']}</td><td class=name>{_e(_others(s))}</td>"
            f"<td>{s['min_error']:.2f}</td><td>{s['median_error']:.2f}</td>"
            f"<td>{s['normalized_median_error']:.2f}</td><td>{_num(kp.get('statistic'), 3)}</td>"
            f"<td>{_num(kp.get('pvalue'), 3)}</td><td>{_num(kn.get('statistic'), 3)}</td>"
            f"<td>{_num(kn.get('pvalue'), 3)}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _bootstrap_table(summary: dict) -> str:
    """One row per parameter, one column per space: median [95% interval] of the best model's value."""
    spaces = summary["spaces"]
    present = {p for s in spaces for p in s["parameters"]}
    params = [p for p in canonical_order(max((len(s["metrics"].filter(regex=r"^w\d+$").columns) for s in spaces),
                                             default=0)) if p in present]
    head = "<tr><th class=name>parameter</th>" + "".join(
        f"<th>{_swatch(i)}{_e(s['label'])}</th>" for i, s in enumerate(spaces)) + "</tr>"
    rows = []
    for p in params:
        cells = []
        for s in spaces:
            b = s["bootstrap"].get(p)
            cells.append(f"<td>{_num(b['median'])} <span class=meta>[{_num(b['low'])}, {_num(b['high'])}]</span></td>"
                         if b else "<td>-</td>")
        rows.append(f"<tr><td class=name>{_e(plots._label(p))}</td>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _model_list(entry: dict, which: str, count: int = 3) -> str:
    m = entry["metrics"].sort_values("error", ascending=(which == "best")).head(count)
    items = []
    for _, row in m.iterrows():
        fit = f"w0={row['fit_w0']}, wa={row['fit_wa']:.1f}, wm={row['fit_wm']:.3f}"
        items.append(f"<li>{_e(row['name'])}: {row['error']:.2f}% error, widths "
                     f"{_e(' '.join(str(int(w)) for w in row['block_widths']))}, fit {_e(fit)}, "
                     f"e_fit {row['e_fit']:.4f}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _metric_grid(entry: dict, uri: str | None) -> str:
    if not entry["parameters"]:
        return "<p class=note>No parameter varies among the finished models of this space.</p>"
    return _img(uri, "parameters vs error: " + entry["label"])


def load_runtime(path) -> list[dict]:
    """Records written by `designspace bench runtime` (JSON lines)."""
    path = os.fspath(path)
    records = []
    for n, rec in read_jsonl(path, "runtime file"):
        if isinstance(rec, dict) and rec.get("status") == Status.OOM:
            continue  # did not fit in memory: nothing measured
        if not isinstance(rec, dict) or not all(k in rec for k in ("flops", "acts", "forward_s")):
            raise DesignspaceError(f"{path}: line {n} lacks flops, acts or forward_s")
        records.append(rec)
    if len(records) < 3:
        raise DesignspaceError(f"{path}: the runtime model needs at least 3 measured models, got {len(records)}")
    return records


def _runtime_section(records) -> str:
    if records is None:
        return ('<p class="note">No runtime measurements given. Measure them with '
                '<code>designspace bench runtime SAMPLES.jsonl --out runtime.jsonl</code> and pass '
                '<code>--runtime runtime.jsonl</code>.</p>')
    flops = [r["flops"] for r in records]
    acts = [r["acts"] for r in records]
    models, rows = {}, []
    for key in ("forward_s", "forward_backward_s"):
        if all(r.get(key) is not None for r in records):
            model = runtime_model(flops, acts, [r[key] for r in records])
            models[key] = model
            rows.append(f"<tr><td class=name>{_e(key)}</td><td>{_num(model.a)}</td><td>{_num(model.b)}</td>"
                        f"<td>{_num(model.c)}</td><td>{model.r2:.3f}</td><td>{model.n}</td></tr>")
    device = {str(r.get("device", "?")) for r in records}
    table = ("<table><tr><th class=name>time per batch</th><th>a (s/flop)</th><th>b (s/act)</th><th>c (s)</th>"
             f"<th>R^2</th><th>n</th></tr>{''.join(rows)}</table>")
    return (f"<p>seconds = a*flops + b*acts + c, least squares over {len(records)} measured models "
            f"(device: {_e(', '.join(sorted(device)))}).</p>{table}"
            f"{_img(plots.runtime_figure(records, models), 'runtime vs flops and the runtime model')}")


def _calibration_section(calibrations) -> str:
    if not calibrations:
        return ('<p class="note">No calibration of this training regime: whether the differences above exceed seed '
                'noise, and whether the regime ranks models as longer training would, is unmeasured. Run '
                '<code>designspace calibrate SWEEP.yaml</code> (or <code>designspace demo --calibrate</code>) '
                'with the same sweep directory.</p>')
    parts = []
    for cal in calibrations:
        parts.append(f"<h3>{_e(cal.sweep)}</h3><pre>{_e(format_calibration(cal))}</pre>")
        if stats_of(cal) is not None:
            parts.append(_img(plots.calibration_figure(cal), "regime error vs reference error: " + cal.sweep))
    return "".join(parts)


def build_html(summary: dict, runtime_records=None, title: str = "Design space report", calibrations=(),
               refinements=None) -> str:
    """The report's HTML; `refinements` from `refine.report_section.refine_for_report` (None: a note)."""
    spaces = summary["spaces"]
    body = {}
    body["summary"] = (_summary_table(summary) +
                       f"<p class=meta>metric: {_e(summary['metric_column'])}; normalized by "
                       f"{_e(summary['normalize'])} over {summary['bins']} equal-width bins of the shared range "
                       f"{_num(summary['edges'][0])} .. {_num(summary['edges'][-1])}"
                       + (f" ({_e(summary['bins_note'])})" if summary["bins_note"] else "") + ".</p>")
    body["findings"] = ("".join(f"<p class=finding>{_e(p['finding'])}</p>" for p in summary["pairs"])
                        or "<p class=note>Only one design space: nothing to compare.</p>")
    body["calibration"] = _calibration_section(calibrations)
    plain_edf, normalized_edf = plots.edf_figures(summary, (False, True))
    body["edf"] = _img(plain_edf, "error EDF of every space")
    body["normalized-edf"] = _img(normalized_edf, "normalized error EDF of every space")
    body["bootstrap"] = ("<p>Empirical bootstrap: 25% of the (value, error) pairs drawn with replacement, the best "
                         f"kept, {spaces[0]['bootstrap'] and next(iter(spaces[0]['bootstrap'].values()))['repeats']} "
                         "repeats; median [95% interval] of the kept value.</p>" + _bootstrap_table(summary))
    body["metric-vs-error"] = ("<p>Shaded: the bootstrap 95% interval of the best value; line: its median.</p>" +
                               "".join(f"<h3>{_swatch(i)}{_e(s['label'])}</h3>" + _metric_grid(s, uri)
                                       for i, (s, uri) in enumerate(zip(spaces, plots.metric_grids(summary)))))
    body["efficiency"] = ("<p>Expected best error among k models drawn at random from each space's EDF, "
                          "mean and +- 2 standard deviations (exact, from the EDF).</p>" +
                          _img(plots.efficiency_figure(summary), "random-search efficiency"))
    body["efit"] = ("<p>e_fit = mean_j |log(w_j / u'_j)| of the best quantized linear fit of each model's per-block "
                    "widths.</p>" + _img(plots.efit_figure(summary), "e_fit vs error"))
    laws = "".join(f"<li>{_e(s['label'])}: " + "; ".join(
        f"{_e(y)} ~ {law['coefficient']:.3g} * flops^{law['exponent']:.3f} (R^2 {law['r2']:.3f})"
        for y, law in s["power_laws"].items()) + "</li>" for s in spaces)
    body["complexity"] = f"<ul>{laws}</ul>" + _img(plots.complexity_figure(summary), "acts and params vs flops")
    body["runtime"] = _runtime_section(runtime_records)
    widths = iter(plots.widths_figures([(s, which) for s in spaces for which in ("best", "worst")]))
    body["best-worst"] = "".join(
        f"<h3>{_swatch(i)}{_e(s['label'])}: best</h3>{_model_list(s, 'best')}"
        f"{_img(next(widths), 'best models widths: ' + s['label'])}"
        f"<h3>{_swatch(i)}{_e(s['label'])}: worst</h3>{_model_list(s, 'worst')}"
        f"{_img(next(widths), 'worst models widths: ' + s['label'])}"
        for i, s in enumerate(spaces))
    curves = {}
    for s in spaces:
        best = s["metrics"].sort_values("error").head(3)
        curves[s["label"]] = [(r["name"], c) for _, r in best.iterrows() if (c := epoch_curves(r["epochs"]))]
    body["epochs"] = (_img(plots.epochs_figure(summary, curves), "per-epoch curves of the best models")
                      if any(curves.values()) else "<p class=note>No per-epoch records in the results.</p>")
    # ---- refine section (analysis/refine/report_section.py)
    from .refine.report_section import refine_section
    body["refine"] = refine_section(refinements)
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name in SECTIONS)
    sections = "".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{body[sid]}</section>' for sid, name in SECTIONS)
    sources = ", ".join(dict.fromkeys(s["source"] for s in spaces))  # each sweep once, in order
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>"
            f"<p class=meta>{len(spaces)} design space(s) from {_e(sources)}; generated "
            f"{_e(time.strftime('%Y-%m-%d %H:%M'))}; bootstrap seed {summary['seed']}.</p>"
            f"<nav>{nav}</nav>{sections}</body></html>\n")


def load_calibrations(paths) -> list:
    """The calibrations stored in the given sweep directories (tables hold none)."""
    from ..sweep.calibrate import read_calibration

    found = []
    for path in paths:
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, "results.db")):
            cal = read_calibration(path)
            if cal is not None:
                found.append(cal)
    return found


def seed_noise_by_sweep(calibrations) -> dict:
    """{sweep name: the seed noise its calibration measured}, for the findings."""
    return {c.sweep: stats.seed_noise for c in calibrations if (stats := stats_of(c)) is not None}


def check_output_path(path) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DesignspaceError(f"{path}: is a directory; give the HTML file to write")
    return path


def write_report(paths, out_html, metric: str = "best", normalize: str = "flops", bins: int | None = None,
                 runtime=None, seed: int = 0, title: str = "Design space report", pairs=None) -> str:
    """Load every path, summarize, and write one self-contained HTML file atomically; returns its path."""
    build_report(paths, out_html, metric, normalize, bins, runtime, seed, title, pairs)
    return os.fspath(out_html)


def build_report(paths, out_html, metric: str = "best", normalize: str = "flops", bins: int | None = None,
                 runtime=None, seed: int = 0, title: str = "Design space report", pairs=None) -> dict:
    """write_report's work; returns the summary it was built from (see analyze.summarize)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise DesignspaceError("give at least one sweep directory or results table")
    out_html = check_output_path(out_html)
    records = load_runtime(runtime) if runtime is not None else None  # fail early on a bad file
    frames = [load_results(p) for p in paths]
    calibrations = load_calibrations(paths)
    summary = summarize(frames, metric=metric, normalize=normalize, bins=bins, seed=seed, pairs=pairs,
                        seed_noise=seed_noise_by_sweep(calibrations))
    # ---- refine section (analysis/refine/report_section.py)
    from .refine.report_section import refine_for_report
    refinements = refine_for_report(frames, summary, seed=seed)
    text = build_html(summary, runtime_records=records, title=title, calibrations=calibrations,
                      refinements=refinements)
    atomic_write_text(out_html, text)
    return summary
