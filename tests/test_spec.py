"""NetSpec validation and the exact JSON round trip."""
import json

import numpy as np
import pytest

from designspace import NetSpec, SpecError, StageSpec, get_spec, load_spec_file
from designspace.errors import DesignspaceError, UnknownNameError
from designspace.zoo import MODELS, list_models, resolve_name


@pytest.mark.parametrize("name", list(MODELS))
def test_json_round_trip_is_exact(name):
    spec = get_spec(name)
    again = NetSpec.from_json(spec.to_json())
    assert again == spec and again.to_dict() == spec.to_dict()


def test_round_trip_keeps_float_fields_exact():
    spec = NetSpec(stages=(StageSpec(depth=2, width=96, bottleneck_ratio=0.25, group_width=8, block="Y", se_ratio=0.125),),
                   stem="cifar", stem_width=16, in_channels=1, num_classes=10, name="tiny")
    assert NetSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("stage, field", [
    (dict(depth=0, width=32), "depth"),
    (dict(depth=1, width=0), "width"),
    (dict(depth=1, width=48, group_width=32), "group_width"),
    (dict(depth=1, width=32, block="Z"), "block"),
    (dict(depth=1, width=32, bottleneck_ratio=-1.0), "bottleneck_ratio"),
    (dict(depth=1, width=32, block="X", se_ratio=0.25), "se_ratio"),
    (dict(depth=1.5, width=32), "depth"),
])
def test_invalid_stage_names_field(stage, field):
    with pytest.raises(SpecError, match=field):
        NetSpec(stages=(StageSpec(**stage),))


def test_invalid_stem_and_unknown_fields():
    with pytest.raises(SpecError, match="stem"):
        NetSpec(stages=(StageSpec(depth=1, width=32),), stem="fancy")
    with pytest.raises(SpecError, match="colour"):
        NetSpec.from_dict({"stages": [{"depth": 1, "width": 32}], "colour": "red"})
    with pytest.raises(SpecError, match="stages"):
        NetSpec.from_dict({"stem": "simple"})
    with pytest.raises(SpecError, match="JSON"):
        NetSpec.from_json("{not json")


def test_spec_errors_are_value_errors():
    assert issubclass(SpecError, ValueError) and issubclass(UnknownNameError, DesignspaceError)


def test_names_in_the_users_spelling():
    assert resolve_name("regnetx_400mf") == "RegNetX-400MF"
    assert resolve_name("RegNetY-1.6GF") == resolve_name("regnety_1.6gf") == "RegNetY-1.6GF"
    assert resolve_name("regnet_y_16gf") == "RegNetY-16GF"
    assert resolve_name("resnext50_32x4d") == "ResNeXt-50-32x4d"
    assert resolve_name("resnet50") == "ResNet-50"
    assert len(list_models("RegNetX-*")) == 12
    with pytest.raises(UnknownNameError, match="RegNetX-400MF"):
        resolve_name("regnetx_40mf")


def test_zoo_contents():
    assert len([n for n in MODELS if n.startswith("RegNet")]) == 24
    r20 = get_spec("CIFAR-ResNet-20")
    assert (r20.stem, r20.stem_width, r20.widths, r20.depths, r20.num_classes) == ("cifar", 16, [16, 32, 64], [3, 3, 3], 10)
    rx = get_spec("ResNeXt-50-32x4d")
    assert [s.groups for s in rx.stages] == [32] * 4 and rx.group_widths == [4, 8, 16, 32]
    assert [s.groups for s in get_spec("ResNet-101").stages] == [1] * 4


def test_load_spec_file_json_yaml_and_regnet(tmp_path):
    spec = get_spec("RegNetX-200MF")
    (tmp_path / "a.json").write_text(spec.to_json())
    import yaml

    (tmp_path / "b.yaml").write_text(yaml.safe_dump(spec.to_dict()))
    (tmp_path / "c.yaml").write_text("regnet: {depth: 13, w0: 24, wa: 36.44, wm: 2.49, group_width: 8}\nname: RegNetX-200MF\n")
    assert load_spec_file(tmp_path / "a.json") == spec
    assert load_spec_file(tmp_path / "b.yaml") == spec
    assert load_spec_file(tmp_path / "c.yaml") == spec
    (tmp_path / "bad.yaml").write_text("stages: [depth: 1, width: }\n")
    with pytest.raises(SpecError, match="bad.yaml"):
        load_spec_file(tmp_path / "bad.yaml")
    with pytest.raises(DesignspaceError, match="missing.json"):
        load_spec_file(tmp_path / "missing.json")
    (tmp_path / "w0.yaml").write_text("regnet: {depth: 13, w0: 20, wa: 36.44, wm: 2.49, group_width: 8}\n")
    with pytest.raises(SpecError, match="w0"):
        load_spec_file(tmp_path / "w0.yaml")


def test_bottleneck_width_is_one_rule_for_scalars_and_arrays():
    from designspace.spec import bottleneck_width

    assert bottleneck_width(20, 8.0) == 2 and type(bottleneck_width(20, 8.0)) is int  # 2.5: half to even
    assert bottleneck_width(28, 8.0) == 4 and bottleneck_width(24, 0.25) == 96
    widths = np.arange(1, 200) * 8
    for b in (0.25, 0.5, 1.0, 2.0, 4.0, 3.0):
        batch = bottleneck_width(widths, b)
        assert batch.dtype == np.int64 and batch.tolist() == [bottleneck_width(int(w), b) for w in widths]
    assert StageSpec(depth=1, width=24, bottleneck_ratio=4.0, group_width=6).groups == 1


def test_no_classifier_spec():
    spec = get_spec("RegNetX-200MF", num_classes=0)
    assert NetSpec.from_json(spec.to_json()) == spec
    with pytest.raises(SpecError, match="num_classes must be >= 0"):
        get_spec("RegNetX-200MF", num_classes=-1)
