"""Design spaces: constraints, sizes, seeds, dedup, vectorized == scalar counting."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designspace.complexity import complexity
from designspace.errors import DesignspaceError
from designspace.regnet import adjust_widths_groups, quantized_linear, regnet_spec
from designspace.spaces import Sample, get_space, list_spaces, register_space
from designspace.spaces.anynet import AnyNetSpace
from designspace.spaces.base import adjust_widths_groups_batch
from designspace.spaces.distributions import Choice, Fixed
from designspace.spaces.regnet import RegNetSpace, quantized_linear_batch
from designspace.spec import NetSpec
from designspace.specfile import load_spec_file
from designspace.zoo import get_spec

REQUIRED = ["anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e", "regnetx", "regnety", "regnetx_c",
            "regnetx_wm2", "regnetx_w0wa", "anynetx_a_5stage", "regnetx_5stage", "anynet_r", "anynet_v",
            "regnetx_ib", "regnetx_dw", "anynetx_e_ib", "anynetx_e_dw"]


def test_builtin_names():
    assert set(REQUIRED) <= set(list_spaces())


def test_sizes_and_reductions():
    a = get_space("anynetx_a").log10_size()
    assert a == pytest.approx(4 * math.log10(16 * 128 * 3 * 6))  # (16*128*3*6)^4 ~ 1.8e18
    assert 10 ** a == pytest.approx(1.8e18, rel=0.05)
    b = get_space("anynetx_b").log10_size()
    assert a - b == pytest.approx(3 * math.log10(3))
    c = get_space("anynetx_c").log10_size()
    assert b - c == pytest.approx(3 * math.log10(6))
    d = get_space("anynetx_d").log10_size()
    assert c - d == pytest.approx(4 * math.log10(128) - math.log10(math.comb(131, 4)))
    e = get_space("anynetx_e").log10_size()
    assert d - e == pytest.approx(4 * math.log10(16) - math.log10(math.comb(19, 4)))
    e_free = get_space("anynetx_e", exempt_last_depth=True).log10_size()
    assert e_free == pytest.approx(d - 4 * math.log10(16) + math.log10(math.comb(18, 3) * 16))
    x = get_space("regnetx").log10_size()
    assert x == pytest.approx(math.log10(63 * 32 * 2481 * 1501 * 3 * 6))
    assert get_space("regnetx_w0wa").log10_size() == pytest.approx(x - math.log10(2481))


def _check_constraints(space, samples, band=(None, None)):
    specs = set()
    for i, s in enumerate(samples):
        assert s.index == i and s.space == space.name
        spec = NetSpec.from_dict(s.spec.to_dict())  # validates (group width divides bottleneck width, ...)
        assert spec == s.spec
        assert len(spec.stages) == space.num_stages
        cx = complexity(spec, space.resolution)
        assert (cx["flops"], cx["params"], cx["acts"]) == (s.flops, s.params, s.acts)
        lo, hi = band
        assert (lo is None or s.flops >= lo) and (hi is None or s.flops <= hi)
        assert spec.num_classes == space.num_classes and spec.in_channels == space.in_channels
        specs.add(spec.to_json())
        if isinstance(space, AnyNetSpace):
            assert set(s.values) == {"depths", "widths", "bottleneck_ratios", "group_widths"}
            assert s.values["depths"] == spec.depths and s.values["bottleneck_ratios"] == spec.bottleneck_ratios
            for p in space.shared:
                assert len(set(s.values[p + "s"])) == 1
            assert spec.bottleneck_ratios == s.values["bottleneck_ratios"]
            # compatibility: g clipped to the bottleneck width (so a shared g may shrink in narrow stages)
            for w, b, g, g_spec in zip(s.values["widths"], spec.bottleneck_ratios, s.values["group_widths"],
                                       spec.group_widths):
                assert g_spec == min(g, int(w / b))
            if "width" in space.monotone:
                assert spec.widths == sorted(spec.widths) and s.values["widths"] == sorted(s.values["widths"])
            if "depth" in space.monotone:
                d = spec.depths[:-1] if space.exempt_last_depth else spec.depths
                assert d == sorted(d)
        else:
            v = dict(s.values)
            se = v.pop("se_ratio", 0.0)
            assert se == space.se_ratio
            assert regnet_spec(**v, se_ratio=se, stem=space.stem, in_channels=space.in_channels,
                               num_classes=space.num_classes, block="X" if se else space.block) == spec
            assert not quantized_linear(v["depth"], v["w0"], v["wa"], v["wm"]).skips_exponent
            if space.w0_equals_wa:
                assert v["wa"] == v["w0"]
            if space.name == "regnetx_c":
                gf = s.flops / 1e9
                assert v["bottleneck_ratio"] == 1 and v["depth"] <= 40 and v["wm"] >= 2
                assert s.params <= (3 + 5.5 * gf) * 1e6 and s.acts <= 6.5 * math.sqrt(gf) * 1e6
    assert len(specs) == len(samples)  # no duplicates


@pytest.mark.parametrize("name", list_spaces())
def test_every_sample_satisfies_the_constraints(name):
    space = get_space(name)
    _check_constraints(space, space.sample(40, seed=1))
    band = (200e6, 800e6)
    _check_constraints(space, space.sample(20, seed=2, flops=band), band)


def test_band_360_400mf_and_other_bands():
    space = get_space("anynetx_a")
    samples = space.sample(100, seed=0, flops=(360e6, 400e6), params=(None, 5e6), acts=(1e6, None))
    _check_constraints(space, samples, (360e6, 400e6))
    assert all(s.params <= 5e6 and s.acts >= 1e6 for s in samples)


def test_small_input_frame():
    space = get_space("regnetx", resolution=28, in_channels=1, num_classes=10, stem="cifar")
    samples = space.sample(10, seed=0, flops=(None, 100e6))
    _check_constraints(space, samples, (None, 100e6))
    assert all(s.spec.stem == "cifar" for s in samples)


def test_exempt_last_depth_option():
    space = get_space("anynetx_e", exempt_last_depth=True)
    samples = space.sample(300, seed=0)
    _check_constraints(space, samples)
    assert any(s.spec.depths[3] < s.spec.depths[2] for s in samples)
    assert all(s.spec.depths == sorted(s.spec.depths) for s in get_space("anynetx_e").sample(100, seed=0))


def test_seed_reproducibility_and_prefix():
    space = get_space("regnetx")
    a = [s.to_dict() for s in space.sample(30, seed=4, flops=(300e6, 500e6))]
    b = [s.to_dict() for s in get_space("regnetx").sample(30, seed=4, flops=(300e6, 500e6))]
    assert a == b
    c = [s.to_dict() for s in space.sample(30, seed=5, flops=(300e6, 500e6))]
    assert a != c
    assert [s.to_dict() for s in space.sample(10, seed=4, flops=(300e6, 500e6))] == a[:10]


def test_same_samples_in_another_process():
    code = ("import json; from designspace.spaces import get_space; "
            "print(json.dumps([s.to_dict() for s in get_space('anynetx_c').sample(5, seed=9, flops=(1e8, 4e8))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    here = [s.to_dict() for s in get_space("anynetx_c").sample(5, seed=9, flops=(1e8, 4e8))]
    assert json.loads(out) == here


def tiny_space(**kw):
    dists = {"depth": Fixed(1), "width": Choice([8, 16]), "bottleneck_ratio": Fixed(1.0), "group_width": Fixed(8)}
    return AnyNetSpace("tiny", distributions=dists, **kw)


def test_duplicates_dropped_and_budget_error():
    space = tiny_space()
    assert space.log10_size() == pytest.approx(4 * math.log10(2))
    samples = space.sample(16, seed=0, max_draws=10 ** 5)
    assert len({s.spec.to_json() for s in samples}) == 16
    with pytest.raises(DesignspaceError, match=r"^found 16 of 17 in 10\^5 draws; widen the band"):
        space.sample(17, seed=0, max_draws=10 ** 5)


def test_unreachable_band_error():
    with pytest.raises(DesignspaceError, match=r"found 0 of 5 in 10\^5 draws; widen the band .*anynetx_a, flops 1k:2k"):
        get_space("anynetx_a").sample(5, flops=(1e3, 2e3), max_draws=10 ** 5)


def test_draw_count_format():
    from designspace.spaces.base import format_draws

    assert [format_draws(x) for x in (10**6, 2 * 10**6, 31744, 500)] == ["10^6", "2x10^6", "31,744", "500"]


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=-3), dict(n=2.5), dict(n=5, flops=(4e8, 3e8)),
                                    dict(n=5, max_draws=0), dict(n=5, params="x:y")])
def test_bad_sample_arguments(kwargs):
    with pytest.raises(DesignspaceError):
        get_space("anynetx_a").sample(**kwargs)


def test_unknown_space_suggests():
    with pytest.raises(DesignspaceError, match="did you mean anynetx_a"):
        get_space("anynetx_aa")


def test_register_space(monkeypatch):
    import designspace.spaces as spaces_package

    monkeypatch.setattr(spaces_package, "_REGISTRY", dict(spaces_package._REGISTRY))  # undone after the test
    register_space("tiny_test_space", lambda **frame: AnyNetSpace(
        "tiny_test_space", distributions={"depth": Fixed(1), "width": Choice([8, 16])}, **frame))
    assert "tiny_test_space" in list_spaces()
    assert len(get_space("tiny_test_space", resolution=32, stem="cifar").sample(3, seed=0)) == 3


def test_zoo_model_through_the_regnet_space():
    fixed = {"depth": Fixed(22), "w0": Fixed(24), "wa": Fixed(24.48), "wm": Fixed(2.54),
             "bottleneck_ratio": Fixed(1.0), "group_width": Fixed(16)}
    s = RegNetSpace("x400", distributions=fixed).sample(1, seed=0)[0]
    assert s.spec == get_spec("RegNetX-400MF").with_(name=None)
    assert (s.flops, s.params, s.acts) == (397_678_568, 5_157_512, 3_143_272)
    assert s.spec.widths == [32, 64, 160, 384]


def test_sample_round_trip_and_spec_file(tmp_path):
    s = get_space("regnety").sample(1, seed=0, flops=(360e6, 400e6))[0]
    d = s.to_dict()
    assert set(d) == {"space", "index", "spec", "values", "flops", "params", "acts"}
    assert d["values"]["se_ratio"] == 0.25
    assert Sample.from_dict(json.loads(json.dumps(d))) == s
    path = tmp_path / "line.json"
    path.write_text(json.dumps(d))
    assert load_spec_file(path) == s.spec


# ---- vectorized == scalar ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list_spaces())
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), frame=st.sampled_from([(224, "simple", 3, 1000), (32, "cifar", 3, 10),
                                                          (28, "cifar", 1, 10), (64, "resnet", 3, 100)]))
def test_vectorized_count_equals_scalar(name, seed, frame):
    res, stem, channels, classes = frame
    space = get_space(name, resolution=res, stem=stem, in_channels=channels, num_classes=classes)
    batch = space.draw(np.random.default_rng(seed), 256)
    flops, params, acts = space.count(batch)
    for i in range(min(len(batch), 40)):
        spec = space.spec_at(batch, i)
        assert complexity(spec, res) == {"flops": flops[i], "params": params[i], "acts": acts[i]}


@pytest.mark.parametrize("name", ["anynetx_a", "anynetx_e_ib", "regnety", "anynet_r"])
def test_capped_count_equals_full_count_where_alive(name):
    """The sampler's early exit drops only candidates past a cap; the others keep their exact counts."""
    space = get_space(name)
    batch = space.draw(np.random.default_rng(0), 2048)
    flops, params, acts = space.count(batch)
    caps = (float(np.median(flops)), None, float(np.median(acts)))
    f, p, a, alive = space.count_within(batch, caps=caps)
    assert alive.any() and not alive.all()
    assert (f[alive] == flops[alive]).all() and (p[alive] == params[alive]).all() and (a[alive] == acts[alive]).all()
    assert (f[~alive] == 0).all() and (p[~alive] == 0).all() and (a[~alive] == 0).all()
    assert alive[(flops <= caps[0]) & (acts <= caps[2])].all()


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.integers(1, 300).map(lambda x: 8 * x), min_size=1, max_size=6),
       b=st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]), data=st.data())
def test_vectorized_group_adjustment_equals_scalar(widths, b, data):
    groups = data.draw(st.lists(st.sampled_from([1, 2, 4, 8, 16, 24, 32, 48, 64, 128]), min_size=len(widths),
                                max_size=len(widths)))
    w, g = adjust_widths_groups_batch(np.array(widths), np.full(len(widths), b), np.array(groups))
    assert (w.tolist(), g.tolist()) == adjust_widths_groups(widths, [b] * len(widths), groups)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 63), w0=st.integers(1, 32).map(lambda x: 8 * x),
       wa=st.integers(80, 2560).map(lambda x: x / 10), wm=st.integers(1500, 3000).map(lambda x: x / 1000))
def test_vectorized_quantized_linear_equals_scalar(depth, w0, wa, wm):
    w, k, valid = quantized_linear_batch(np.array([depth, 3]), np.array([w0, 8]), np.array([wa, 10.0]),
                                         np.array([wm, 2.0]))
    ref = quantized_linear(depth, w0, wa, wm)
    assert w[0][valid[0]].tolist() == ref.block_widths
    assert k[0][valid[0]].tolist() == ref.exponents
