"""`designspace info`: the contract's JSON keys and one-line errors with exit status 2."""
import json

import pytest

KEYS = {"name", "flops", "params", "acts", "depths", "widths", "group_widths", "bottleneck", "se_ratio", "stem_width", "resolution"}


def test_info_json_contract(run_cli):
    rc, out, err = run_cli("info", "regnetx_400mf", "--json")
    info = json.loads(out)
    assert rc == 0 and KEYS <= set(info)
    assert (info["flops"], info["params"], info["acts"]) == (397_678_568, 5_157_512, 3_143_272)
    assert info["widths"] == [32, 64, 160, 384] and info["bottleneck"] == 1.0 and info["stem_width"] == 32


def test_info_res_and_classes(run_cli):
    rc, out, _ = run_cli("info", "RegNetY-800MF", "--res", "32", "--classes", "10", "--json")
    info = json.loads(out)
    assert rc == 0 and info["resolution"] == 32 and info["se_ratio"] == 0.25
    from designspace import complexity, get_spec

    assert info["flops"] == complexity(get_spec("RegNetY-800MF", num_classes=10), 32)["flops"]


def test_info_table_and_list(run_cli):
    rc, out, _ = run_cli("info", "ResNet-50")
    assert rc == 0 and "4,089,185,256" in out and "56x56" in out
    rc, out, _ = run_cli("info", "--list")
    assert rc == 0 and out.count("\n") >= 33 and "RegNetY-32GF" in out


def test_info_spec_file(run_cli, tmp_path):
    from designspace import get_spec

    path = tmp_path / "s.json"
    path.write_text(get_spec("RegNetX-200MF").to_json())
    rc, out, _ = run_cli("info", path, "--json")
    assert rc == 0 and json.loads(out)["flops"] == 199_040_872


@pytest.mark.parametrize("content, needle", [
    ("{oops", "not valid JSON or YAML"),
    ('{"stages": [{"depth": 1, "width": 48, "group_width": 32}]}', "group_width"),
    ('{"stages": [{"depth": 1, "width": 32, "block": "Q"}]}', "block"),
    ('{"stages": [{"depth": 1, "width": 32}], "stem": "big"}', "stem"),
    ("regnet: {depth: 13, w0: 20, wa: 36.44, wm: 2.49, group_width: 8}", "w0"),
    ("regnet: {depth: 13, w0: 24, wa: 36.44, wm: 0.9, group_width: 8}", "wm"),
    ("regnet: {depth: 13, w0: 24, wa: -3, wm: 2.4, group_width: 8}", "wa"),
    ("regnet: {depth: 0, w0: 24, wa: 3, wm: 2.4, group_width: 8}", "depth"),
])
def test_bad_spec_files_exit_2_with_one_line(run_cli, tmp_path, content, needle):
    path = tmp_path / "spec.yaml"
    path.write_text(content)
    rc, out, err = run_cli("info", path)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_unknown_model_suggests(run_cli):
    rc, _, err = run_cli("info", "RegNetX-401MF")
    assert rc == 2 and "did you mean" in err and "RegNetX-400MF" in err


def test_cli_subprocess_has_no_traceback(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "designspace", "info", "nonsense-model"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.strip().count("\n") == 0
