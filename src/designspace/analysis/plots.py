"""Figures for the report, drawn with matplotlib's Agg renderer and returned as inline data URIs.

    >>> from designspace.analysis import plots
    >>> uri = plots.edf_figure(summary, normalized=False)     # "data:image/png;base64,..."

Every function takes the output of `analyze.summarize` (or parts of it) and returns a PNG data
URI, so the HTML needs no file beside it and no network.
"""
from __future__ import annotations

import base64
import io

import numpy as np

from . import stats

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
DPI = 96
PNG_COMPRESSION = 3  # zlib level: the default 6 costs 50% more time for 8% smaller figures
LABELS = {"d": "depth d", "stages": "stages", "b": "bottleneck b", "g": "group width g", "w0": "w0", "wa": "wa",
          "wm": "wm", "e_fit": "e_fit", "flops": "flops", "params": "params", "acts": "acts"}
LOG_AXES = {"flops", "params", "acts", "w0", "g"} | {f"w{i}" for i in range(1, 10)}


def _subplots(*args, figsize, **kw):
    """A Figure with its axes, made without pyplot: no global state, no GUI backend (Agg renders it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kw)


def _text(name) -> str:
    """A name from the data as literal matplotlib text ("$" would start mathtext)."""
    return str(name).replace("$", r"\$")


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:  # nothing to list when no curve could be fitted
        ax.legend(**kw)


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def to_data_uri(fig) -> str:
    """The figure as an inline PNG: drawn once at DPI (no bbox "tight": it costs a full extra draw),
    RGB (the background is opaque, so the alpha channel is all 255), encoded at PNG_COMPRESSION."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    # A figure drawn before keeps its canvas: its renderer, and the text metrics cached with it.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    canvas.draw()
    buf = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).save(buf, format="png", compress_level=PNG_COMPRESSION)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _title(ax, text: str, **kw) -> None:
    """An axes title at its default place, fixed there: no layout pass over the tick labels to place it."""
    ax.set_title(text, y=1.0, **kw)


def _light_log(ax, which: str = "x") -> None:
    """A log axis without minor ticks and with plain labels (mathtext tick labels are slow to lay out)."""
    from matplotlib import ticker

    from ..units import format_count

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
    axis.set_minor_locator(ticker.NullLocator())
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: format_count(v) if v >= 1000 else f"{v:g}"))


def _label(p: str) -> str:
    if p in LABELS:
        return LABELS[p]
    return f"stage {p[1:]} width" if p.startswith("w") else f"stage {p[1:]} depth"


def edf_figure(summary: dict, normalized: bool, band_repeats: int = 500) -> str:
    """EDF overlay of all spaces, with a bootstrap 95% band per curve."""
    return edf_figures(summary, (normalized,), band_repeats)[0]


def edf_figures(summary: dict, kinds=(False, True), band_repeats: int = 500) -> list[str]:
    """`edf_figure` of each kind (normalized or not), in order, redrawing one figure: the same
    images, without building the axes and their ticks again."""
    uris, ax = [], None
    all_errors = np.concatenate([s["metrics"]["error"].to_numpy() for s in summary["spaces"]])
    grid = np.linspace(all_errors.min(), all_errors.max(), 200)
    for normalized in kinds:
        if ax is None:
            fig, ax = _subplots(figsize=(6.4, 4.0))
        else:
            _clear([ax])
        for i, s in enumerate(summary["spaces"]):
            errors = s["metrics"]["error"].to_numpy()
            weights = s["weights"] if normalized else None
            x, y = stats.edf_steps(errors, weights)
            lo, hi = stats.edf_band(errors, grid, weights, repeats=band_repeats, seed=summary["seed"])
            ax.fill_between(grid, lo, hi, color=color(i), alpha=0.15, linewidth=0, step="post")
            ax.step(np.concatenate([[x[0]], x]), np.concatenate([[0.0], y]), where="post", color=color(i),
                    label=f"{_text(s['label'])} (n={s['finished']})")
        kind = f"{summary['normalize']}-normalized EDF, {summary['bins']} bins" if normalized else "error EDF"
        ax.set(xlabel=f"{summary['metric']} error (%)", ylabel="cumulative probability", ylim=(0, 1.02))
        _title(ax, kind)
        ax.grid(alpha=0.3)
        _legend(ax, loc="lower right", fontsize=8)
        uris.append(to_data_uri(fig))
    return uris


