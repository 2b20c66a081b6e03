"""Spec files: a NetSpec read from JSON or YAML, or generated from RegNet parameters.

    from designspace import load_spec_file
    spec = load_spec_file("my_spec.yaml")    # stages: [{depth: 1, width: 24, group_width: 8}, ...]
    spec = load_spec_file("x400.yaml")       # regnet: {depth: 22, w0: 24, wa: 24.48, wm: 2.54, group_width: 16}

File I/O lives here, not in `designspace.spec`, so the type module stays pure and
`designspace.regnet` (which builds NetSpecs) can import it without a cycle.
"""
from __future__ import annotations

import json
import os

from .errors import DesignspaceError, SpecError
from .regnet import regnet_spec
from .spec import NetSpec


def load_spec_file(path) -> NetSpec:
    """Read a NetSpec from a JSON or YAML file (safe-loaded).

    A file may hold a plain spec, or a RegNet parameter set
    (`regnet: {depth, w0, wa, wm, group_width, ...}`) that is generated into one.
    """
    import yaml  # only spec files need it

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise DesignspaceError(f"{path}: cannot read spec file ({e.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            line = getattr(getattr(e, "problem_mark", None), "line", None)
            where = f" (line {line + 1})" if line is not None else ""
            raise SpecError(f"{path}: not valid JSON or YAML{where}") from None
    if isinstance(data, dict) and "spec" in data and isinstance(data["spec"], dict):
        data = data["spec"]  # a line of `designspace sample` output
    if isinstance(data, dict) and "regnet" in data:
        params = data["regnet"]
        if not isinstance(params, dict):
            raise SpecError(f"{path}: 'regnet' must be a mapping of RegNet parameters")
        extra = {k: v for k, v in data.items() if k != "regnet"}
        try:
            return regnet_spec(**params, **extra)
        except TypeError as e:
            raise SpecError(f"{path}: {e}") from None
    try:
        return NetSpec.from_dict(data)
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None
