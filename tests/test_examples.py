"""Every sweep file under examples/paper validates and samples, at paper scale and with each profile."""
import glob
import os

import pytest
import yaml

from designspace.spaces import get_space
from designspace.sweep import load_sweep_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "examples", "paper")
FILES = sorted(glob.glob(os.path.join(ROOT, "*.yaml")))


def _profiles(path):
    with open(path) as f:
        return [None] + sorted((yaml.safe_load(f).get("profiles") or {}))


CASES = [(os.path.basename(f), p) for f in FILES for p in _profiles(f)]


def test_the_paper_studies_are_all_there():
    names = {os.path.basename(f) for f in FILES}
    for study in ("a_vs_b", "b_vs_c", "c_vs_d", "d_vs_e", "regnetx_vs_anynetx", "regnetx_restricted",
                  "regnetx_constrained", "regnety_vs_regnetx", "generalization_3.2gf", "generalization_50_epochs",
                  "generalization_5_stages", "generalization_block_types", "alternates_inverted_bottleneck",
                  "alternates_depthwise", "alternates_resolution", "section5_search"):
        assert f"{study}.yaml" in names
    for path in FILES:
        text = open(path).read()
        assert text.startswith("# ") and "Paper:" in text and "GPU-days" in text  # the finding and the compute


@pytest.mark.parametrize("name, profile", CASES)
def test_sweep_file_validates_and_samples(name, profile):
    config = load_sweep_file(os.path.join(ROOT, name), profile=profile)
    in_channels, num_classes, resolution = config.shape()
    if profile is None:
        assert config.data.name == "imagenet" and resolution >= 160
    for entry in config.spaces:
        space = get_space(entry.name, resolution=resolution, num_classes=num_classes, in_channels=in_channels,
                          **entry.options)
        # A few from each space's band prove the band is reachable (the sweep samples all n the same way).
        samples = space.sample(min(entry.n, 5), seed=config.seed, flops=entry.flops, params=entry.params,
                               acts=entry.acts)
        assert len(samples) == min(entry.n, 5)
        lo, hi = entry.flops
        assert all((lo is None or s.flops >= lo) and (hi is None or s.flops <= hi) for s in samples)


@pytest.mark.parametrize("name", [os.path.basename(f) for f in FILES])
def test_small_profiles_train_in_the_small_image_regime(name):
    """A profile recipe naming a regime starts from it: the paper's ImageNet recipe does not leak in."""
    from dataclasses import replace

    from designspace.train.recipe import regime

    for profile in ("fashion-mnist", "cifar10"):
        recipe = load_sweep_file(os.path.join(ROOT, name), profile=profile).recipe
        assert recipe.zero_init_last_bn and recipe.weight_decay == 5e-4 and recipe.warmup_epochs == 0.2
        if profile == "fashion-mnist":
            assert recipe == replace(regime("small-images"), epochs=recipe.epochs, batch_size=64, channels_last="on")