def metric_grid(summary: dict, entry: dict, index: int) -> str:
    """error vs each parameter for one space; shaded: the bootstrap 95% interval of the best x."""
    fig = _grid_figure(len(entry["parameters"]))
    _grid_panels(fig, entry, index)
    return to_data_uri(fig)


def metric_grids(summary: dict) -> list:
    """`metric_grid` of every space, in order (None for a space without parameters). The grids are
    drawn on one figure, from the most panels to the fewest, each on the axes of the one before
    (shrunk to its rows): the same images, without building the axes and their ticks again (most
    of the cost of a grid)."""
    spaces = summary["spaces"]
    uris, fig = [None] * len(spaces), None
    for index in sorted(range(len(spaces)), key=lambda i: -len(spaces[i]["parameters"])):
        panels = len(spaces[index]["parameters"])
        if not panels:
            continue
        if fig is None:
            fig = _grid_figure(panels)
        else:
            _clear(fig.axes)
            _shrink_grid(fig, panels)
        _grid_panels(fig, spaces[index], index)
        uris[index] = to_data_uri(fig)
    return uris


def _grid_figure(panels: int):
    """The empty grid: 4 columns, a shared error axis."""
    cols = 4
    rows = int(np.ceil(panels / cols))
    fig, axes = _subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False, sharey=True)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("error (%)", fontsize=8)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    _adjust_grid(fig, rows)
    return fig


def _shrink_grid(fig, panels: int) -> None:
    """Fit a grid to as many or fewer panels: the rows they need (the figure resized, the axes
    past them dropped), the axes past the panels off."""
    cols = 4
    rows = int(np.ceil(panels / cols))
    if len(fig.axes) > rows * cols:
        fig.set_size_inches(3.0 * cols, 2.4 * rows)
        spec = fig.add_gridspec(rows, cols)
        for k, ax in enumerate(list(fig.axes)):
            if k < rows * cols:
                ax.set_subplotspec(spec[k // cols, k % cols])
            else:
                fig.delaxes(ax)
        _adjust_grid(fig, rows)
    for k, ax in enumerate(fig.axes):
        ax.axis("on" if k < panels else "off")


def _adjust_grid(fig, rows: int) -> None:
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.5 / rows / 2.4 * 1.6, top=1 - 0.15 / rows, hspace=0.45,
                        wspace=0.25)


def _grid_panels(fig, entry: dict, index: int) -> None:
    """One panel per parameter of `entry` on the (empty) axes of `fig`."""
    from matplotlib import ticker

    m = entry["metrics"]
    errors = m["error"].to_numpy()
    for ax, p in zip(fig.axes, entry["parameters"]):
        x = m[p].to_numpy(dtype=np.float64)
        ok = np.isfinite(x)
        ax.scatter(x[ok], errors[ok], s=5, alpha=0.5, color=color(index), linewidths=0, rasterized=True)
        boot = entry["bootstrap"].get(p)
        if boot:
            ax.axvspan(boot["low"], boot["high"], color="0.5", alpha=0.2, linewidth=0)
            ax.axvline(boot["median"], color="0.2", linewidth=1)
        if p in LOG_AXES and ok.any() and np.all(x[ok] > 0) and x[ok].max() > 4 * x[ok].min():
            _light_log(ax, "x")
        else:
            if ax.get_xscale() != "linear":  # a reused panel that was logarithmic
                ax.set_xscale("linear")
            ax.xaxis.set_major_locator(ticker.MaxNLocator(4))
        ax.set_xlabel(_label(p), fontsize=8)


def _clear(axes) -> None:
    """Empty axes for reuse: their data artists removed and their data limits forgotten, as new."""
    for ax in axes:
        for artist in [*ax.collections, *ax.patches, *ax.lines]:
            artist.remove()
        ax.relim()


def efficiency_figure(summary: dict) -> str:
    """Expected best-of-k error (mean +- 2 std) for plain and normalized sampling."""
    fig, axes = _subplots(1, 2, figsize=(9.6, 3.6), sharey=True)
    for ax, key, title in ((axes[0], "best_of_k_plain", "from the error EDF"),
                           (axes[1], "best_of_k_normalized", f"from the {summary['normalize']}-normalized EDF")):
        for i, s in enumerate(summary["spaces"]):
            b = s[key]
            ax.plot(b["k"], b["mean"], marker="o", markersize=3, color=color(i), label=_text(s["label"]))
            ax.fill_between(b["k"], b["lower"], b["upper"], color=color(i), alpha=0.15, linewidth=0)
        from matplotlib import ticker

        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set(xlabel="models sampled k")
        _title(ax, title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"best of k, {summary['metric']} error (%)")
    _legend(axes[0], fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.08)
    return to_data_uri(fig)


def efit_figure(summary: dict) -> str:
    fig, ax = _subplots(figsize=(6.0, 3.8))
    for i, s in enumerate(summary["spaces"]):
        m = s["metrics"]
        ax.scatter(m["e_fit"], m["error"], s=6, alpha=0.5, color=color(i), linewidths=0, label=_text(s["label"]),
                   rasterized=True)
    ax.set(xlabel="e_fit (quantized linear fit)", ylabel="error (%)")
    _title(ax, "e_fit vs error")
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8)
    return to_data_uri(fig)


