"""User-defined design spaces from a YAML file (safe-loaded, unknown keys rejected by name).

    # my_space.yaml
    name: small_anynet
    kind: anynet            # or: regnet
    num_stages: 3
    stem: cifar
    resolution: 32
    num_classes: 10
    parameters:
      depth: {dist: log_uniform, low: 1, high: 8}
      width: {dist: log_uniform, low: 16, high: 256, step: 8}
      bottleneck_ratio: 1                      # a bare number is fixed
      group_width: {dist: power_of_two, low: 1, high: 16}
    shared: [group_width]
    monotone: [width]

    designspace sample my_space.yaml --n 20 --flops :50M

A regnet space takes `block: R` or `block: V` (residual basic or vanilla blocks, b and g fixed to
1, as the built-in regnet_r and regnet_v), so that `designspace refine` can write their refinements.

Anything `get_space(path, resolution=..., ...)` is given overrides the file.
"""
from __future__ import annotations

import os

from ..errors import DesignspaceError
from .distributions import distribution_from_dict

COMMON_KEYS = {"name", "kind", "description", "num_stages", "strides", "stem", "stem_width", "resolution",
               "num_classes", "in_channels", "head_width", "parameters"}
KIND_KEYS = {"anynet": {"shared", "monotone", "exempt_last_depth", "block", "se_ratio"},
             "regnet": {"se_ratio", "w0_equals_wa", "limit_params_acts", "block"}}


def load_space_file(path, **overrides):
    """Read a YAML (or JSON) design space file -> DesignSpace."""
    import yaml

    from .anynet import AnyNetSpace
    from .regnet import RegNetSpace

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise DesignspaceError(f"{path}: cannot read space file ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DesignspaceError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise DesignspaceError(f"{path}: a space file must be a mapping with 'kind' and 'parameters'")
    kind = data.get("kind")
    if kind not in KIND_KEYS:
        raise DesignspaceError(f"{path}: 'kind' must be anynet or regnet, got {kind!r}")
    unknown = sorted(set(data) - COMMON_KEYS - KIND_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(COMMON_KEYS | KIND_KEYS[kind]))
        raise DesignspaceError(f"{path}: unknown key(s) {', '.join(unknown)} (allowed for {kind}: {allowed})")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise DesignspaceError(f"{path}: 'parameters' must be a mapping of parameter -> distribution")
    name = data.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not isinstance(name, str):
        raise DesignspaceError(f"{path}: 'name' must be a string")
    try:
        dists = {p: distribution_from_dict(spec, f"{path}: parameter {p}") for p, spec in params.items()}
        options = {k: v for k, v in data.items() if k not in ("name", "kind", "parameters")}
        for key in ("shared", "monotone", "strides"):
            if key in options and not isinstance(options[key], list):
                raise DesignspaceError(f"{path}: '{key}' must be a list")
        options.update(overrides)
        cls = AnyNetSpace if kind == "anynet" else RegNetSpace
        return cls(name, distributions=dists, **options)
    except DesignspaceError as e:
        msg = str(e)
        raise DesignspaceError(msg if msg.startswith(path) else f"{path}: {msg}") from None
    except TypeError as e:
        raise DesignspaceError(f"{path}: {e}") from None
