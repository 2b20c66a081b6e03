"""ONNX export: the graph run by onnxruntime gives PyTorch's outputs within 1e-4."""
import pytest
import torch
from interop_helpers import randomize

from designspace import build_model, get_spec
from designspace.cli import main
from designspace.commands.export import onnx_bytes, verify_onnx
from designspace.registry import create_model

pytestmark = pytest.mark.interop
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name, res, classes", [("RegNetY-400MF", 64, None), ("RegNetX-200MF", 96, 10),
                                                ("CIFAR-ResNet-20", 32, None)])
def test_onnxruntime_matches_pytorch(name, res, classes):
    model = randomize(build_model(get_spec(name, num_classes=classes)))
    data = onnx_bytes(model, res)
    onnx.checker.check_model(onnx.load_from_string(data))
    x = torch.randn(3, 3, res, res, generator=torch.Generator().manual_seed(1))  # batch 3: the batch axis is dynamic
    with torch.no_grad():
        expected = model(x).numpy()
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert got.shape == expected.shape == (3, model.spec.num_classes)
    assert abs(expected).max() > 1e-2
    assert abs(got - expected).max() <= 1e-4
    diff, runtime = verify_onnx(model, data, res)
    assert runtime == "onnxruntime" and diff <= 1e-4


def test_cli_exports_torchvision_checkpoint_to_onnx_and_ours(tmp_path, capsys):
    torchvision = pytest.importorskip("torchvision")
    foreign = randomize(torchvision.models.regnet_x_400mf(weights=None))
    torch.save(foreign.state_dict(), tmp_path / "tv.pth")
    onnx_path, ours_path = tmp_path / "x400.onnx", tmp_path / "x400.pt"
    rc = main(["export", "regnet_x_400mf", "--checkpoint", str(tmp_path / "tv.pth"), "--onnx", str(onnx_path),
               "--state-dict", str(ours_path), "--res", "64", "--verify"])
    assert rc == 0
    assert "onnxruntime: max abs difference" in capsys.readouterr().out
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = foreign(x).numpy()
    got = ort.InferenceSession(onnx_path.read_bytes(), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert abs(got - expected).max() <= 1e-4
    # Our checkpoint kept torchvision's widths: it reloads without naming a rounding.
    reloaded = create_model("RegNetX-400MF", checkpoint=ours_path).eval()
    assert reloaded.spec == get_spec("RegNetX-400MF", rounding="torchvision")
    with torch.no_grad():
        assert float((reloaded(x) - foreign(x)).abs().max()) <= 1e-5
