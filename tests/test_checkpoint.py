"""Our checkpoint format (spec embedded), atomic saves, and refusal of pickled code."""
import os
import pickle

import pytest
import torch

from designspace import DesignspaceError, NetSpec, StageSpec, build_model, get_spec
from designspace.checkpoint import load_model, read_checkpoint, save_model
from designspace.cli import main
from designspace.registry import create_model


class Evil:
    """Unpickling this calls os.mkdir(marker): code a checkpoint must never run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def custom_spec():
    return NetSpec(stages=(StageSpec(depth=2, width=16, stride=1, block="R"),
                           StageSpec(depth=1, width=48, bottleneck_ratio=2.0, group_width=8, block="Y")),
                   stem="cifar", stem_width=8, in_channels=1, head_width=32, num_classes=10, name="tiny")


def trained_like(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(0.5 + torch.rand(t.shape, generator=gen) if "running_var" in name
                        else 0.3 * torch.randn(t.shape, generator=gen))
    return model.eval()


@pytest.mark.parametrize("spec", [custom_spec(), get_spec("RegNetX-400MF", rounding="torchvision")])
def test_round_trip_needs_no_spec(spec, tmp_path):
    model = trained_like(build_model(spec))
    save_model(model, tmp_path / "m.pt", meta={"epoch": 3})
    loaded = load_model(tmp_path / "m.pt").eval()
    assert loaded.spec == spec
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(2, spec.in_channels, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert read_checkpoint(tmp_path / "m.pt")[2] == {"epoch": 3}
    # A plain file: tensors, strings and numbers only.
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert raw["format"] == "designspace" and NetSpec.from_json(raw["spec"]) == spec


def test_save_is_atomic(tmp_path):
    path = tmp_path / "m.pt"
    save_model(build_model(custom_spec()), path)
    before = path.read_bytes()
    with pytest.raises(DesignspaceError, match="needs a designspace model"):
        save_model(torch.nn.Linear(2, 2), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]  # no temporary files left


def test_malicious_checkpoint_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    evil_zip = tmp_path / "evil.pt"
    torch.save({"format": "designspace", "version": 1, "spec": "{}", "state_dict": {"x": Evil(marker)}}, evil_zip)
    evil_pickle = tmp_path / "evil.pkl"
    evil_pickle.write_bytes(pickle.dumps({"state_dict": Evil(marker)}, protocol=2))
    for path in (evil_zip, evil_pickle):
        with pytest.raises(DesignspaceError, match="refused to load"):
            load_model(path)
        with pytest.raises(DesignspaceError, match="refused to load"):
            create_model("RegNetX-200MF", checkpoint=path)
        assert main(["export", "RegNetX-200MF", "--checkpoint", str(path), "--state-dict", str(tmp_path / "o.pt")]) == 2
        assert not marker.exists()
        assert not (tmp_path / "o.pt").exists()
    # The file really is malicious: an unsafe load runs its code.
    torch.load(evil_zip, weights_only=False)
    assert marker.is_dir()


def test_bad_files_get_one_clear_error(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save(build_model(custom_spec()).state_dict(), foreign)
    with pytest.raises(DesignspaceError, match="not a designspace checkpoint"):
        load_model(foreign)
    truncated = tmp_path / "trunc.pt"
    save_model(build_model(custom_spec()), truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(DesignspaceError, match="trunc.pt"):
        load_model(truncated)
    with pytest.raises(DesignspaceError, match="no such checkpoint"):
        load_model(tmp_path / "absent.pt")

    good = build_model(custom_spec())
    bundle = torch.load(_saved(good, tmp_path / "ok.pt"), weights_only=True)
    for change, message in [({"spec": '{"stages": []}'}, "embedded spec is invalid"),
                            ({"spec": "not json"}, "embedded spec is invalid"),
                            ({"version": 99}, "version 99 is newer"),
                            ({"state_dict": {**bundle["state_dict"], "head.fc.bias": torch.zeros(3)}},
                             r"shape of 'head\.fc\.bias' is \(3,\), tiny needs \(10,\)")]:
        torch.save({**bundle, **change}, tmp_path / "bad.pt")
        with pytest.raises(DesignspaceError, match=message):
            load_model(tmp_path / "bad.pt")


def _saved(model, path):
    save_model(model, path)
    return path


def test_training_checkpoints_load_and_export(tmp_path):
    """The training loop's checkpoints embed the spec too: load_model and export read them."""
    import json

    from designspace.train.checkpoint import save_checkpoint

    spec = custom_spec()
    model = trained_like(build_model(spec))

    class MomentumBuffers:  # the loop's optimizer state: named lists of tensors (irrelevant here)
        def state_dict(self):
            return {"momentum": [torch.zeros_like(p) for p in model.parameters()]}

    optimizer = MomentumBuffers()
    fingerprint = json.dumps({"spec": spec.to_dict(), "recipe": {}, "data": {}, "seed": 0, "world_size": 1})
    save_checkpoint(tmp_path / "checkpoint.pt", fingerprint=fingerprint, epoch=4, step=40, model=model,
                    optimizer=optimizer)
    loaded = load_model(tmp_path / "checkpoint.pt")
    assert loaded.spec == spec
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert main(["export", str(tmp_path / "checkpoint.pt"), "--state-dict", str(tmp_path / "final.pt")]) == 0
    assert read_checkpoint(tmp_path / "final.pt")[0] == spec
