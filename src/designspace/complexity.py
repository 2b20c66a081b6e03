"""Analytic complexity of a whole network: flops (multiply-adds), params and activations.

    >>> from designspace import get_spec
    >>> complexity(get_spec("RegNetX-400MF"))
    {'flops': 397678568, 'params': 5157512, 'acts': 3143272}

The counting rules are in docs/design.md, Complexity. This module is the facade:
the per-layer primitives live beside the modules they count
(`designspace.models.counting`) and are re-exported here; the walk over stem,
stages and head is `designspace.models.anynet.count_network`.
"""
from __future__ import annotations

from .models.anynet import AnyNet
from .models.counting import Cx, batchnorm, conv, floor_int, global_pool, linear, maxpool, out_size, rint


def complexity(spec, resolution: int = 224) -> dict:
    """Exact flops, params and acts of `spec` at `resolution` x `resolution` input.

    Needs no module instantiation. Returns plain ints.
    """
    cx = AnyNet.complexity(Cx(resolution, resolution), spec)
    return {k: int(v) for k, v in cx.totals().items()}


__all__ = ["complexity", "Cx", "conv", "batchnorm", "maxpool", "global_pool", "linear", "rint", "floor_int",
           "out_size"]
