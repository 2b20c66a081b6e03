"""The CUDA-graph step's ops (batch picking by device counters, lr from a device table), run eagerly on CPU,
train exactly like the eager loop; the capture itself needs CUDA and is exercised by benchmarks/bench_train.py."""
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
