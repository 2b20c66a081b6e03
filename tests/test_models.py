"""The builder: forward/backward for every block and stem type, init, stable names."""
import pytest
import torch

from designspace import NetSpec, StageSpec, build_model, get_spec


@pytest.mark.parametrize("stem", ["simple", "resnet", "cifar"])
@pytest.mark.parametrize("block", ["X", "Y", "R", "V"])
def test_forward_backward_every_block_and_stem(stem, block):
    torch.manual_seed(0)
    stages = (StageSpec(depth=2, width=16, stride=1, group_width=4, block=block, bottleneck_ratio=1.0 if block in "RV" else 2.0),
              StageSpec(depth=1, width=32, stride=2, group_width=8, block=block))
    spec = NetSpec(stages=stages, stem=stem, stem_width=8, in_channels=1, num_classes=7, head_width=12 if block == "V" else 0)
    model = build_model(spec)
    x = torch.randn(3, 1, 20, 20)
    y = model(x)
    assert y.shape == (3, 7)
    y.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_stable_module_names():
    names = set(build_model(get_spec("RegNetY-200MF")).state_dict())
    for key in ["stem.conv.weight", "stem.bn.running_mean", "stage1.block1.conv_a.weight", "stage1.block1.bn_b.weight",
                "stage1.block1.se.reduce.bias", "stage1.block1.se.expand.weight", "stage1.block1.conv_c.weight",
                "stage1.block1.shortcut.conv.weight", "stage1.block1.shortcut.bn.weight", "stage4.block7.bn_c.bias",
                "head.fc.weight", "head.fc.bias"]:
        assert key in names, key
    assert "stage4.block2.shortcut.conv.weight" not in names  # identity shortcut inside a stage


def test_init_rules():
    torch.manual_seed(0)
    model = build_model(get_spec("RegNetX-200MF"), zero_init_last_bn=True)
    w = model.stage4.block3.conv_b.weight
    fan_out = 9 * w.shape[0]
    assert abs(w.std().item() - (2.0 / fan_out) ** 0.5) < 0.1 * (2.0 / fan_out) ** 0.5
    assert model.stage4.block3.bn_c.weight.abs().sum() == 0  # zero-init last BN
    assert (model.stage4.block3.bn_a.weight == 1).all()
    assert abs(model.head.fc.weight.std().item() - 0.01) < 0.001 and (model.head.fc.bias == 0).all()


def test_model_is_a_pure_function_of_the_spec():
    spec = get_spec("RegNetX-200MF", num_classes=10)
    torch.manual_seed(1)
    a = build_model(spec)
    torch.manual_seed(1)
    b = build_model(spec)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.spec == spec


def _head_spec(head_width):
    stages = (StageSpec(depth=1, width=16, stride=1, group_width=4), StageSpec(depth=2, width=32, group_width=8))
    return NetSpec(stages=stages, stem="cifar", stem_width=8, num_classes=7, head_width=head_width)


@pytest.mark.parametrize("head_width", [0, 24])
def test_forward_is_forward_head_of_forward_features(head_width):
    torch.manual_seed(0)
    spec = _head_spec(head_width)
    model = build_model(spec).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 32, 8, 8)
        assert torch.equal(model(x), model.forward_head(features))
        pooled = model.forward_head(features, pre_logits=True)
        assert pooled.shape == (2, head_width or spec.widths[-1]) and model.num_features == pooled.shape[1]
        assert torch.allclose(model.get_classifier()(pooled), model(x))
    assert model.get_classifier() is model.head.fc and model.head.fc.out_features == 7


def test_reset_classifier():
    from designspace import SpecError
    from designspace.complexity import complexity

    torch.manual_seed(0)
    model = build_model(get_spec("RegNetX-200MF"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    stem_before = model.stem.conv.weight.clone()
    model.reset_classifier(5)
    assert model.spec == get_spec("RegNetX-200MF", num_classes=5)
    assert model(x).shape == (2, 5) and model.get_classifier().out_features == 5
    assert complexity(model.spec)["params"] == sum(p.numel() for p in model.parameters())
    fc = model.get_classifier()
    assert abs(fc.weight.std().item() - 0.01) < 0.002 and (fc.bias == 0).all()  # as init_weights
    assert torch.equal(model.stem.conv.weight, stem_before)  # only the classifier is new
    assert set(model.state_dict()) == set(build_model(model.spec).state_dict())  # the checkpoint format holds

    model.reset_classifier(0)  # no classifier: the pooled features come out
    assert model.spec.num_classes == 0 and isinstance(model.get_classifier(), torch.nn.Identity)
    with torch.no_grad():
        assert torch.equal(model(x), pooled)
    assert complexity(model.spec)["params"] == sum(p.numel() for p in model.parameters())
    assert set(model.state_dict()) == set(build_model(model.spec).state_dict())
    with pytest.raises(SpecError, match="num_classes must be >= 0"):
        model.reset_classifier(-1)
    assert model.spec.num_classes == 0

    model.double().reset_classifier(3)  # the new layer lives where the model does
    assert model.get_classifier().weight.dtype == torch.float64 and model(x.double()).shape == (2, 3)
