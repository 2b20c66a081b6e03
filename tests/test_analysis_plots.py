"""Figures drawn on a reused figure are the images of fresh figures, pixel for pixel."""
import base64
import io

import numpy as np
import pytest
from PIL import Image

from designspace.analysis import load_results, plots, summarize
from designspace.analysis.synthetic import synthetic_results


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    # Two AnyNet spaces with the same parameters (the reuse path) and a RegNet one (a fresh grid).
    d = tmp_path_factory.mktemp("plots")
    for kind, seed, name in (("anynetx", 1, "a"), ("anynetx", 2, "b"), ("regnetx", 3, "c")):
        synthetic_results(kind, n=30, seed=seed, space=name).to_csv(d / f"{name}.csv", index=False)
    return summarize([load_results(d / f"{name}.csv") for name in "abc"], bins=3, repeats=200)


def _pixels(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def _same_images(reused, fresh):
    assert len(reused) == len(fresh)
    for a, b in zip(reused, fresh):
        assert np.array_equal(_pixels(a), _pixels(b))


def test_metric_grids_equal_one_fresh_grid_per_space(summary):
    a, b, c = summary["spaces"]
    assert len(a["parameters"]) == len(b["parameters"]) > len(c["parameters"]) + 1  # c needs fewer rows
    # Drawn from the most panels down: b new, a on b's axes, one panel fewer in the same rows, then
    # c with a row less; and a space without parameters.
    fewer = dict(a, parameters=a["parameters"][:-1])
    mixed = dict(summary, spaces=[c, fewer, b, a, dict(a, parameters=[])])
    grids = plots.metric_grids(mixed)
    assert grids[4] is None
    _same_images(grids[:4], [plots.metric_grid(mixed, s, i) for i, s in enumerate(mixed["spaces"][:4])])


def test_widths_figures_equal_fresh_figures(summary):
    items = [(s, which) for s in summary["spaces"] for which in ("best", "worst")]
    _same_images(plots.widths_figures(items), [plots.widths_figure(s, which) for s, which in items])


def test_edf_figures_equal_fresh_figures(summary):
    _same_images(plots.edf_figures(summary), [plots.edf_figure(summary, normalized=n) for n in (False, True)])
