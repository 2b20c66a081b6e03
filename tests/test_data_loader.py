"""The device-resident fast path and the DataLoader path: same order, static shapes, correct augmentation."""
import pytest
import torch
import torch.nn.functional as F

from designspace import DesignspaceError
from designspace.data import DataConfig, DeviceLoader, TorchLoader, load_dataset, random_crop_flip
from designspace.data.loader import epoch_order


@pytest.fixture(scope="module")
def data():
    return load_dataset(DataConfig("synthetic", synthetic_train=300, synthetic_test=70, resolution=8))


def test_fast_path_and_dataloader_give_the_same_batches_without_augmentation(data):
    for train in (True, False):
        fast = DeviceLoader(data, 32, "cpu", train=train, augment=False, seed=5)
        slow = TorchLoader(data, 32, "cpu", train=train, augment=False, seed=5, workers=0)
        assert len(fast) == len(slow)
        for epoch in (0, 3):
            pairs = list(zip(fast.epoch(epoch), slow.epoch(epoch)))
            assert len(pairs) == len(fast)
            for (xf, yf), (xs, ys) in pairs:
                assert torch.equal(xf, xs) and torch.equal(yf, ys)


def test_training_batches_have_static_shapes_and_eval_covers_everything(data):
    loader = DeviceLoader(data, 32, "cpu", train=True, seed=0)
    shapes = {tuple(x.shape) for x, _ in loader.epoch(0)}
    assert len(loader) == 300 // 32 and shapes == {(32, 3, 8, 8)}  # the ragged tail is dropped
    test = DeviceLoader(data, 32, "cpu", train=False)
    labels = torch.cat([y for _, y in test.epoch(0)])
    assert torch.equal(labels, data.test_labels)
    with pytest.raises(DesignspaceError, match="larger than the training set"):
        DeviceLoader(data, 512, "cpu", train=True)


def test_order_depends_on_seed_and_epoch_and_shards_are_disjoint():
    a, b, c = epoch_order(100, 0, 0, True), epoch_order(100, 0, 1, True), epoch_order(100, 1, 0, True)
    assert sorted(a.tolist()) == list(range(100)) and not torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, epoch_order(100, 0, 0, True))
    shards = [epoch_order(101, 0, 0, True, rank=r, world_size=2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 50
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_random_crop_flip_windows_of_the_padded_image():
    images = torch.randint(0, 256, (64, 2, 6, 5), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    out = random_crop_flip(images, pad=2, flip=True, generator=generator)
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images, (2, 2, 2, 2))
    flipped_count = 0
    for i in range(64):
        windows = [padded[i, :, r:r + 6, c:c + 5] for r in range(5) for c in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(2)) for w in windows)
        assert plain or mirrored
        flipped_count += mirrored and not plain
    assert 10 < flipped_count < 54  # about half flipped
    assert torch.equal(random_crop_flip(images, pad=0, flip=False), images)


def test_augmentation_is_seeded_per_epoch(data):
    loader = DeviceLoader(data, 32, "cpu", train=True, augment=True, seed=3)
    first = [x for x, _ in loader.epoch(1)]
    again = [x for x, _ in loader.epoch(1)]
    other = [x for x, _ in loader.epoch(2)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_normalization_uses_training_statistics(data):
    x = torch.cat([x for x, _ in DeviceLoader(data, 50, "cpu", train=True, augment=False).epoch(0)])
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    cl = next(iter(DeviceLoader(data, 32, "cpu", channels_last=True).epoch(0)))[0]
    assert cl.is_contiguous(memory_format=torch.channels_last)
