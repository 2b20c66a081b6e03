"""`designspace refine`: planted effects are found, null tables stay quiet, the paper's chain comes back,
bad input writes nothing, and what --write writes loads and runs."""
import json
import math

import numpy as np
import pytest
import yaml

from designspace.analysis.refine import Restriction, format_table, refine, register_restriction, unregister_restriction
from designspace.analysis.refine.frame import refine_frame
from designspace.analysis.refine.planted import PLANTED, planted_errors, sample_table, with_errors
from designspace.analysis.refine.scoring import Scorer, holm
from designspace.analysis.refine.size import PRIOR_DRAWS, SizeEstimator
from designspace.analysis.refine.spacedoc import space_document, space_from_document
from designspace.analysis.refine.write import space_yaml
from designspace.errors import DesignspaceError
from designspace.spaces import get_space, list_spaces
from designspace.sweep.config import load_sweep_file
from designspace.sweep.store import Store
from designspace.train import TrainResult

SMALL = {"resolution": 28, "in_channels": 1, "num_classes": 10}
PAPER_CHAIN = ["shared b", "shared g", "widths non-decreasing", "depths non-decreasing"]


def small(name):
    return get_space(name, **SMALL)


def planted_frame(space, n, seed, effects, noise=1.0):
    table = sample_table(space, n=n, seed=seed)
    return refine_frame(with_errors(table, planted_errors(table, effects, noise=noise, seed=1000 + seed)), "best")


# ---------------------------------------------------------------- statistics

def test_holm_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, 3*0.03, max(0.09, 2*0.04), 0.5.
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    assert holm([]).size == 0 and holm([0.9, 0.8]).max() == 1.0


def test_trend_finds_a_planted_slope_and_none_where_there_is_none():
    rng = np.random.default_rng(0)
    flops = rng.uniform(1e6, 4e6, 400)
    spread = rng.uniform(0, 1, 400)
    errors = 30 - 3 * np.log10(flops / 1e6) + rng.normal(0, 1, 400)
    flat = Scorer(errors, flops, repeats=0).trend(spread)
    assert flat.slope.low < 0 < flat.slope.high and flat.pvalue > 0.05
    steep = Scorer(errors + 2.0 * spread, flops, repeats=0).trend(spread)
    assert steep.slope.low < 2.0 < steep.slope.high and steep.pvalue < 1e-6
    assert steep.sharing_change.value == pytest.approx(-steep.slope.value * spread.mean())


def test_split_shifts_are_the_planted_shift_and_the_opposite_mirrors_them():
    rng = np.random.default_rng(1)
    flops = rng.uniform(1e6, 4e6, 600)
    mask = rng.random(600) < 0.3
    errors = 30 - 2.0 * mask + rng.normal(0, 0.5, 600)
    scorer = Scorer(errors, flops, repeats=500, seed=0)
    split = scorer.split(mask)
    assert split.mean_shift.low < -2.0 < split.mean_shift.high and split.pvalue < 1e-20
    flipped = split.flipped()
    assert flipped.mean_shift.value == -split.mean_shift.value and flipped.satisfied == 600 - split.satisfied
    assert scorer.weights(mask)[0] is scorer.weights(~mask)[0]  # one split, read either way
    best = scorer.best_of_k(mask)
    assert not best.harmed and best.difference[0].high < 0


# ---------------------------------------------------------------- spaces as documents, sizes

@pytest.mark.parametrize("name", [n for n in list_spaces() if not n.endswith("_5stage")])
def test_every_builtin_space_round_trips_as_a_document(name, tmp_path):
    space = small(name)
    doc = space_document(space)
    assert space_from_document(doc).log10_size() == pytest.approx(space.log10_size())
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    loaded = get_space(str(path))
    assert loaded.log10_size() == pytest.approx(space.log10_size()) and loaded.block == space.block


