"""ImageNet-style class folders: ROOT/{train,val}/<class>/<image>.{jpg,jpeg,png,...}.

    from designspace.data.folders import FolderDataset, load_folder_tensors
    train = FolderDataset("~/data/imagenet/train", resolution=224, train=True)   # streamed, Inception crop
    x_train, y_train, x_test, y_test, classes = load_folder_tensors("~/data/tiny", resolution=32)  # in memory
    folder_shape("~/data/tiny")   # (3, number of classes, first image's height): folders counted, one header read

Images are decoded with PIL when it is installed, otherwise with torchvision.io
(an optional extra); resizing and cropping run on uint8 tensors, so one code
path serves both decoders. Large images stream through a DataLoader with
workers; small ones can be loaded once into a tensor for the device-resident path.
"""
from __future__ import annotations

import math
import os
import random

import numpy as np
import torch

from ..errors import DesignspaceError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
TEST_SPLIT_NAMES = ("val", "test")


def class_names(split_dir: str) -> list[str]:
    """Sorted class folder names of one split directory (nothing inside them is read)."""
    if not os.path.isdir(split_dir):
        raise FileNotFoundError(split_dir)
    classes = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
    if not classes:
        raise DesignspaceError(f"{split_dir}: no class folders inside (expected {split_dir}/<class>/<image>)")
    return classes


def _image_files(folder: str) -> list[str]:
    return [os.path.join(folder, file) for file in sorted(os.listdir(folder)) if file.lower().endswith(IMAGE_EXTENSIONS)]


def _no_images(split_dir: str) -> DesignspaceError:
    return DesignspaceError(f"{split_dir}: class folders hold no images ({', '.join(IMAGE_EXTENSIONS)})")


def scan_class_folders(split_dir: str):
    """-> (sorted class names, [(path, label)]) for one split directory."""
    classes = class_names(split_dir)
    samples = [(path, label) for label, name in enumerate(classes)
               for path in _image_files(os.path.join(split_dir, name))]
    if not samples:
        raise _no_images(split_dir)
    return classes, samples


def test_split_dir(root: str) -> str:
    for name in TEST_SPLIT_NAMES:
        if os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    raise FileNotFoundError(os.path.join(root, "val"))


def decode_image(path: str) -> torch.Tensor:
    """An image file -> uint8 tensor [3, H, W] (RGB)."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    try:
        if Image is not None:
            with Image.open(path) as img:
                array = np.asarray(img.convert("RGB"), dtype=np.uint8)
            return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
        try:
            from torchvision.io import ImageReadMode, decode_image as tv_decode, read_file
        except ImportError:
            raise DesignspaceError("reading image folders needs Pillow or torchvision: pip install pillow") from None
        return tv_decode(read_file(path), mode=ImageReadMode.RGB)
    except DesignspaceError:
        raise
    except Exception as e:  # a decoder error names the file, whatever library raised it
        raise DesignspaceError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of a uint8 [C,H,W] tensor (antialiased when shrinking)."""
    if image.shape[1] == height and image.shape[2] == width:
        return image
    out = torch.nn.functional.interpolate(image[None].float(), size=(height, width), mode="bilinear",
                                          align_corners=False, antialias=True)[0]
    return out.round_().clamp_(0, 255).to(torch.uint8)


def inception_crop_box(height: int, width: int, rng: random.Random, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """Random area fraction in `scale` and aspect ratio in `ratio` (log-uniform); center crop fallback."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def center_crop(image: torch.Tensor, resolution: int, resize_ratio: float = 256 / 224) -> torch.Tensor:
    """Resize the short side to resolution * resize_ratio, then crop the center square."""
    _, h, w = image.shape
    short = int(round(resolution * resize_ratio))
    nh, nw = (short, max(1, round(w * short / h))) if h <= w else (max(1, round(h * short / w)), short)
    image = resize(image, nh, nw)
    top, left = (nh - resolution) // 2, (nw - resolution) // 2
    return image[:, top:top + resolution, left:left + resolution].contiguous()


class FolderDataset(torch.utils.data.Dataset):
    """Streams (uint8 [3,R,R], label): Inception crop + flip for training, resize + center crop for testing."""

    def __init__(self, split_dir: str, resolution: int = 224, train: bool = True, seed: int = 0):
        self.classes, self.samples = scan_class_folders(split_dir)
        self.resolution, self.train, self.seed = resolution, train, seed
        self.epoch = 0

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = decode_image(path)
        if not self.train:
            return center_crop(image, self.resolution), label
        rng = random.Random(hash((self.seed, self.epoch, index)))
        top, left, h, w = inception_crop_box(image.shape[1], image.shape[2], rng)
        image = resize(image[:, top:top + h, left:left + w], self.resolution, self.resolution)
        if rng.random() < 0.5:
            image = image.flip(2)
        return image.contiguous(), label


def image_height(path: str) -> int:
    """Height of an image file: from its header when PIL is installed (no pixels decoded)."""
    try:
        from PIL import Image
    except ImportError:
        return int(decode_image(path).shape[1])
    try:
        with Image.open(path) as img:
            return int(img.height)
    except Exception as e:  # a decoder error names the file, as decode_image's do
        raise DesignspaceError(f"{path}: cannot decode image ({type(e).__name__}: {e})") from None


def folder_shape(root: str, resolution: int | None = None) -> tuple[int, int, int]:
    """(in_channels, num_classes, resolution) that `load_folder_tensors(root, resolution)` would give, without loading.

    The class folders of ROOT/train (and ROOT/val|test, which must match) are counted;
    without `resolution`, the first training image's height is read from its header.
    """
    train_dir = os.path.join(root, "train")
    classes = class_names(train_dir)
    if class_names(test_split_dir(root)) != classes:
        raise DesignspaceError(f"{root}: the train and test splits have different class folders")
    if resolution is None:
        first = next((files[0] for files in (_image_files(os.path.join(train_dir, c)) for c in classes) if files), None)
        if first is None:
            raise _no_images(train_dir)
        resolution = image_height(first)
    return 3, len(classes), resolution  # images are decoded to RGB


def load_folder_tensors(root: str, resolution: int | None = None):
    """Small images in ROOT/train and ROOT/val|test -> uint8 tensors [N,3,R,R] + int64 labels, and the classes.

    Every image is resized to `resolution` (default: the first training image's height).
    """
    classes, train = scan_class_folders(os.path.join(root, "train"))
    test_classes, test = scan_class_folders(test_split_dir(root))
    if test_classes != classes:
        raise DesignspaceError(f"{root}: the train and test splits have different class folders")
    out = []
    for samples in (train, test):
        images = []
        for path, _ in samples:
            image = decode_image(path)
            if resolution is None:
                resolution = image.shape[1]
            images.append(resize(image, resolution, resolution))
        out += [torch.stack(images), torch.tensor([label for _, label in samples], dtype=torch.int64)]
    return (*out, classes)
