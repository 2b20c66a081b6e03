"""`designspace sample` / `designspace spaces` and YAML space files, including every bad-input case."""
import json
import math
import textwrap

import pytest

from designspace.cli import main
from designspace.complexity import complexity
from designspace.errors import DesignspaceError
from designspace.spaces import get_space, list_spaces, load_space_file, yaml_space
from designspace.spec import NetSpec


def _documented_example() -> str:
    """The YAML example of spaces/yaml_space.py's docstring, so the test keeps the documentation true."""
    lines = yaml_space.__doc__.split("# my_space.yaml\n", 1)[1].split("\n\n", 1)[0]
    return textwrap.dedent(lines)


YAML_SPACE = _documented_example()

YAML_REGNET = """
kind: regnet
parameters:
  depth: {dist: uniform, low: 12, high: 28}
  wm: {dist: log_uniform, low: 2, high: 3, step: 0.001}
  group_width: {dist: choice, values: [8, 16, 24]}
se_ratio: 0.25
w0_equals_wa: true
"""


def test_sample_writes_jsonl(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["sample", "anynetx_a", "--n", "5", "--flops", "360M:400M", "--seed", "3", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    api = [s.to_dict() for s in get_space("anynetx_a").sample(5, seed=3, flops=(360e6, 400e6))]
    assert [json.loads(line) for line in lines] == api
    for line in lines:
        row = json.loads(line)
        spec = NetSpec.from_dict(row["spec"])
        assert 360e6 <= row["flops"] <= 400e6 and complexity(spec)["flops"] == row["flops"]


def test_sample_to_stdout_with_frame(capsys):
    assert main(["sample", "regnetx", "--n", "3", "--flops", ":0.05G", "--res", "28", "--classes", "10",
                 "--in-channels", "1", "--stem", "cifar", "--params", "10k:"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3
    for r in rows:
        assert r["spec"]["in_channels"] == 1 and r["spec"]["num_classes"] == 10 and r["spec"]["stem"] == "cifar"
        assert r["flops"] <= 50e6 and r["params"] >= 1e4
        assert complexity(NetSpec.from_dict(r["spec"]), 28)["acts"] == r["acts"]


def test_sample_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "s.parquet"
    assert main(["sample", "anynetx_c", "--n", "4", "--format", "parquet", "--out", str(out)]) == 0
    table = pq.read_table(out).to_pylist()
    assert [r["index"] for r in table] == [0, 1, 2, 3]
    assert NetSpec.from_dict(json.loads(table[0]["spec"])).depths == json.loads(table[0]["values"])["depths"]


def test_yaml_space(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(YAML_SPACE)
    space = get_space(str(path))
    assert space.name == "small_anynet" and space.num_stages == 3 and space.resolution == 32
    samples = space.sample(50, seed=0, flops=(None, 20e6))
    for s in samples:
        assert len(s.spec.stages) == 3 and s.spec.stem == "cifar" and s.spec.num_classes == 10
        assert s.spec.widths == sorted(s.spec.widths) and len(set(s.values["group_widths"])) == 1
        assert s.flops <= 20e6 and complexity(s.spec, 32)["flops"] == s.flops
    assert space.log10_size() == pytest.approx(3 * math.log10(8) + math.log10(math.comb(31 + 2, 3)) + math.log10(5))
    path2 = tmp_path / "reg.yaml"
    path2.write_text(YAML_REGNET)
    reg = load_space_file(path2, resolution=64)
    assert reg.name == "reg" and reg.block == "Y" and reg.resolution == 64
    for s in reg.sample(5, seed=1):
        assert s.values["wa"] == s.values["w0"] and 12 <= s.values["depth"] <= 28
    out = tmp_path / "y.jsonl"
    assert main(["sample", str(path), "--n", "3", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 3


def test_spaces_command(capsys):
    assert main(["spaces"]) == 0
    text = capsys.readouterr().out
    for name in list_spaces():
        assert name in text
    assert main(["spaces", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["anynetx_a"]["log10_size"] == pytest.approx(18.2665, abs=1e-3)
    assert rows["anynetx_b"]["reduction"] == pytest.approx(3 * math.log10(3), abs=1e-3)
    assert rows["anynetx_b"]["refines"] == "anynetx_a"
    assert any("non-decreasing" in c for c in rows["anynetx_d"]["constraints"])
    assert rows["regnetx_c"]["free_parameters"] and rows["regnetx"]["reduction"] > 0


BAD_YAML = {
    "malformed": "kind: anynet\nparameters: {depth: [1, 2\n",
    "unknown_key": "kind: anynet\nstages: 4\n",
    "bad_kind": "kind: resnet\n",
    "empty_range": "kind: anynet\nparameters:\n  width: {dist: log_uniform, low: 9, high: 15, step: 8}\n",
    "unknown_param": "kind: regnet\nparameters:\n  width: 8\n",
    "bad_dist_key": "kind: anynet\nparameters:\n  depth: {dist: uniform, low: 1, hi: 4}\n",
    "not_mapping": "- 1\n- 2\n",
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_bad_yaml_space_is_user_error(tmp_path, case):
    path = tmp_path / f"{case}.yaml"
    path.write_text(BAD_YAML[case])
    with pytest.raises(DesignspaceError) as e:
        get_space(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


BAD_ARGS = {
    "unknown_space": (["anynetx_f", "--n", "5"], "did you mean"),
    "lo_above_hi": (["anynetx_a", "--n", "5", "--flops", "400M:360M"], "above"),
    "unreachable_band": (["anynetx_a", "--n", "5", "--flops", "1:2"], "found 0 of 5 in 10^6 draws; widen the band"),
    "n_zero": (["anynetx_a", "--n", "0"], "--n"),
    "n_not_number": (["anynetx_a", "--n", "many"], "--n"),
    "bad_number": (["anynetx_a", "--n", "5", "--params", "lots:"], "--params"),
    "no_colon": (["anynetx_a", "--n", "5", "--acts", "5M"], "--acts"),
    "bad_res": (["anynetx_a", "--n", "5", "--res", "0"], "--res"),
    "missing_yaml": (["nowhere/space.yaml", "--n", "5"], "no such space file"),
    "empty_range_yaml": (None, "empty after quantization"),
    "malformed_yaml": (None, "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_input_exit_2_and_nothing_written(tmp_path, capsys, case):
    argv, needle = BAD_ARGS[case]
    if argv is None:
        path = tmp_path / "space.yaml"
        path.write_text(BAD_YAML["empty_range" if case == "empty_range_yaml" else "malformed"])
        argv = [str(path), "--n", "5"]
    out = tmp_path / "out.jsonl"
    assert main(["sample", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "space.yaml"] == []


def test_failure_leaves_existing_output_untouched(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    assert main(["sample", "anynetx_a", "--n", "3", "--flops", "1:2", "--max-draws", "1e4", "--out", str(out)]) == 2
    assert out.read_text() == "previous\n"