def complexity_figure(summary: dict) -> str:
    """acts vs flops and params vs flops (log-log) with the fitted power laws."""
    fig, axes = _subplots(1, 2, figsize=(9.6, 3.6))
    for ax, y in zip(axes, ("acts", "params")):
        for i, s in enumerate(summary["spaces"]):
            m = s["metrics"]
            ax.scatter(m["flops"], m[y], s=5, alpha=0.4, color=color(i), linewidths=0, rasterized=True)
            law = s["power_laws"].get(y)
            if law:
                xs = np.geomspace(m["flops"].min(), m["flops"].max(), 50)
                ax.plot(xs, law["coefficient"] * xs ** law["exponent"], color=color(i),
                        label=f"{_text(s['label'])}: {y} ~ flops^{law['exponent']:.2f}")
        _light_log(ax, "x")
        _light_log(ax, "y")
        ax.set(xlabel="flops", ylabel=y)
        _title(ax, f"{y} vs flops")
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    return to_data_uri(fig)


def widths_figure(entry: dict, which: str, count: int = 3) -> str:
    """Per-block width vs block index of the best (or worst) models, with their quantized linear fit."""
    return widths_figures([(entry, which)], count)[0]


def widths_figures(items, count: int = 3) -> list[str]:
    """`widths_figure` of every (entry, which) in items, in order. A figure with as many panels as the
    one before redraws it: the same image, without building the axes and their ticks again."""
    uris, fig = [], None
    for entry, which in items:
        m = entry["metrics"].sort_values("error", ascending=(which == "best")).head(count)
        if fig is not None and len(fig.axes) == len(m):
            _clear(fig.axes)
        else:
            fig, axes = _subplots(1, len(m), figsize=(3.2 * len(m), 2.8), squeeze=False)
            axes[0][0].set_ylabel("width", fontsize=8)
            fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.25)
        for ax, (_, row) in zip(fig.axes, m.iterrows()):
            w = np.asarray(row["block_widths"])
            j = np.arange(w.size)
            ax.plot(j, w, "o", markersize=4, color="k", label="block widths")
            ax.step(j, row["fit_block_widths"], where="mid", color="tab:red", label="quantized fit")
            ax.plot(j, row["fit_w0"] + row["fit_wa"] * j, "--", color="tab:blue", linewidth=1, label="linear u_j")
            _light_log(ax, "y")
            _title(ax, f"{row['error']:.2f}%  e_fit {row['e_fit']:.3f}", fontsize=9)
            ax.set_xlabel("block j", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        _legend(fig.axes[0], fontsize=7)
        uris.append(to_data_uri(fig))
    return uris


def epochs_figure(summary: dict, curves: dict) -> str:
    """Test error per epoch of the best models of every space; curves: label -> list of (name, epochs)."""
    fig, ax = _subplots(figsize=(6.4, 3.8))
    for i, s in enumerate(summary["spaces"]):
        for k, (_, epochs) in enumerate(curves.get(s["label"], [])):
            xs = [e.get("epoch", n + 1) for n, e in enumerate(epochs)]
            ys = [e.get("test_error", np.nan) for e in epochs]
            ax.plot(xs, ys, color=color(i), alpha=0.9 - 0.15 * k, linewidth=1,
                    label=_text(s["label"]) if k == 0 else None)
    ax.set(xlabel="epoch", ylabel="test error (%)")
    _title(ax, "per-epoch test error of the best models")
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8)
    return to_data_uri(fig)


