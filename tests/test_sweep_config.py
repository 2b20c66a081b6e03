"""The sweep file: parsing, validation (unknown keys by name), fingerprint, sampling into store rows."""
import json
import textwrap

import pytest

from designspace.cli import main
from designspace.errors import DesignspaceError
from designspace.spec import NetSpec
from designspace.sweep import SweepConfig, load_sweep_file
from designspace.sweep.driver import sample_rows

GOOD = """
name: tiny
seed: 3
flops: "2M:6M"
spaces:
  - {name: anynetx_a, n: 3, options: {stem: cifar}}
  - {name: regnetx, n: 2, label: regnetx-small, params: ":200k", options: {stem: cifar}}
data: {name: fashion-mnist, train_subset: 20, test_subset: 10}
recipe: {epochs: 1, batch_size: 32}
runner:
  type: local
  slots: 2
  max_attempts: 2
  ray: {num_cpus: 2}
  slurm: {executor: local, time: 5}
"""


def write(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_good_file_parses(tmp_path):
    config = load_sweep_file(write(tmp_path, GOOD))
    assert isinstance(config, SweepConfig)
    assert config.name == "tiny" and config.seed == 3
    assert [s.label for s in config.spaces] == ["anynetx_a", "regnetx-small"]
    assert config.spaces[0].flops == (2_000_000, 6_000_000) and config.spaces[0].params == (None, None)
    assert config.spaces[1].params == (None, 200_000) and config.spaces[1].flops == (2_000_000, 6_000_000)
    assert config.spaces[0].options == {"stem": "cifar"}
    assert config.runner.slots == 2 and config.runner.max_attempts == 2 and config.runner.type == "local"
    assert config.runner.slurm == {"executor": "local", "time": 5}
    assert config.shape() == (1, 10, 28)
    assert config.recipe.epochs == 1 and config.data.train_subset == 20


def test_name_defaults_to_file_name(tmp_path):
    config = load_sweep_file(write(tmp_path, GOOD.replace("name: tiny\n", ""), name="my-study.yml"))
    assert config.name == "my-study"


def test_fingerprint_is_the_experiment_not_the_runner(tmp_path):
    base = load_sweep_file(write(tmp_path, GOOD))
    again = load_sweep_file(write(tmp_path, GOOD, name="copy.yaml"))
    assert base.fingerprint() == again.fingerprint()
    assert base.with_runner("ray").fingerprint() == base.fingerprint()
    assert load_sweep_file(write(tmp_path, GOOD.replace("seed: 3", "seed: 4"), "b.yaml")).fingerprint() \
        != base.fingerprint()
    assert load_sweep_file(write(tmp_path, GOOD.replace("n: 3", "n: 4"), "c.yaml")).fingerprint() != base.fingerprint()
    with pytest.raises(DesignspaceError, match="unknown runner 'rya'; did you mean ray"):
        base.with_runner("rya")


@pytest.mark.parametrize("old,new,message", [
    ("seed: 3", "sede: 3", r"unknown key 'sede'; did you mean seed"),
    ("n: 3, options", "count: 3, options", r"spaces\[0\]: unknown key 'count'"),
    ("slots: 2", "slot: 2", r"runner: unknown key 'slot'; did you mean slots"),
    ("ray: {num_cpus: 2}", "ray: {num_cpu: 2}", r"runner: ray: unknown key 'num_cpu'; did you mean num_cpus"),
    ("slurm: {executor: local, time: 5}", "slurm: {executer: local}", r"slurm: unknown key 'executer'"),
    ("slurm: {executor: local, time: 5}", "slurm: {executor: cloud}", r"executor must be 'slurm' or 'local'"),
    ("train_subset: 20", "train_subsets: 20", r"data: unknown key 'train_subsets'; did you mean train_subset"),
    ("epochs: 1", "epoch: 1", r"recipe: unknown key 'epoch'; did you mean epochs"),
    ("epochs: 1", "epochs: 0", r"recipe: epochs must be an integer >= 1"),
    ("name: anynetx_a", "name: anynetx_q", r"unknown design space 'anynetx_q'; did you mean"),
    ("type: local", "type: kubernetes", r"unknown runner 'kubernetes'"),
    ('flops: "2M:6M"', 'flops: "6M:2M"', r"flops: low end 6e\+06 is above high end 2e\+06"),
    ('flops: "2M:6M"', 'flops: "lots"', r"flops: a band is LO:HI"),
    ("label: regnetx-small", "label: anynetx_a", r"label 'anynetx_a' is used twice"),
    ("name: fashion-mnist", "name: fashion-mnistt", r"unknown data set 'fashion-mnistt'"),
    ("n: 3, options", "n: 0, options", r"spaces\[0\]: n: must be at least 1"),
    ("slots: 2", "slots: two", r"slots: expected an integer"),
])
def test_bad_values_are_named(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(DesignspaceError, match=message) as info:
        load_sweep_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text,message", [
    ("spaces: [unclosed", r"not valid YAML \(line"),
    ("- just\n- a list\n", "a sweep file is a mapping"),
    ("spaces: []\ndata: {name: mnist}\n", "spaces: expected a non-empty list"),
    ("spaces: [anynetx_a]\ndata: {name: mnist}\n", r"expected a mapping like \{name: anynetx_a, n: 100\}"),
    ("spaces: [{name: anynetx_a, n: 2}]\n", "missing required key 'data'"),
    ("spaces: [{name: anynetx_a, n: 2}]\ndata: {name: mnist}\nbogus: !!python/object:os.system {}\n",
     "not valid YAML"),
])
def test_malformed_files(tmp_path, text, message):
    with pytest.raises(DesignspaceError, match=message):
        load_sweep_file(write(tmp_path, text))
    with pytest.raises(DesignspaceError, match="no such sweep file"):
        load_sweep_file(tmp_path / "absent.yaml")