def test_regnet_space_files_take_a_block(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("kind: regnet\nblock: R\nparameters: {depth: {dist: uniform, low: 4, high: 12}}\n")
    space = get_space(str(path), **SMALL)
    assert space.block == "R" and space.sample(2, seed=0)[0].spec.stages[0].block == "R"


def test_size_reductions_exact_and_from_prior_draws():
    space = small("anynetx_a")
    frame = planted_frame(space, 60, 0, {})
    sizes = SizeEstimator(space, frame, prior_draws=40000, fit_draws=0, seed=0)
    shared_b = Restriction("shared b", "anynet", "sharing", lambda f: np.zeros(len(f)), refine=lambda d: {
        **d, "shared": ["bottleneck_ratio"]})
    assert sizes.of(shared_b).log10_reduction == pytest.approx(math.log10(27))  # 3^4 -> 3 configurations
    # b is uniform over {1, 2, 4}: the prior share of models with one b in every stage is 3 / 81 as well.
    same_b = Restriction("one b", "anynet", "subset",
                         lambda f: (f[["b1", "b2", "b3", "b4"]].nunique(axis=1) == 1).to_numpy())
    estimate = sizes.of(same_b)
    assert estimate.method == PRIOR_DRAWS and estimate.log10_reduction == pytest.approx(math.log10(27), abs=0.08)


# ---------------------------------------------------------------- planted effects

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_restriction_ranks_first_and_irrelevant_b_costs_nothing(seed):
    space = small("anynetx_a")
    frame = planted_frame(space, 300, seed, {PLANTED["widths increase"]: -2.0})
    result = refine(frame, space, label="anynetx_a", repeats=300, fit_draws=0, prior_draws=5000, seed=seed)
    first = result.candidates[0]
    assert (first.name, first.verdict) == ("widths non-decreasing", "helps")
    assert first.split.mean_shift.low < -1.0 and not first.best_of_k.harmed
    by_name = {c.name: c for c in result.candidates}
    assert by_name["shared b"].verdict == "costs nothing"
    assert "widths non-decreasing" in [c.name for c in result.path]
    assert first.size.method == "space size" and first.size.log10_reduction > 1


def test_null_tables_report_nothing_significant_in_at_least_95_percent():
    """200 tables without any effect (4 sets of real samples, 50 error draws each): after Holm's
    correction at most 5% of the runs may call any restriction significant."""
    runs = hits = 0
    for name, seed in (("anynetx_a", 0), ("anynetx_a", 1), ("anynetx_e", 0), ("regnetx", 0)):
        space = small(name)
        frame = planted_frame(space, 300, seed, {})
        base = 30 - 3 * np.log10(frame["flops"].to_numpy() / 1e6)
        rng = np.random.default_rng(seed)
        for _ in range(50):
            null = frame.copy()
            null["error"] = base + rng.normal(0, 1, len(null))
            result = refine(null, space, label=name, repeats=0, prior_draws=1000, fit_draws=0)
            runs += 1
            hits += any(c.p_holm is not None and c.p_holm < result.alpha for c in result.candidates)
    assert runs == 200
    assert hits <= 10, f"{hits} of 200 null tables had a significant restriction"


def _paper_effects():
    return {PLANTED["widths increase"]: -2.0, PLANTED["depths increase"]: -1.5}


def test_the_paper_chain_from_one_table():
    space = small("anynetx_a")
    result = refine(planted_frame(space, 500, 0, _paper_effects()), space, label="a", repeats=200, fit_draws=0)
    assert [c.name for c in result.path] == PAPER_CHAIN
    assert result.steps[-1][1] == pytest.approx(small("anynetx_e").log10_size())  # A restricted to E


def test_the_paper_chain_step_by_step(tmp_path):
    """The loop itself: sample the space, plant the paper's effects, refine, write the first step, load it."""
    space, sequence = small("anynetx_a"), []
    for step in range(5):
        result = refine(planted_frame(space, 500, step, _paper_effects()), space, label=space.name, repeats=200,
                        fit_draws=0)
        if not result.path:
            break
        sequence.append(result.path[0].name)
        path = tmp_path / f"step{step}.yaml"
        path.write_text(space_yaml(result, steps=1))
        space = get_space(str(path))
    assert sequence == PAPER_CHAIN


# ---------------------------------------------------------------- registered restrictions

def test_a_registered_restriction_is_scored_and_a_bad_one_is_one_error():
    space = small("anynetx_a")
    frame = planted_frame(space, 120, 0, {})
    wide = register_restriction(Restriction("w4 >= 256", "anynet", "subset", lambda f: f["w4"].to_numpy() >= 256))
    try:
        result = refine(frame, space, label="a", repeats=0, fit_draws=0, prior_draws=1000)
        found = {c.name: c for c in result.candidates}["w4 >= 256"]
        assert found.size.method == PRIOR_DRAWS and "w4 >= 256" in format_table(result, top=50)
    finally:
        unregister_restriction(wide)
    bad = register_restriction(lambda space, frame: [Restriction("half", "any", "subset", lambda f: np.ones(3))])
    try:
        with pytest.raises(DesignspaceError, match="'half'.*one value per model"):
            refine(frame, space, label="a", repeats=0)
    finally:
        unregister_restriction(bad)
    with pytest.raises(DesignspaceError, match="kind must be subset or sharing"):
        Restriction("x", "anynet", "range", lambda f: f)


# ---------------------------------------------------------------- the command

def _table(tmp_path, name="anynetx_a", n=60, finished=None, space_column=None):
    table = sample_table(name, n=n, seed=0)
    table = with_errors(table, planted_errors(table, {PLANTED["widths increase"]: -2.0}, seed=1))
    if finished is not None:
        table.loc[finished:, "status"] = "pending"
    if space_column:
        table["space"] = space_column
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    return path


def _fails_and_writes_nothing(run_cli, tmp_path, argv, pattern):
    out_dir, js = tmp_path / "refined", tmp_path / "refine.json"
    rc, out, err = run_cli("refine", *argv, "--write", out_dir, "--json", js)
    assert rc == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("designspace refine: error:"), err
    assert pattern in err, err
    assert not out_dir.exists() and not js.exists()


def test_an_unknown_space_is_one_line_and_writes_nothing(run_cli, tmp_path):
    table = _table(tmp_path, space_column="mystery_space")
    _fails_and_writes_nothing(run_cli, tmp_path, [table], "unknown design space 'mystery_space'")


def test_too_few_finished_models_says_how_many_more(run_cli, tmp_path):
    table = _table(tmp_path, n=30, finished=12)
    _fails_and_writes_nothing(run_cli, tmp_path, [table], "12 finished model(s); refine needs at least 20 (8 more)")


def test_bad_options_are_one_line(run_cli, tmp_path):
    table = _table(tmp_path)
    _fails_and_writes_nothing(run_cli, tmp_path, [table, "--alpha", "2"], "--alpha")
    _fails_and_writes_nothing(run_cli, tmp_path, [table, "--normalize", "acts"], "flops or params")
    _fails_and_writes_nothing(run_cli, tmp_path, [table, "--space", "nope"], "unknown space 'nope'")


SWEEP = """\
name: tiny-refine
seed: 3
flops: "1M:4M"
spaces:
  - {name: anynetx_a, n: 80, label: a, options: {stem: simple}}
  - {name: regnetx, n: 30, label: r}
data: {name: fashion-mnist, train_subset: 100, test_subset: 20}
recipe: {regime: small-images, epochs: 1, batch_size: 32}
runner: {type: local, slots: 1, device: cpu}
"""


@pytest.fixture
def sweep_dir(tmp_path):
    """A real sweep directory (results.db) without training: sampled rows, then planted results."""
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(SWEEP)
    config = load_sweep_file(sweep_file)
    tables = [sample_table(e.name, n=e.n, seed=config.seed, flops=e.flops, label=e.label, **e.options)
              for e in config.spaces]
    rows = [{k: r[k] for k in ("space", "index", "spec", "values", "flops", "params", "acts", "resolution")}
            for t in tables for r in t.to_dict("records")]
    directory = tmp_path / "sweep"
    store = Store.create(directory, json.dumps(config.to_dict()), config.fingerprint(), config.name, rows)
    try:
        for t in tables:
            for r, e in zip(t.to_dict("records"), planted_errors(t, {PLANTED["widths increase"]: -2.5}, seed=4)):
                store.record_result(store.key(r["space"], r["index"]), TrainResult(
                    status="done", best_error=float(e), final_error=float(e), epochs=[], wall_time=1.0,
                    images_per_sec=1.0, host="h", device="cpu"))
    finally:
        store.close()
    return directory, config


def test_end_to_end_on_a_sweep_directory(run_cli, tmp_path, sweep_dir):
    directory, config = sweep_dir
    rc, _, err = run_cli("refine", directory)
    assert rc == 2 and "holds 2 spaces (a, r); choose one with --space" in err
    out_dir, js = tmp_path / "refined", tmp_path / "refine.json"
    rc, out, err = run_cli("refine", directory, "--space", "a", "--write", out_dir, "--json", js, "--repeats", "300")
    assert rc == 0, err
    assert out.splitlines()[0].startswith("a: 80 finished models of anynetx_a (anynet)")
    assert "1   widths non-decreasing" in out and "Proposed path:" in out
    data = json.loads(js.read_text())
    assert data["candidates"][0]["name"] == "widths non-decreasing" and data["candidates"][0]["verdict"] == "helps"
    assert [p["name"] for p in data["path"]][-1] == "widths non-decreasing" and len(data["written"]) == 2

    # The refined space loads and samples; the sweep compares it with its parent like for like.
    space = get_space(str(out_dir / "a_refined.yaml"), **SMALL)
    assert "width" in space.monotone and space.sample(3, seed=0, flops=(1e6, 4e6))
    refined = load_sweep_file(out_dir / "sweep.yaml")
    parent, child = refined.spaces
    assert (parent.name, parent.label, child.label) == ("anynetx_a", "a", "a_refined")
    assert child.name == str(out_dir / "a_refined.yaml")
    assert parent.n == child.n == 80 and parent.flops == child.flops == (1_000_000, 4_000_000)
    assert parent.options == child.options == {"stem": "simple"}
    assert (refined.seed, refined.data, refined.recipe, refined.runner) == (
        config.seed, config.data, config.recipe, config.runner)


def test_steps_and_a_table_with_its_sweep_file(run_cli, tmp_path, sweep_dir):
    directory, _ = sweep_dir
    exported = tmp_path / "export.jsonl"
    from designspace.sweep.status import export_results

    export_results(directory, exported)
    # An exported table names its spaces by label: only its sweep file says which space "a" is.
    rc, _, err = run_cli("refine", exported, "--space", "a")
    assert rc == 2 and "unknown design space 'a'" in err
    out_dir = tmp_path / "refined"
    rc, _, err = run_cli("refine", exported, "--space", "a", "--write", out_dir, "--sweep", tmp_path / "tiny.yaml",
                         "--steps", "1", "--repeats", "0")
    assert rc == 0, err
    assert {s.label for s in load_sweep_file(out_dir / "sweep.yaml").spaces} == {"a", "a_refined"}
    first_step = get_space(str(out_dir / "a_refined.yaml"))
    assert first_step.shared == ("bottleneck_ratio",) and not first_step.monotone  # the path's first step only
    # A table whose space column names a space, without its sweep file: the space file alone.
    only = tmp_path / "only-space"
    rc, out, _ = run_cli("refine", _table(tmp_path), "--write", only, "--repeats", "0")
    assert rc == 0 and "give it with --sweep" in out
    assert [p.name for p in only.iterdir()] == ["anynetx_a_refined.yaml"]


def test_report_has_a_refinement_section(tmp_path):
    from designspace.analysis import write_report

    big = _table(tmp_path, n=60)
    few = tmp_path / "few.csv"
    with_errors(sample_table("regnetx", n=12, seed=0), np.linspace(20, 30, 12)).to_csv(few, index=False)
    text = open(write_report([big, few], tmp_path / "r.html", bins=2), encoding="utf-8").read()
    section = text[text.index('<section id="refine">'):]
    assert "widths non-decreasing" in section and "Proposed path" in section
    assert "12 finished model(s): refining needs at least 20 (8 more)" in section
