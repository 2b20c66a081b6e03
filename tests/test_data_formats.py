"""Every data format read from small files the test writes: IDX gz, CIFAR pickles, class folders."""
import gzip
import importlib.util
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from designspace import DesignspaceError
from designspace.data import DataConfig, clear_cache, dataset_shape, load_dataset
from designspace.data.cifar import read_batch
from designspace.data.idx import read_idx

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def write_idx(path, array):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = array.astype(array.dtype.newbyteorder(">")).tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + payload)


def write_mnist_folder(root, n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8)}
    os.makedirs(root, exist_ok=True)
    for name, array in arrays.items():
        write_idx(os.path.join(root, name), array)
    return arrays


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def test_idx_gz_round_trip_and_dataset(tmp_path):
    arrays = write_mnist_folder(tmp_path / "mnist")
    assert np.array_equal(read_idx(tmp_path / "mnist" / "train-images-idx3-ubyte.gz"), arrays["train-images-idx3-ubyte.gz"])
    values = np.array([[1, -2], [300000, 4]], dtype=np.int32)
    write_idx(tmp_path / "ints.gz", values)
    assert np.array_equal(read_idx(tmp_path / "ints.gz"), values)

    data = load_dataset(DataConfig("mnist", root=str(tmp_path / "mnist")))
    assert data.train_images.shape == (40, 1, 28, 28) and data.train_images.dtype == torch.uint8
    assert torch.equal(data.train_images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte.gz"]))
    assert torch.equal(data.test_labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte.gz"].astype(np.int64)))
    assert (data.in_channels, data.num_classes, data.resolution) == (1, 10, 28)
    assert load_dataset(DataConfig("mnist", root=str(tmp_path / "mnist"))) is data  # cached per process


def test_subsets_and_validation_split(tmp_path):
    write_mnist_folder(tmp_path / "m")
    sub = load_dataset(DataConfig("mnist", root=str(tmp_path / "m"), train_subset=2, test_subset=1))
    assert len(sub.train_labels) == 20 and len(sub.test_labels) == 10
    assert sorted(sub.train_labels.tolist()) == sorted(list(range(10)) * 2)
    assert sub.train_labels[:10].tolist() == list(range(10))  # the first images of each class, in file order
    val = load_dataset(DataConfig("mnist", root=str(tmp_path / "m"), val_split=8))
    assert len(val.train_labels) == 32 and len(val.test_labels) == 8 and val.eval_split == "val"
    assert load_dataset(DataConfig("mnist", root=str(tmp_path / "m"), val_split=0.25)).test_labels.shape == (10,)


def test_malformed_and_missing_data_sets_are_one_line_errors(tmp_path, monkeypatch):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")  # promises 9 bytes, holds 3
    with pytest.raises(DesignspaceError, match="payload"):
        read_idx(bad)
    monkeypatch.delenv("DESIGNSPACE_DATA", raising=False)
    monkeypatch.setenv("DESIGNSPACE_MNIST", str(tmp_path / "nowhere"))
    with pytest.raises(DesignspaceError) as info:
        load_dataset(DataConfig("mnist"))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message and "ubyte.gz" in message
    (tmp_path / "half").mkdir()
    with pytest.raises(DesignspaceError, match="missing .*train-images"):
        load_dataset(DataConfig("mnist", root=str(tmp_path / "half")))
    with pytest.raises(DesignspaceError, match="unknown data set 'cifar-11'"):
        DataConfig("cifar-11")


def test_environment_variables_locate_the_data(tmp_path, monkeypatch):
    write_mnist_folder(tmp_path / "base" / "fashion-mnist")
    monkeypatch.delenv("DESIGNSPACE_FASHION_MNIST", raising=False)
    monkeypatch.setenv("DESIGNSPACE_DATA", str(tmp_path / "base"))
    assert load_dataset(DataConfig("fashion-mnist")).train_images.shape[0] == 40
    assert dataset_shape("fashion-mnist") == (1, 10, 28)
    assert dataset_shape("cifar100") == (3, 100, 32)


def _cifar_batch(n, label_key, num_classes, seed):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"x", label_key.encode(): [int(v) for v in rng.integers(0, num_classes, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def test_cifar10_and_cifar100_pickle_folders(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = {name: _cifar_batch(6, "labels", 10, i) for i, name in
               enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])}
    for name, batch in batches.items():
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    data = load_dataset(DataConfig("cifar10", root=str(root)))
    assert data.train_images.shape == (30, 3, 32, 32) and data.test_images.shape == (6, 3, 32, 32)
    first = batches["data_batch_1"]
    assert torch.equal(data.train_images[0], torch.from_numpy(first[b"data"][0].reshape(3, 32, 32)))
    assert data.train_labels[:6].tolist() == first[b"labels"]

    root100 = tmp_path / "cifar-100-python"
    root100.mkdir()
    for name, seed in (("train", 1), ("test", 2)):
        with open(root100 / name, "wb") as f:
            pickle.dump(_cifar_batch(5, "fine_labels", 100, seed), f)
    data100 = load_dataset(DataConfig("cifar100", root=str(root100)))
    assert data100.num_classes == 100 and data100.train_images.shape == (5, 3, 32, 32)


def test_the_cifar_standin_is_fashion_mnist_padded_and_read_as_cifar10(tmp_path):
    spec = importlib.util.spec_from_file_location("cifar_standin", BENCHMARKS / "cifar_standin.py")
    standin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standin)
    arrays = write_mnist_folder(tmp_path / "fm", n_train=43, n_test=20)
    line = standin.write_standin(str(tmp_path / "fm"), str(tmp_path / "c10"))
    assert line.endswith(": 43 training images (4-5 per class), 20 test images, 32x32x3")
    assert sorted(os.listdir(tmp_path / "c10")) == [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    data = load_dataset(DataConfig("cifar10", root=str(tmp_path / "c10")))
    assert data.train_images.shape == (43, 3, 32, 32) and data.test_images.shape == (20, 3, 32, 32)
    source = torch.from_numpy(arrays["train-images-idx3-ubyte.gz"])
    for channel in range(3):
        assert torch.equal(data.train_images[:, channel, 2:30, 2:30], source)
    border = data.train_images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.sum()) == 0
    assert data.train_labels.tolist() == arrays["train-labels-idx1-ubyte.gz"].tolist()
    assert torch.equal(data.test_images[:, 1, 2:30, 2:30], torch.from_numpy(arrays["t10k-images-idx3-ubyte.gz"]))


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_cifar_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": _Evil(marker), b"labels": [0]}, f)
    with pytest.raises(DesignspaceError, match="refused"):
        read_batch(path)
    assert not marker.exists()


def test_class_folders_in_memory_and_streamed(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    colors = {"cat": (255, 0, 0), "dog": (0, 0, 255)}
    for split, count in (("train", 3), ("val", 2)):
        for name, color in colors.items():
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (12, 10), color).save(folder / f"{i}.png")
    data = load_dataset(DataConfig("folder", root=str(tmp_path), resolution=8))
    assert data.classes == ["cat", "dog"] and data.num_classes == 2
    assert data.train_images.shape == (6, 3, 8, 8) and data.test_images.shape == (4, 3, 8, 8)
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.train_images[0, :, 4, 4].tolist() == [255, 0, 0] and data.train_images[5, :, 4, 4].tolist() == [0, 0, 255]
    assert dataset_shape(DataConfig("folder", root=str(tmp_path), resolution=8)) == (3, 2, 8)

    from designspace.data import TorchLoader

    streamed = load_dataset(DataConfig("imagenet", root=str(tmp_path), resolution=8))
    assert not streamed.in_memory and streamed.num_classes == 2 and len(streamed.train_set) == 6
    x, y = next(iter(TorchLoader(streamed, 4, "cpu", train=True).epoch(0)))
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and y.shape == (4,)
    test_x, _ = next(iter(TorchLoader(streamed, 4, "cpu", train=False).epoch(0)))
    assert test_x.shape == (4, 3, 8, 8)


def test_folder_shape_counts_folders_and_reads_one_image(tmp_path):
    """dataset_shape of class folders decodes nothing: an unreadable second image does not matter to it."""
    Image = pytest.importorskip("PIL.Image")
    for split in ("train", "val"):
        for name in ("a", "b", "c"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            Image.new("RGB", (12, 10), (9, 9, 9)).save(folder / "0.png")
            (folder / "1.png").write_bytes(b"not an image")
    assert dataset_shape(DataConfig("folder", root=str(tmp_path))) == (3, 3, 10)  # the first image's height
    assert dataset_shape(DataConfig("folder", root=str(tmp_path), resolution=6)) == (3, 3, 6)
    with pytest.raises(DesignspaceError, match="cannot decode image"):
        load_dataset(DataConfig("folder", root=str(tmp_path)))
    (tmp_path / "val" / "c").rename(tmp_path / "val" / "d")
    with pytest.raises(DesignspaceError, match="different class folders"):
        dataset_shape(DataConfig("folder", root=str(tmp_path)))
    (tmp_path / "val").rename(tmp_path / "elsewhere")
    with pytest.raises(DesignspaceError, match=r"data set folder not found \(missing .*val\)"):
        dataset_shape(DataConfig("folder", root=str(tmp_path)))


def test_synthetic_set_is_deterministic():
    a = load_dataset(DataConfig("synthetic", synthetic_train=64, synthetic_test=16, resolution=8))
    clear_cache()
    b = load_dataset(DataConfig("synthetic", synthetic_train=64, synthetic_test=16, resolution=8))
    assert a is not b and torch.equal(a.train_images, b.train_images) and a.train_images.shape == (64, 3, 8, 8)
    assert DataConfig.from_dict(DataConfig("synthetic", train_subset=3).to_dict()) == DataConfig("synthetic", train_subset=3)
