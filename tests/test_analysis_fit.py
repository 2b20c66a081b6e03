"""The quantized linear fit (DESIGN section 6) and `designspace fit`."""
import json

import numpy as np
import pytest

from designspace.analysis.fit import e_fit_of, fit_quantized_linear
from designspace.cli import main
from designspace.errors import DesignspaceError
from designspace.regnet import quantized_linear, regnet_spec
from designspace.zoo import get_spec


def _regnet_params(rng, count):
    """Random RegNet parameters like the RegNetX space's, without skipped exponents (as samplers do)."""
    out = []
    while len(out) < count:
        d, w0 = int(rng.integers(12, 29)), int(rng.integers(1, 33)) * 8
        wa, wm = float(rng.uniform(8, 256)), float(rng.uniform(1.5, 3.0))
        if not quantized_linear(d, w0, wa, wm).skips_exponent:
            out.append((d, w0, wa, wm))
    return out


def test_fit_recovers_generated_regnets():
    for d, w0, wa, wm in _regnet_params(np.random.default_rng(5), 40):
        widths = quantized_linear(d, w0, wa, wm).block_widths
        fit = fit_quantized_linear(widths)
        assert fit.e_fit == 0.0, (d, w0, wa, wm)
        assert fit.block_widths == widths
        assert fit.w0 == w0
        # Many (wa, wm) quantize to the same widths; the fit lands inside that set, near the truth.
        assert fit.wm == pytest.approx(wm, rel=0.03)
        assert fit.wa == pytest.approx(wa, rel=0.2)
        assert quantized_linear(d, fit.w0, fit.wa, fit.wm).block_widths == widths


def test_fit_of_regnet_specs_after_group_compatibility_is_small():
    # Group compatibility moves widths off the exact rule (RegNetX-400MF 24/64/152/392 -> 32/64/160/384).
    for name in ("RegNetX-200MF", "RegNetX-400MF", "RegNetX-1.6GF", "RegNetY-800MF"):
        fit = fit_quantized_linear(get_spec(name).block_widths())
        assert 0.0 <= fit.e_fit < 0.1, name
    spec = regnet_spec(16, 48, 36.0, 2.5, group_width=8)
    assert fit_quantized_linear(spec.block_widths()).e_fit == 0.0  # these widths survive compatibility


def test_random_anynets_have_positive_e_fit():
    rng = np.random.default_rng(0)
    values = []
    for _ in range(20):
        depths = rng.integers(1, 5, 4)
        widths = rng.integers(1, 129, 4) * 8  # unordered, unrelated stage widths
        values.append(fit_quantized_linear(np.repeat(widths, depths)).e_fit)
    assert min(values) > 0.0
    assert np.median(values) > 0.05


def test_e_fit_definition_by_hand():
    # w0=24, wa=24, wm=2: u = 24, 48 -> k = 0, 1 -> u' = 24, 48.
    assert e_fit_of([24, 48], 24, 24.0, 2.0) == 0.0
    assert e_fit_of([24, 56], 24, 24.0, 2.0) == pytest.approx(abs(np.log(56 / 48)) / 2)
    fit = fit_quantized_linear([24, 56])
    assert fit.e_fit <= e_fit_of([24, 56], 24, 24.0, 2.0)
    assert fit_quantized_linear([64, 64, 64]).e_fit == 0.0  # one stage


@pytest.mark.parametrize("bad", [[], [24, -8], [24, float("nan")], ["a"]])
def test_fit_rejects_bad_widths(bad):
    with pytest.raises(DesignspaceError):
        fit_quantized_linear(bad)


def test_fit_command(capsys, tmp_path):
    assert main(["fit", "24", "56", "56", "152", "152", "152", "368", "368"]) == 0
    out = capsys.readouterr().out
    assert "w0 24" in out and "e_fit 0.00000" in out and "fitted stage widths 24 56 152 368" in out
    assert main(["fit", "24,56,56,152", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["w0"] == 24 and data["e_fit"] == 0.0 and data["widths"] == [24, 56, 56, 152]
    spec_file = tmp_path / "net.json"
    spec_file.write_text(get_spec("RegNetX-400MF").to_json())
    assert main(["fit", "--spec", str(spec_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["widths"] == get_spec("RegNetX-400MF").block_widths() and data["e_fit"] > 0


@pytest.mark.parametrize("argv", [["fit"], ["fit", "24", "x"], ["fit", "0", "8"], ["fit", "--spec", "no/such.json"],
                                  ["fit", "8", "--spec", "RegNetX-400MF"]])
def test_fit_command_errors_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("designspace fit: error:") and err.count("\n") == 1
