"""The CUDA-graph step's ops (batch picking by device counters, lr from a device table), run eagerly on CPU,
train exactly like the eager loop, and capture() undoes its warm-up; real capture is in tests/test_gpu.py."""
import torch

from designspace import NetSpec, StageSpec, build_model
from designspace.data import DataConfig, DeviceLoader, load_dataset
from designspace.train import SGD, Recipe, parameter_groups
from designspace.train.cudagraph import GraphedTrainStep

SPEC = NetSpec(stages=(StageSpec(depth=1, width=8, group_width=4),), stem="cifar", stem_width=8, num_classes=10)


def test_graph_step_ops_match_the_eager_loop():
    data = load_dataset(DataConfig("synthetic", synthetic_train=96, synthetic_test=8, resolution=8))
    recipe = Recipe(epochs=2, batch_size=32, lr=0.4, nesterov=True)
    models, losses = [], []
    for graphed in (False, True):
        torch.manual_seed(0)
        model = build_model(SPEC)
        loader = DeviceLoader(data, 32, "cpu", augment=False, seed=1)
        optimizer = SGD(parameter_groups(model, 1e-4, True), 0.9, nesterov=True)
        lr_table = recipe.lr_table(len(loader))
        criterion = torch.nn.CrossEntropyLoss()
        total = 0.0
        if graphed:
            step = GraphedTrainStep(model, optimizer, loader, lr_table, criterion, amp=False)
            for epoch in range(2):
                step.start_epoch(loader.order(epoch), epoch * len(loader))
                for _ in range(len(loader)):
                    step.replay()
                total += step.epoch_totals()[0]
        else:
            index = 0
            for epoch in range(2):
                for x, y in loader.epoch(epoch):
                    loss = criterion(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step(lr_table[index])
                    index += 1
                    total += float(loss.detach())
        models.append(model)
        losses.append(total)
    assert abs(losses[0] - losses[1]) < 1e-4
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


class _FakeStream:
    def __init__(self, *args, **kwargs):
        pass

    def wait_stream(self, other):
        pass


class _FakeGraph:
    """Stands in for torch.cuda.CUDAGraph on CPU: "capturing" runs the step eagerly, replay runs it again."""
    step = None

    def replay(self):
        self.step.optimizer.zero_grad()
        self.step._step()


def _train_graphed(monkeypatch, data, recipe, fake_capture: bool, ema_decay=0.0, augment=False):
    import contextlib

    from designspace.train.ema import ModelEMA

    if fake_capture:
        for name, value in {"Stream": _FakeStream, "current_stream": lambda *a: _FakeStream(),
                            "stream": lambda *a: contextlib.nullcontext(), "device": lambda *a: contextlib.nullcontext(),
                            "graph": lambda *a, **k: contextlib.nullcontext(), "CUDAGraph": _FakeGraph,
                            "synchronize": lambda *a: None}.items():
            monkeypatch.setattr(torch.cuda, name, value)
    torch.manual_seed(0)
    model = build_model(SPEC)
    loader = DeviceLoader(data, 32, "cpu", augment=augment, seed=1)
    optimizer = SGD(parameter_groups(model, 1e-4, True), 0.9, nesterov=True)
    ema = ModelEMA(model, ema_decay) if ema_decay else None
    step = GraphedTrainStep(model, optimizer, loader, recipe.lr_table(len(loader)), torch.nn.CrossEntropyLoss(),
                            amp=False, ema=ema)
    if fake_capture:
        step.capture()  # 3 warm-up steps and one "captured" step ran: capture must undo all of them
        step.graph.step = step
    torch.manual_seed(5)  # the same augmentation draws for both runs from here on
    totals = []
    for epoch in range(2):
        step.start_epoch(loader.order(epoch), epoch * len(loader))
        for _ in range(len(loader)):
            step.replay()
        totals.append(step.epoch_totals())
    monkeypatch.undo()
    return model, ema, totals


def test_capture_leaves_no_trace_of_its_warm_up_steps(monkeypatch):
    """Warm-up and capture run real steps (weights, momentum, BN statistics, EMA, counters change);
    capture() must restore every one of them, or the captured run would start from a different state."""
    data = load_dataset(DataConfig("synthetic", synthetic_train=96, synthetic_test=8, resolution=8))
    recipe = Recipe(epochs=2, batch_size=32, lr=0.4, nesterov=True)
    plain = _train_graphed(monkeypatch, data, recipe, False, ema_decay=0.5, augment=True)
    captured = _train_graphed(monkeypatch, data, recipe, True, ema_decay=0.5, augment=True)
    assert plain[2] == captured[2]  # per-epoch (loss sum, correct)
    for a, b in zip(plain[0].state_dict().values(), captured[0].state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(plain[1].state_dict().values(), captured[1].state_dict().values()):
        assert torch.equal(a, b)