def test_malformed_file_cli_exit_2_and_nothing_written(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("epochs: 1", "epoch: 1"))
    out = tmp_path / "out"
    assert main(["sweep", "run", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'epoch'" in err and "Traceback" not in err
    assert not out.exists()


def test_sampled_rows_are_in_band_and_framed_for_the_data(tmp_path):
    config = load_sweep_file(write(tmp_path, GOOD))
    rows = sample_rows(config)
    assert [(r["space"], r["index"]) for r in rows] == [("anynetx_a", i) for i in range(3)] + \
        [("regnetx-small", i) for i in range(2)]
    for r in rows:
        spec = NetSpec.from_dict(json.loads(r["spec"]))
        assert spec.in_channels == 1 and spec.num_classes == 10 and spec.stem == "cifar"
        assert 2_000_000 <= r["flops"] <= 6_000_000 and r["resolution"] == 28
    assert all(r["params"] <= 200_000 for r in rows if r["space"] == "regnetx-small")
    assert rows == sample_rows(config)      # the same file samples the same models


def test_the_refusal_names_what_differs():
    from designspace.sweep.driver import _differences

    ours = {"name": "a", "recipe": {"epochs": 2, "lr": 0.1}, "runner": {"slots": 2}, "data": {"name": "x"}}
    theirs = {"name": "a", "recipe": {"epochs": 3, "lr": 0.1}, "runner": {"slots": 8}, "data": {"name": "y"}}
    assert _differences(theirs, ours) == ["data.name", "recipe.epochs"]  # a runner change is not a difference
    assert _differences(None, ours) == []  # an unreadable stored config: no detail, still refused


def test_ray_tasks_get_gpu_shares_that_fit():
    from designspace.errors import DesignspaceError
    from designspace.sweep.runners.ray import plan_tasks

    def runner(**settings):
        return SweepConfig.from_dict({"name": "r", "spaces": [{"name": "regnetx", "n": 1}],
                                      "data": {"name": "synthetic"}, "runner": {"type": "ray", **settings}},
                                     where="test").runner

    assert plan_tasks(16, 2, runner(models_per_gpu=4)) == (8, 1, "cuda", 0.25)
    capacity, _, _, share = plan_tasks(16, 1, runner(models_per_gpu=6))
    assert capacity == 6 and share == 0.1666 and 6 * share <= 1  # Ray keeps 4 decimals: 0.1667 fits only 5
    assert plan_tasks(16, 0, runner(threads_per_slot=4)) == (4, 4, "cpu", 0.0)
    assert plan_tasks(16, 2, runner(device="cpu", slots=3)) == (3, 1, "cpu", 0.0)
    with pytest.raises(DesignspaceError, match="no GPU"):
        plan_tasks(16, 0, runner(device="cuda"))
