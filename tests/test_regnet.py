"""RegNet generation: docs/design.md, RegNet generation, facts 1-8."""
import numpy as np
import pytest

from designspace.errors import SpecError
from designspace.regnet import adjust_widths_groups, quantized_linear, regnet_spec
from designspace.zoo import REGNETX, REGNETY, get_spec


def test_x400mf_widths_before_and_after_compatibility():
    rw = quantized_linear(22, 24, 24.48, 2.54)
    assert rw.stage_widths == [24, 64, 152, 392]  # fact 6's "before"
    spec = get_spec("RegNetX-400MF")
    assert spec.widths == [32, 64, 160, 384] and spec.depths == [1, 2, 7, 12]


def test_group_width_clipped_per_stage():
    assert get_spec("RegNetX-8.0GF").group_widths == [80, 120, 120, 120]


def test_compatibility_changes_21_of_24_zoo_models():
    changed = 0
    for table in (REGNETX, REGNETY):
        for name, p in table.items():
            before = quantized_linear(p["depth"], p["w0"], p["wa"], p["wm"]).stage_widths
            changed += get_spec(name).widths != before
    assert changed == 21


def test_zoo_entries_are_keyword_configs_of_regnet_spec():
    assert REGNETX["RegNetX-400MF"] == dict(depth=22, w0=24, wa=24.48, wm=2.54, group_width=16)
    assert all(config["se_ratio"] == 0.25 for config in REGNETY.values())
    assert not any("se_ratio" in config for config in REGNETX.values())
    for name, config in {**REGNETX, **REGNETY}.items():
        for rounding in ("pycls", "torchvision"):
            assert get_spec(name, rounding=rounding) == regnet_spec(**config, rounding=rounding, name=name)


def test_continuous_and_exponents_follow_the_rule():
    rw = quantized_linear(13, 24, 36.44, 2.49)
    u = 24 + 36.44 * np.arange(13)
    assert np.allclose(rw.continuous, u)
    k = np.round(np.log(u / 24) / np.log(2.49))
    assert rw.exponents == k.astype(int).tolist()
    assert rw.block_widths == (np.round(24 * 2.49 ** k / 8) * 8).astype(int).tolist()
    assert sum(rw.stage_depths) == 13 and not rw.skips_exponent


def test_round_half_to_even():
    # w0 * wm^k / 8 = 2.5 exactly -> rounds to 2 (half to even), so width 16, not 24.
    rw = quantized_linear(2, 8, 2.0, 2.5)  # u = 8, 10 -> k = 0, round(log(1.25)/log(2.5)=0.24)=0
    assert rw.block_widths == [8, 8]
    # adjust step: v = 20, g = 8 -> round(2.5) = 2 -> 16 (half-up would give 24)
    assert adjust_widths_groups([20], [1.0], [8]) == ([16], [8])
    # torchvision rounds half up and never drops more than 10%
    assert adjust_widths_groups([20], [1.0], [8], rounding="torchvision") == ([24], [8])


def test_exponent_skip_detected():
    # wa large relative to w0 with small wm jumps several exponents in one block
    rw = quantized_linear(2, 8, 200.0, 1.5)
    assert rw.skips_exponent


def test_y_models_have_se_and_x_do_not():
    assert {s.block for s in get_spec("RegNetY-400MF").stages} == {"Y"}
    assert {s.se_ratio for s in get_spec("RegNetY-400MF").stages} == {0.25}
    assert {s.block for s in get_spec("RegNetX-400MF").stages} == {"X"}


# The RegNets torchvision ships (it has no 200MF, 600MF, 4.0GF, 6.4GF or 12GF X models).
TORCHVISION_ZOO = ["RegNetX-400MF", "RegNetX-800MF", "RegNetX-1.6GF", "RegNetX-3.2GF", "RegNetX-8.0GF", "RegNetX-16GF",
                   "RegNetX-32GF", "RegNetY-400MF", "RegNetY-800MF", "RegNetY-1.6GF", "RegNetY-3.2GF", "RegNetY-8.0GF",
                   "RegNetY-16GF", "RegNetY-32GF"]


def test_torchvision_rounding_differs_only_where_documented():
    differ = [n for n in TORCHVISION_ZOO if get_spec(n).widths != get_spec(n, rounding="torchvision").widths]
    assert sorted(differ) == sorted(["RegNetX-400MF", "RegNetY-800MF", "RegNetY-8.0GF"])
    assert get_spec("RegNetX-400MF", rounding="torchvision").widths == [32, 64, 160, 400]


@pytest.mark.parametrize("kwargs, field", [
    (dict(depth=10, w0=20, wa=10.0, wm=2.0, group_width=8), "w0"),
    (dict(depth=10, w0=24, wa=10.0, wm=1.0, group_width=8), "wm"),
    (dict(depth=10, w0=24, wa=-1.0, wm=2.0, group_width=8), "wa"),
    (dict(depth=0, w0=24, wa=10.0, wm=2.0, group_width=8), "depth"),
    (dict(depth=10, w0=24, wa=10.0, wm=2.0, group_width=0), "group_width"),
])
def test_bad_regnet_parameters_name_the_field(kwargs, field):
    with pytest.raises(SpecError, match=field):
        regnet_spec(**kwargs)