def runtime_figure(records, models: dict) -> str:
    """Measured time per batch vs flops, and measured vs predicted for each fitted runtime model."""
    fig, axes = _subplots(1, 2, figsize=(9.6, 3.6))
    flops = np.array([r["flops"] for r in records], dtype=np.float64)
    acts = np.array([r["acts"] for r in records], dtype=np.float64)
    for i, (key, model) in enumerate(models.items()):
        t = np.array([r[key] for r in records], dtype=np.float64)
        axes[0].scatter(flops, t * 1e3, s=10, color=color(i), label=key)
        pred = model.predict(flops, acts)
        axes[1].scatter(pred * 1e3, t * 1e3, s=10, color=color(i), label=f"{key} (R^2 {model.r2:.3f})")
    lim = axes[1].get_xlim()
    axes[1].plot(lim, lim, color="0.5", linewidth=1)
    _light_log(axes[0], "x")
    axes[0].set(xlabel="flops", ylabel="ms per batch")
    axes[1].set(xlabel="predicted ms (a*flops + b*acts + c)", ylabel="measured ms")
    _title(axes[0], "measured runtime vs flops")
    _title(axes[1], "runtime model")
    for ax in axes:
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    return to_data_uri(fig)


def calibration_figure(calibration) -> str:
    """Regime mean error against mean reference error (bars: the seeds' range), one point per model."""
    fig, ax = _subplots(figsize=(5.6, 4.4))
    spaces = list(dict.fromkeys(m.space for m in calibration.models))
    for i, space in enumerate(spaces):
        models = [m for m in calibration.models if m.space == space and m.complete]
        if not models:
            continue
        runs, references = np.array([m.regime for m in models]), np.array([m.references for m in models])
        mean, reference = runs.mean(axis=1), references.mean(axis=1)
        ax.errorbar(mean, reference, xerr=[mean - runs.min(axis=1), runs.max(axis=1) - mean],
                    yerr=[reference - references.min(axis=1), references.max(axis=1) - reference],
                    fmt="o", ms=5, capsize=2, color=color(i), label=_text(space))
    ax.set_xlabel("regime error, mean over seeds (bars: min..max) [%]")
    ax.set_ylabel("reference error, mean over seeds [%]")
    from .calibration import stats_of

    stats_ = stats_of(calibration)
    if stats_ is not None:
        ax.set_title(f"Spearman rho {stats_.spearman.value:.2f}, seed noise {stats_.seed_noise:.2f} points",
                     fontsize=10)
    _legend(ax, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return to_data_uri(fig)
