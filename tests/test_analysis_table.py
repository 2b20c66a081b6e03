"""Loading results tables (exported files, sweep directories) and per-model metrics."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from designspace.analysis import load_results, model_metrics, stats, summarize
from designspace.analysis.synthetic import synthetic_results
from designspace.results import RESULT_COLUMNS as COLUMNS
from designspace.errors import DesignspaceError
from designspace.regnet import regnet_spec


@pytest.fixture(scope="module")
def regnet_table():
    return synthetic_results("regnetx", n=30, seed=0)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_load_results_round_trips_exported_tables(tmp_path, regnet_table, suffix):
    path = tmp_path / f"results{suffix}"
    if suffix == ".csv":
        regnet_table.to_csv(path, index=False)
    elif suffix == ".jsonl":
        regnet_table.to_json(path, orient="records", lines=True)
    else:
        pytest.importorskip("pyarrow")
        regnet_table.to_parquet(path)
    df = load_results(path)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 30 and set(df["status"]) == {"done"}
    np.testing.assert_allclose(df["best_error"].to_numpy(float), regnet_table["best_error"].to_numpy(float))
    assert df["flops"].tolist() == regnet_table["flops"].tolist()
    assert json.loads(df["spec"].iloc[3]) == json.loads(regnet_table["spec"].iloc[3])


def test_model_metrics_takes_regnet_values_and_fits_anynets():
    spec = regnet_spec(10, 48, 30.0, 2.4, group_width=8)
    row = synthetic_results("regnetx", n=1, seed=0).iloc[0].to_dict()
    row.update(spec=spec.to_json(), values=json.dumps({"depth": 10, "w0": 48, "wa": 30.0, "wm": 2.4,
                                                       "bottleneck_ratio": 1.0, "group_width": 8}))
    anynet = synthetic_results("anynetx", n=1, seed=1).iloc[0].to_dict()
    df = pd.DataFrame([row, anynet])
    df.attrs["source"] = "t"
    m = model_metrics(df)
    reg, any_ = m.iloc[0], m.iloc[1]
    assert (reg["w0"], reg["wa"], reg["wm"]) == (48.0, 30.0, 2.4)
    assert reg["d"] == 10 and reg["stages"] == len(spec.stages) and reg["w1"] == spec.widths[0]
    assert reg["g"] == 8 and reg["b"] == 1 and reg["e_fit"] < 0.05
    any_spec = json.loads(anynet["spec"])
    assert any_["d"] == sum(s["depth"] for s in any_spec["stages"])
    assert (any_["w0"], any_["wa"], any_["wm"]) == (any_["fit_w0"], any_["fit_wa"], any_["fit_wm"])
    assert any_["block_widths"] == np.repeat([s["width"] for s in any_spec["stages"]],
                                             [s["depth"] for s in any_spec["stages"]]).tolist()
    ratios = [s["bottleneck_ratio"] for s in any_spec["stages"]]
    expected_b = ratios[0] if len(set(ratios)) == 1 else math.exp(np.mean(np.log(ratios)))
    assert any_["b"] == pytest.approx(expected_b)


def test_sweep_directory_goes_through_read_results(tmp_path, monkeypatch, regnet_table):
    import designspace.sweep as sweep_pkg

    (tmp_path / "results.db").write_bytes(b"")
    seen = []
    monkeypatch.setattr(sweep_pkg, "read_results", lambda d: seen.append(d) or regnet_table, raising=False)
    df = load_results(tmp_path)
    assert seen == [str(tmp_path)] and len(df) == 30


def test_bad_inputs_are_clear_errors(tmp_path, regnet_table):
    with pytest.raises(DesignspaceError, match="no such file"):
        load_results(tmp_path / "missing.csv")
    with pytest.raises(DesignspaceError, match="not a sweep directory"):
        load_results(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DesignspaceError, match="not a results table"):
        load_results(tmp_path / "notes.txt")
    regnet_table.drop(columns=["spec"]).to_csv(tmp_path / "nospec.csv", index=False)
    with pytest.raises(DesignspaceError, match="missing column.*spec"):
        load_results(tmp_path / "nospec.csv")
    regnet_table.head(0).to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DesignspaceError, match="empty"):
        load_results(tmp_path / "empty.csv")
    (tmp_path / "garbage.jsonl").write_text("{not json\n")
    with pytest.raises(DesignspaceError, match="cannot read"):
        load_results(tmp_path / "garbage.jsonl")


def test_unfinished_sweep_and_missing_metric(tmp_path):
    pending = synthetic_results("anynetx", n=6, seed=2, unfinished=6)
    pending.to_csv(tmp_path / "pending.csv", index=False)
    with pytest.raises(DesignspaceError, match=r"no finished model.*6 pending"):
        summarize([load_results(tmp_path / "pending.csv")])
    done = synthetic_results("anynetx", n=6, seed=2).drop(columns=["final_error"])
    done.to_csv(tmp_path / "nofinal.csv", index=False)
    with pytest.raises(DesignspaceError, match="final_error.*not in the table"):
        summarize([load_results(tmp_path / "nofinal.csv")], metric="final")
    with pytest.raises(DesignspaceError, match="unknown metric"):
        summarize([load_results(tmp_path / "nofinal.csv")], metric="top5")


def test_summarize_bins_and_statistics():
    a = synthetic_results("anynetx", n=60, seed=3, space="a")
    b = synthetic_results("regnetx", n=60, seed=4, space="b")
    s = summarize([a, b], bins=3, repeats=1000)
    assert s["bins"] == 3 and [e["label"] for e in s["spaces"]] == ["a", "b"]
    for e in s["spaces"]:
        assert e["weights"].sum() == pytest.approx(1.0)
        assert e["finished"] == 60 and e["min_error"] == pytest.approx(e["metrics"]["error"].min())
    assert s["spaces"][0]["ks_plain"] is None and 0 <= s["spaces"][1]["ks_plain"]["pvalue"] <= 1
    assert "D = " in s["pairs"][0]["finding"] and "p = " in s["pairs"][0]["finding"]
    with pytest.raises(DesignspaceError, match="has no model"):
        summarize([a, b], bins=200)
    auto = summarize([a.head(8), b.head(8)], repeats=100)  # default bins shrink until every bin is filled
    assert 1 <= auto["bins"] <= 10
    with pytest.raises(DesignspaceError, match="flops or params"):
        summarize([a], normalize="acts")
    c = synthetic_results("anynetx", n=60, seed=5, space="c")
    chosen = summarize([a, b, c], bins=3, repeats=200, pairs=[("b", "c"), "a:c"])
    assert [(p["reference"], p["other"]) for p in chosen["pairs"]] == [("b", "c"), ("a", "c")]
    ks = chosen["pairs"][0]["ks_plain"]
    assert ks["statistic"] == pytest.approx(stats.ks_test(c["best_error"], b["best_error"]).statistic)
    assert chosen["pairs"][1]["ks_plain"] == chosen["spaces"][2]["ks_plain"]
    with pytest.raises(DesignspaceError, match="unknown space 'd'"):
        summarize([a, b], pairs=[("a", "d")])


def test_model_metrics_fits_every_model_as_one_fit_would():
    from designspace.analysis import fit_quantized_linear

    df = pd.concat([synthetic_results("anynetx", n=25, seed=4), synthetic_results("regnetx", n=10, seed=5)])
    df.attrs["source"] = "t"
    m = model_metrics(df)
    for _, row in m.iterrows():
        fit = fit_quantized_linear(row["block_widths"])
        assert (row["e_fit"], row["fit_w0"], row["fit_wa"], row["fit_wm"]) == (fit.e_fit, fit.w0, fit.wa, fit.wm)
        assert row["fit_block_widths"] == fit.block_widths
