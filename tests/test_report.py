"""The HTML report: every section, no external URL, escaped names; the report/bench commands."""
import base64
import json
import re
from html.parser import HTMLParser

import pytest

from designspace.analysis import stats, write_report
from designspace.analysis.report import SECTIONS
from designspace.analysis.synthetic import synthetic_results
from designspace.cli import main
from designspace.spec import NetSpec, StageSpec
from designspace.sweep import status as status_mod
from designspace.sweep.store import Store
from designspace.train import TrainResult

EVIL = "x$<script>alert('pwned')</script>"  # "$" would also start matplotlib mathtext


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.urls, self.tags, self.images = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("src", "href", "action", "data", "poster"):
            if key in attrs:
                self.urls.append(attrs[key])
        if tag == "img":
            self.images.append(attrs.get("src", ""))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    a = synthetic_results("anynetx", n=40, seed=11, space=EVIL, sweep=f"sweep {EVIL}")
    b = synthetic_results("regnetx", n=40, seed=12, space="regnetx")
    a.to_csv(d / "a.csv", index=False)
    b.to_json(d / "b.jsonl", orient="records", lines=True)
    return d, a, b


@pytest.fixture(scope="module")
def report(tables):
    d, _, _ = tables
    out = d / "report.html"
    write_report([d / "a.csv", d / "b.jsonl"], out, bins=4)
    return out, out.read_text(encoding="utf-8")


def test_report_has_every_section_and_only_inline_figures(report):
    _, text = report
    parser = _Collector()
    parser.feed(text)
    for sid, _ in SECTIONS:
        assert sid in parser.ids, sid
    assert len(parser.images) >= 10
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for url in parser.urls:
        assert url.startswith(("data:", "#")), url
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.I)
    assert "url(" not in text and "@import" not in text
    assert "script" not in parser.tags and "iframe" not in parser.tags and "link" not in parser.tags


def test_names_from_the_data_are_escaped(report):
    _, text = report
    assert "<script>" not in text
    assert "x$&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in text


def test_findings_state_the_statistics(tables, report):
    _, a, b = tables
    _, text = report
    ks = stats.ks_test(b["best_error"].to_numpy(), a["best_error"].to_numpy())
    finding = re.search(r'<p class=finding>(.*?)</p>', text, re.S).group(1)
    assert f"D = {ks.statistic:.3f}" in finding and f"p = {ks.pvalue:.3g}" in finding
    assert f"median {b['best_error'].median():.2f}% vs {a['best_error'].median():.2f}%" in finding
    assert "4 bins" in finding


def test_report_command_writes_html_and_json(tables, tmp_path, capsys):
    d, _, _ = tables
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["report", str(d / "a.csv"), str(d / "b.jsonl"), "--out", str(out), "--json", str(js),
                 "--metric", "final", "--normalize", "params"]) == 0
    assert "KS on the plain EDFs" in capsys.readouterr().out
    assert main(["report", str(d / "a.csv"), str(d / "b.jsonl"), "--out", str(out), "--pair", f"regnetx:{EVIL}"]) == 0
    assert capsys.readouterr().out.startswith(f"{EVIL} (40 finished models) vs regnetx (40)")
    assert out.read_text().startswith("<!DOCTYPE html>")
    data = json.loads(js.read_text())
    assert data["metric_column"] == "final_error" and data["normalize"] == "params" and 1 <= data["bins"] <= 10
    assert [s["label"] for s in data["spaces"]] == [EVIL, "regnetx"]
    assert set(data["spaces"][1]["bootstrap"]) >= {"d", "w0", "wa", "wm", "flops", "params", "acts", "e_fit"}


def _fails_with_one_line(argv, capsys, pattern):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("designspace report: error:"), err
    assert re.search(pattern, err), err


def test_report_bad_inputs(tables, tmp_path, capsys):
    d, _, _ = tables
    out = tmp_path / "keep.html"
    out.write_text("previous report")
    base = ["report", "--out", str(out)]
    _fails_with_one_line(base + [str(tmp_path / "nope")], capsys, "no such file")
    _fails_with_one_line(base + [str(tmp_path)], capsys, "not a sweep directory")
    synthetic_results("anynetx", n=5, seed=1).head(0).to_csv(tmp_path / "empty.csv", index=False)
    _fails_with_one_line(base + [str(tmp_path / "empty.csv")], capsys, "empty")
    synthetic_results("anynetx", n=5, seed=1, unfinished=5).to_csv(tmp_path / "pending.csv", index=False)
    _fails_with_one_line(base + [str(tmp_path / "pending.csv")], capsys, "no finished model")
    _fails_with_one_line(base + [str(d / "a.csv"), "--metric", "top5"], capsys, "unknown metric")
    _fails_with_one_line(base + [str(d / "a.csv"), "--normalize", "acts"], capsys, "flops or params")
    _fails_with_one_line(base + [str(d / "a.csv"), str(d / "b.jsonl"), "--bins", "500"], capsys, "fewer bins")
    _fails_with_one_line(base + [str(d / "a.csv"), "--runtime", str(tmp_path / "none.jsonl")], capsys, "runtime")
    _fails_with_one_line(["report", str(d / "a.csv"), "--out", str(tmp_path)], capsys, "is a directory")
    _fails_with_one_line(base + [str(d / "b.jsonl"), "--pair", "regnetx:nope"], capsys, "unknown space 'nope'")
    _fails_with_one_line(base + [str(d / "b.jsonl"), "--pair", "regnetx"], capsys, "REFERENCE:OTHER")
    assert out.read_text() == "previous report"  # nothing already written is damaged


