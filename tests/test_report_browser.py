"""The report in a real browser: headless Chromium loads it, every figure decodes, no console
error, and a screenshot is taken. Skipped (with the reason) where Chromium is not installed;
`make system-deps` installs Debian's `chromium`."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from designspace.analysis import write_report
from designspace.analysis.synthetic import synthetic_results

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package `chromium`)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Appended to a copy only: the report itself carries no script.
CHECK = """<script>window.addEventListener('load', function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++; }
  var d = document.createElement('div'); d.id = 'figure-check';
  d.textContent = 'images=' + imgs.length + ' broken=' + broken; document.body.appendChild(d);
  console.log('figure-check images=' + imgs.length + ' broken=' + broken);
});</script>"""


def _chromium(tmp_path, *args):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _check(tmp_path, html_text, name):
    page = tmp_path / name
    page.write_text(html_text.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
                    page.as_uri())
    found = re.search(r'id="figure-check">images=(\d+) broken=(\d+)<', run.stdout)
    assert found, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "figure-check" not in line]
    return int(found.group(1)), int(found.group(2)), console


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    synthetic_results("anynetx", n=40, seed=1, space="<script>alert(1)</script>").to_csv(d / "a.csv", index=False)
    synthetic_results("regnetx", n=40, seed=2).to_csv(d / "b.csv", index=False)
    return write_report([d / "a.csv", d / "b.csv"], d / "report.html", bins=4)


def test_every_figure_renders_without_console_errors(report_file, tmp_path):
    text = open(report_file, encoding="utf-8").read()
    images, broken, console = _check(tmp_path, text, "check.html")
    assert images == text.count("<img ") and images >= 10
    assert broken == 0
    assert console == []
    # The check itself can fail: one corrupted figure is reported as broken.
    corrupted = text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    assert _check(tmp_path, corrupted, "corrupted.html")[1] == 1


def test_screenshot(report_file, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, "--window-size=1200,3000", "--hide-scrollbars", f"--screenshot={shot}",
                    Path(report_file).as_uri())
    assert shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 3000)
    low, high = image.getextrema()
    assert high - low > 100  # text and figures, not a blank page
