"""create_model / list_models and the `designspace export` command (no foreign library needed)."""
import sys

import pytest
import torch

from designspace import DesignspaceError, UnknownNameError, build_model, get_spec
from designspace.checkpoint import load_model, read_checkpoint, save_model
from designspace.cli import main
from designspace.errors import CheckpointMismatchError
from designspace.registry import create_model, list_models
from designspace.zoo import MODELS


def test_list_models():
    assert list_models() == list(MODELS) and len(list_models()) == 33
    assert list_models("regnety_*") == [n for n in MODELS if n.startswith("RegNetY-")]
    assert list_models("RegNetX-*GF") == ["RegNetX-1.6GF", "RegNetX-3.2GF", "RegNetX-4.0GF", "RegNetX-6.4GF",
                                          "RegNetX-8.0GF", "RegNetX-12GF", "RegNetX-16GF", "RegNetX-32GF"]
    assert list_models("resnext*") == ["ResNeXt-50-32x4d", "ResNeXt-101-32x4d", "ResNeXt-152-32x4d"]
    assert list_models("nothing*") == []


@pytest.mark.parametrize("spelling", ["RegNetY-400MF", "regnety_400mf", "regnet_y_400mf", "REGNETY-400MF"])
def test_names_in_the_users_spelling(spelling):
    assert create_model(spelling).spec == get_spec("RegNetY-400MF")


def test_classes_overrides_and_rounding():
    model = create_model("regnetx_200mf", num_classes=10, in_channels=1).eval()
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert model.spec.num_classes == 10 and model.spec.in_channels == 1
    assert create_model("RegNetX-400MF").spec.widths == [32, 64, 160, 384]
    assert create_model("RegNetX-400MF", rounding="torchvision").spec.widths == [32, 64, 160, 400]
    spec = get_spec("ResNet-50", num_classes=5)
    assert create_model(spec).spec == spec


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="RegNetZ-400MF"), "unknown model 'RegNetZ-400MF'; did you mean"),
    (dict(name="RegNetX-400MF", rounding="numpy"), "rounding must be one of"),
    (dict(name="RegNetX-400MF", pretrained_format="keras"), "pretrained_format must be one of"),
    (dict(name="RegNetX-400MF", bgr_to_rgb=True), "need a checkpoint"),
    (dict(name="RegNetX-400MF", checkpoint=3), "checkpoint must be a file path or a state dict"),
    (dict(name=get_spec("RegNetX-400MF"), rounding="pycls"), "rounding applies to zoo names only"),
])
def test_user_mistakes(kwargs, message):
    with pytest.raises(DesignspaceError, match=message):
        create_model(**kwargs)
    assert issubclass(UnknownNameError, DesignspaceError)


def test_rounding_is_picked_from_the_checkpoint(tmp_path):
    """A checkpoint with torchvision's widths loads without naming the rounding, in either container."""
    source = build_model(get_spec("RegNetY-800MF", rounding="torchvision"))
    for checkpoint in (source.state_dict(), _saved(source, tmp_path / "y800.pt")):
        model = create_model("regnety_800mf", checkpoint=checkpoint)
        assert model.spec == source.spec
        for a, b in zip(model.state_dict().values(), source.state_dict().values()):
            assert torch.equal(a, b)
    with pytest.raises(DesignspaceError, match=r"nothing loaded: shape of 'stage"):
        create_model("regnety_800mf", checkpoint=source.state_dict(), rounding="pycls")


def test_classifier_mismatch_is_decided_on_keys_not_text():
    """A checkpoint whose classifier does not fit: typed error with the keys, a hint, and the way out."""
    source = build_model(get_spec("RegNetX-200MF"))
    with pytest.raises(CheckpointMismatchError, match=r"shape of 'head\.fc\.weight'.*\(reset_classifier=True") as caught:
        create_model("RegNetX-200MF", num_classes=10, checkpoint=source.state_dict())
    assert caught.value.keys == ("head.fc.weight", "head.fc.bias") and caught.value.involves("head.fc.")
    assert caught.value.unexpected == ()
    model = create_model("RegNetX-200MF", num_classes=10, checkpoint=source.state_dict(), reset_classifier=True)
    assert model.head.fc.out_features == 10 and torch.equal(model.stem.conv.weight, source.stem.conv.weight)
    # Elsewhere a mismatch gets no classifier hint: here the SE layers of a Y model are missing.
    with pytest.raises(CheckpointMismatchError) as caught:
        create_model("RegNetY-200MF", checkpoint=source.state_dict())
    assert "reset_classifier" not in str(caught.value) and not caught.value.involves("head.fc.")
    assert all(".se." in k for k in caught.value.keys) and len(caught.value.keys) == 2 * 2 * 13


def _saved(model, path):
    save_model(model, path)
    return path


def test_export_state_dict(tmp_path, capsys):
    out = tmp_path / "y200.pt"
    assert main(["export", "RegNetY-200MF", "--classes", "10", "--state-dict", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    model = load_model(out)
    assert model.spec == get_spec("RegNetY-200MF", num_classes=10)
    # Re-export from our own checkpoint keeps its weights.
    again = tmp_path / "again.pt"
    assert main(["export", str(out), "--state-dict", str(again)]) == 0
    for a, b in zip(read_checkpoint(out)[1].values(), read_checkpoint(again)[1].values()):
        assert torch.equal(a, b)


def test_export_spec_file(tmp_path):
    spec = get_spec("CIFAR-ResNet-20")
    (tmp_path / "spec.json").write_text(spec.to_json())
    assert main(["export", str(tmp_path / "spec.json"), "--state-dict", str(tmp_path / "r20.pt")]) == 0
    assert load_model(tmp_path / "r20.pt").spec == spec


def test_export_errors_exit_2_and_damage_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "keep.pt"
    out.write_bytes(b"old")
    cases = [
        (["export", "RegNetY-200MF"], "nothing to write"),
        (["export", "RegNetQ-1GF", "--state-dict", str(out)], "unknown model"),
        (["export", "RegNetY-200MF", "--checkpoint", str(tmp_path / "absent.pth"), "--state-dict", str(out)],
         "no such checkpoint"),
        (["export", "RegNetY-200MF", "--res", "0", "--state-dict", str(out)], "--res must be >= 1"),
    ]
    torch.save(build_model(get_spec("RegNetX-200MF")).state_dict(), tmp_path / "x200.pth")
    cases.append((["export", "RegNetY-200MF", "--checkpoint", str(tmp_path / "x200.pth"), "--state-dict", str(out)],
                  "does not fit RegNetY-200MF"))
    monkeypatch.setitem(sys.modules, "onnx", None)  # as where onnx is not installed
    cases.append((["export", "RegNetY-200MF", "--onnx", str(tmp_path / "m.onnx"), "--state-dict", str(out)],
                  "needs the 'onnx' package"))
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert out.read_bytes() == b"old"
    assert not (tmp_path / "m.onnx").exists()


def test_safetensors_needs_its_package(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(DesignspaceError, match="needs the safetensors package"):
        create_model("RegNetX-200MF", checkpoint=path)
    with pytest.raises(DesignspaceError, match="no such checkpoint"):
        create_model("RegNetX-200MF", checkpoint=tmp_path / "absent.safetensors")
