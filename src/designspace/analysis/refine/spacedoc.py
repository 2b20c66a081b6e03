"""A design space as a YAML space document (the format of `designspace.spaces.yaml_space`), and its restrictions.

    >>> from designspace.analysis.refine.spacedoc import space_document, space_from_document, narrow, add_listed
    >>> doc = space_document(get_space("anynetx_a", resolution=28, in_channels=1, num_classes=10))
    >>> doc = add_listed(doc, "shared", "bottleneck_ratio")          # AnyNetX_B
    >>> doc = narrow(doc, "group_width", low=2)                      # every stage's g >= 2
    >>> space_from_document(doc).log10_size()
    >>> yaml.safe_dump(doc)                                          # loads back with get_space(path)

Narrowing keeps the parent's distribution kind and step over the kept values of its support,
so the refined space draws the kept values with (nearly: log-uniform rounding at the new ends)
their parent probabilities, and its size counts exactly the kept configurations.
"""
from __future__ import annotations

import copy

import numpy as np

from ...errors import DesignspaceError
from ...spaces.distributions import distribution_from_dict

FRAME_KEYS = ("num_stages", "strides", "stem", "stem_width", "resolution", "num_classes", "in_channels",
              "head_width")
ANYNET_ORDER = ("depth", "width", "bottleneck_ratio", "group_width")


def family_of(space) -> str:
    """'anynet' or 'regnet'; any other kind of space is a DesignspaceError."""
    from ...spaces.anynet import AnyNetSpace
    from ...spaces.regnet import RegNetSpace

    if isinstance(space, AnyNetSpace):
        return "anynet"
    if isinstance(space, RegNetSpace):
        return "regnet"
    raise DesignspaceError(f"space {space.name}: refine knows AnyNet and RegNet spaces, not {type(space).__name__}")


def _plain(value):
    """numpy scalars and tuples -> plain Python, so yaml.safe_dump can write the document."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def space_document(space) -> dict:
    """The YAML space mapping that `load_space_file` turns back into this space."""
    family = family_of(space)
    doc = {"name": space.name, "kind": family, "description": space.description}
    doc.update({key: getattr(space, key) for key in FRAME_KEYS})
    doc["parameters"] = {p: dist.to_dict() for p, dist in space.dists.items()}
    if family == "anynet":
        doc.update(shared=list(space.shared), monotone=list(space.monotone),
                   exempt_last_depth=space.exempt_last_depth, block=space.block)
        if space.block == "Y":
            doc["se_ratio"] = space.se_ratio
    else:
        doc.update(w0_equals_wa=space.w0_equals_wa, limit_params_acts=space.limit_params_acts)
        if space.se_ratio:
            doc["se_ratio"] = space.se_ratio
        if space.block in ("R", "V"):
            doc["block"] = space.block
    return _plain(doc)


def space_from_document(doc: dict):
    """The DesignSpace a document describes (what `get_space(path)` returns for it written as YAML)."""
    from ...spaces.anynet import AnyNetSpace
    from ...spaces.regnet import RegNetSpace

    dists = {p: distribution_from_dict(spec, f"parameter {p}") for p, spec in doc["parameters"].items()}
    options = {k: v for k, v in doc.items() if k not in ("name", "kind", "parameters")}
    cls = AnyNetSpace if doc["kind"] == "anynet" else RegNetSpace
    return cls(doc["name"], distributions=dists, **options)


def add_listed(doc: dict, key: str, parameter: str, **changes) -> dict:
    """A copy with `parameter` added to the list `key` ('shared' or 'monotone') and other keys changed."""
    out = copy.deepcopy(doc)
    listed = set(out.get(key) or []) | {parameter}
    out[key] = [p for p in ANYNET_ORDER if p in listed]
    out.update(changes)
    return out


def _narrowed(spec: dict, kept: list) -> dict:
    if len(kept) == 1:
        return {"dist": "fixed", "value": kept[0]}
    kind = spec["dist"]
    if kind in ("choice", "fixed"):
        return {"dist": "choice", "values": kept}
    out = {"dist": kind, "low": kept[0], "high": kept[-1]}
    if "step" in spec:
        out["step"] = spec["step"]
    return out


def narrow(doc: dict, parameter: str, low=None, high=None) -> dict:
    """A copy whose `parameter` keeps only the support values in [low, high] (None: open side)."""
    spec = doc["parameters"][parameter]
    support = distribution_from_dict(spec, f"parameter {parameter}").support()
    keep = np.ones(support.size, dtype=bool)
    if low is not None:
        keep &= support >= low - 1e-9 * max(1.0, abs(low))
    if high is not None:
        keep &= support <= high + 1e-9 * max(1.0, abs(high))
    if not keep.any():
        raise DesignspaceError(f"no value of {parameter} lies in [{low}, {high}]")
    out = copy.deepcopy(doc)
    out["parameters"][parameter] = _narrowed(spec, support[keep].tolist())  # tolist: plain Python numbers
    return out


def support_of(doc: dict, parameter: str) -> np.ndarray:
    return distribution_from_dict(doc["parameters"][parameter], f"parameter {parameter}").support()
