"""Design spaces and complexity-band sampling (see docs/design.md, Design spaces).

    >>> from designspace.spaces import get_space, list_spaces
    >>> space = get_space("anynetx_a")                  # 224x224, 1000 classes
    >>> samples = space.sample(500, seed=0, flops=(360e6, 400e6))
    >>> samples[0].to_dict()["spec"]["stages"][0]["depth"] >= 1
    True
    >>> small = get_space("regnetx", resolution=28, in_channels=1, num_classes=10, stem="cifar")  # Fashion-MNIST

Built-ins: anynetx_a..anynetx_e, regnetx, regnety, regnetx_c and the alternates
(see `list_spaces()`); `get_space("my_space.yaml")` reads a user space
(`designspace.spaces.yaml_space`); `register_space(name, factory)` adds one in Python.
"""
from __future__ import annotations

import os

from ..errors import DesignspaceError, UnknownNameError
from .anynet import AnyNetSpace, builtin_anynet_spaces
from .base import Batch, DesignSpace, Sample, adjust_widths_groups_batch
from .distributions import Choice, Fixed, LogUniform, PowerOfTwo, Uniform
from .regnet import RegNetSpace, builtin_regnet_spaces
from .yaml_space import load_space_file

_REGISTRY: dict = {**builtin_anynet_spaces(), **builtin_regnet_spaces()}


def register_space(name: str, factory) -> None:
    """Add a space: `factory(**frame)` returns a DesignSpace (frame = resolution, num_classes, ...)."""
    if not callable(factory):
        raise DesignspaceError(f"register_space({name!r}): factory must be callable")
    _REGISTRY[name.lower()] = factory


def list_spaces() -> list:
    return list(_REGISTRY)


def get_space(name_or_path, resolution: int | None = None, num_classes: int | None = None,
              in_channels: int | None = None, stem: str | None = None, **options) -> DesignSpace:
    """A built-in (or registered) space by name, or a YAML space file, framed for the given input.

    Left as None, the frame is 224x224, 1000 classes, 3 channels, simple stem (a YAML
    file's own values win over those defaults; arguments given here win over the file).
    """
    given = dict(resolution=resolution, num_classes=num_classes, in_channels=in_channels, stem=stem)
    frame = {**{k: v for k, v in given.items() if v is not None}, **options}
    key = str(name_or_path)
    if key.endswith((".yaml", ".yml", ".json")) or os.path.sep in key:
        if not os.path.exists(key):
            raise DesignspaceError(f"{key}: no such space file")
        return load_space_file(key, **frame)
    factory = _REGISTRY.get(key.lower().replace("-", "_"))
    if factory is None:
        raise UnknownNameError("design space", key, list(_REGISTRY))
    try:
        return factory(**frame)
    except TypeError as e:
        raise DesignspaceError(f"space {key}: {e}") from None


__all__ = ["get_space", "list_spaces", "load_space_file", "register_space", "DesignSpace", "Sample", "Batch",
           "AnyNetSpace", "RegNetSpace", "Uniform", "LogUniform", "PowerOfTwo", "Choice", "Fixed",
           "adjust_widths_groups_batch"]