def test_bench_runtime_feeds_the_report_runtime_model(tables, tmp_path, capsys):
    d, _, _ = tables
    samples = tmp_path / "samples.jsonl"
    with open(samples, "w") as f:
        for i, (depth, width) in enumerate([(1, 8), (2, 16), (2, 32), (3, 24)]):
            spec = NetSpec(stages=(StageSpec(depth=depth, width=width), StageSpec(depth=1, width=2 * width)),
                           stem="cifar", stem_width=8, num_classes=10)
            f.write(json.dumps({"space": "tiny", "index": i, "spec": spec.to_dict()}) + "\n")
    runtime = tmp_path / "runtime.jsonl"
    assert main(["bench", "runtime", str(samples), "--device", "cpu", "--batch", "2", "--res", "16",
                 "--warmup", "1", "--repeats", "2", "--threads", "1", "--out", str(runtime)]) == 0
    records = [json.loads(line) for line in runtime.read_text().splitlines()]
    assert [r["name"] for r in records] == ["tiny#0", "tiny#1", "tiny#2", "tiny#3"]
    for r in records:
        assert r["forward_s"] > 0 and r["forward_backward_s"] > 0 and r["resolution"] == 16 and r["batch"] == 2
    assert records[2]["flops"] > records[0]["flops"]
    out = tmp_path / "r.html"
    assert main(["report", str(d / "b.jsonl"), "--out", str(out), "--runtime", str(runtime)]) == 0
    text = out.read_text()
    runtime_section = text[text.index('id="runtime"'):text.index('id="best-worst"')]
    assert "forward_backward_s" in runtime_section and "<img" in runtime_section
    capsys.readouterr()
    assert main(["bench", "runtime", str(tmp_path / "none.jsonl")]) == 2
    assert main(["bench", "runtime", "RegNetX-200MF", "--batch", "0"]) == 2


def test_report_reads_a_real_sweep_directory(tmp_path, capsys):
    table = synthetic_results("regnetx", n=12, seed=5, space="regnetx")
    rows = [{"space": r["space"], "index": int(r["index"]), "spec": r["spec"], "values": r["values"],
             "flops": int(r["flops"]), "params": int(r["params"]), "acts": int(r["acts"]),
             "resolution": int(r["resolution"])} for _, r in table.iterrows()]
    sweep_dir = tmp_path / "sweep"
    store = Store.create(sweep_dir, "{}", "fingerprint", f"sweep {EVIL}", rows)
    try:
        out = tmp_path / "r.html"
        assert main(["report", str(sweep_dir), "--out", str(out)]) == 2  # nothing finished yet
        assert "no finished model" in capsys.readouterr().err
        for _, r in table.head(10).iterrows():
            store.record_result(store.key(r["space"], int(r["index"])), TrainResult(
                status="done", best_error=r["best_error"], final_error=r["final_error"],
                epochs=json.loads(r["epochs"]), wall_time=1.0, images_per_sec=10.0, host="h", device="cpu"))
    finally:
        store.close()
    assert main(["report", str(sweep_dir), "--out", str(out), "--bins", "2"]) == 0
    text = out.read_text()
    assert "<td>12</td><td>10</td>" in text  # n and finished in the summary table
    assert "sweep x$&lt;script&gt;" in text and "<script>" not in text
    for suffix in (".csv", ".jsonl"):  # what `designspace sweep export` writes reads back the same
        exported = tmp_path / f"export{suffix}"
        status_mod.export_results(sweep_dir, exported)
        assert main(["report", str(exported), "--out", str(out), "--bins", "2"]) == 0
        assert "<td>12</td><td>10</td>" in out.read_text()


def test_report_of_a_single_finished_model(tmp_path):
    synthetic_results("regnetx", n=3, seed=1, unfinished=2).to_csv(tmp_path / "t.csv", index=False)
    text = open(write_report([tmp_path / "t.csv"], tmp_path / "r.html"), encoding="utf-8").read()
    assert "<td>3</td><td>1</td><td class=name>2 pending</td>" in text and "No parameter varies" in text
    assert "Only one design space" in text
