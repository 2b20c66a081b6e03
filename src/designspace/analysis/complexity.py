"""Complexity relations: power laws between flops, params and activations, and a runtime model.

    >>> from designspace.analysis.complexity import power_law, runtime_model
    >>> fit = power_law(flops, acts)         # acts ~ c * flops ** exponent (the paper: ~0.5 for good models)
    >>> fit.exponent, fit.coefficient, fit.r2
    >>> model = runtime_model(flops, acts, seconds)      # seconds ~ a*flops + b*acts + c
    >>> model.predict(flops, acts)

Both are least squares: the power law in log-log space, the runtime model in linear space.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import DesignspaceError


@dataclass(frozen=True)
class PowerLaw:
    coefficient: float
    exponent: float
    r2: float  # in log-log space
    n: int

    def predict(self, x):
        return self.coefficient * np.asarray(x, dtype=np.float64) ** self.exponent

    def to_dict(self) -> dict:
        return asdict(self)


def _clean(*arrays, what: str):
    arrs = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    if len({a.size for a in arrs}) != 1:
        raise DesignspaceError(f"{what}: inputs differ in length")
    ok = np.all([np.isfinite(a) for a in arrs], axis=0)
    return [a[ok] for a in arrs]


def power_law(x, y) -> PowerLaw:
    """Fit y = coefficient * x ** exponent by least squares on log y vs log x."""
    x, y = _clean(x, y, what="power law")
    ok = (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(np.log(x)) == 0:
        raise DesignspaceError(f"power law: need at least 2 models with distinct positive values, got {x.size}")
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (intercept + slope * lx)
    total = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - float(np.sum(resid ** 2) / total) if total > 0 else 1.0
    return PowerLaw(coefficient=float(np.exp(intercept)), exponent=float(slope), r2=r2, n=int(x.size))


RUNTIME_FORMS = ("flops+acts", "flops+sqrt")


@dataclass(frozen=True)
class RuntimeModel:
    """seconds = a * flops + b * acts + c   (form "flops+acts"), or
    seconds = a * flops + b * sqrt(flops) + c   (form "flops+sqrt", the paper's alternative)."""

    form: str
    a: float
    b: float
    c: float
    r2: float
    n: int

    def predict(self, flops, acts=None):
        flops = np.asarray(flops, dtype=np.float64)
        second = np.sqrt(flops) if self.form == "flops+sqrt" else np.asarray(acts, dtype=np.float64)
        return self.a * flops + self.b * second + self.c

    def to_dict(self) -> dict:
        return asdict(self)


def runtime_model(flops, acts, seconds, form: str = "flops+acts") -> RuntimeModel:
    """Least-squares fit of measured runtimes; needs at least 3 measurements."""
    if form not in RUNTIME_FORMS:
        raise DesignspaceError(f"runtime model form must be one of {', '.join(RUNTIME_FORMS)}, got {form!r}")
    flops, acts, t = _clean(flops, acts, seconds, what="runtime model")
    if t.size < 3:
        raise DesignspaceError(f"runtime model: need at least 3 measured models, got {t.size}")
    second = np.sqrt(flops) if form == "flops+sqrt" else acts
    design = np.column_stack([flops, second, np.ones_like(flops)])
    # Columns differ by many orders of magnitude: scale them so lstsq is well conditioned.
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    coef, *_ = np.linalg.lstsq(design / scale, t, rcond=None)
    coef = coef / scale
    resid = t - design @ coef
    total = np.sum((t - t.mean()) ** 2)
    r2 = 1.0 - float(np.sum(resid ** 2) / total) if total > 0 else 1.0
    return RuntimeModel(form=form, a=float(coef[0]), b=float(coef[1]), c=float(coef[2]), r2=r2, n=int(t.size))
