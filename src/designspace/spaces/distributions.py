"""Quantized parameter distributions with a finite support and an exact CDF.

Every distribution draws one uniform number per value from a numpy Generator, so a
seed gives the same values on every machine:

    >>> import numpy as np
    >>> d = LogUniform(8, 1024, step=8)
    >>> d.sample(np.random.default_rng(0), 3).tolist()
    [176, 32, 8]

- `Uniform(low, high, step)`: every multiple of `step` in [low, high] equally likely.
- `LogUniform(low, high, step)`: log-uniform on [low, high], rounded to the nearest
  multiple of `step` (half to even), as the paper's samplers do.
- `PowerOfTwo(low, high)`: uniform over the exponents, values 2**e in [low, high].
- `Choice(values)`: uniform over a list. `Fixed(value)`: one value.
"""
from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from ..errors import DesignspaceError


def _decimals(step: float) -> int:
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _is_int(x) -> bool:
    return float(x) == int(x)


class Distribution:
    """A finite set of values with probabilities; `sample` maps uniforms to values."""

    kind = "distribution"

    def support(self) -> np.ndarray:
        raise NotImplementedError

    def size(self) -> int:
        return len(self.support())

    def cdf(self, x) -> np.ndarray:
        """P(value <= x), exact."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.from_uniform(rng.random(size))

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError


class _Grid(Distribution):
    """Values low + i * step (i = 0..m-1), the multiples of step inside [low, high]."""

    def __init__(self, low, high, step=1, what: str = "parameter"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high, step)):
            raise DesignspaceError(f"{what}: low, high and step must be numbers, got {low!r}, {high!r}, {step!r}")
        if step <= 0:
            raise DesignspaceError(f"{what}: step must be > 0, got {step}")
        if low > high:
            raise DesignspaceError(f"{what}: low {low} is above high {high}")
        self.decimals = _decimals(step)
        first = math.ceil(round(low / step, 9)) * step
        last = math.floor(round(high / step, 9)) * step
        if first > last + 1e-12:
            raise DesignspaceError(f"{what}: no multiple of {step} lies in [{low}, {high}] (empty after quantization)")
        self.low, self.high, self.step = low, high, step
        self.first, self.last = round(first, self.decimals), round(last, self.decimals)
        self.count = int(round((self.last - self.first) / step)) + 1
        self.integer = _is_int(step) and _is_int(self.first)

    def _values(self, idx):
        v = self.first + idx * self.step
        return v.astype(np.int64) if self.integer else np.round(v, self.decimals)

    def support(self) -> np.ndarray:
        return self._values(np.arange(self.count))

    def to_dict(self) -> dict:
        return {"dist": self.kind, "low": self.low, "high": self.high, "step": self.step}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low}, {self.high}, step={self.step})"


class Uniform(_Grid):
    kind = "uniform"

    def from_uniform(self, u):
        idx = np.minimum((u * self.count).astype(np.int64), self.count - 1)
        return self._values(idx)

    def cdf(self, x):
        idx = np.floor((np.asarray(x, dtype=float) - self.first) / self.step + 1e-9) + 1
        return np.clip(idx / self.count, 0.0, 1.0)


class LogUniform(_Grid):
    kind = "log_uniform"

    def __init__(self, low, high, step=1, what: str = "parameter"):
        super().__init__(low, high, step, what)
        if self.first <= 0:
            raise DesignspaceError(f"{what}: a log-uniform range must be positive, got low {low}")
        self._log_lo, self._log_hi = math.log(self.first), math.log(self.last)

    def from_uniform(self, u):
        if self.count == 1:
            return self._values(np.zeros(len(u), dtype=np.int64))
        x = np.exp(self._log_lo + u * (self._log_hi - self._log_lo))
        idx = np.clip(np.rint((x - self.first) / self.step).astype(np.int64), 0, self.count - 1)
        return self._values(idx)

    def cdf(self, x):
        if self.count == 1:
            return (np.asarray(x, dtype=float) >= self.first - 1e-12).astype(float)
        x = np.asarray(x, dtype=float)
        # value v_i covers the continuous interval [v_i - step/2, v_i + step/2) within [first, last]
        idx = np.floor((x - self.first) / self.step + 1e-9)
        upper = np.clip(self.first + (idx + 0.5) * self.step, self.first, self.last)
        return np.clip((np.log(upper) - self._log_lo) / (self._log_hi - self._log_lo), 0.0, 1.0) * (idx >= 0)


class PowerOfTwo(Distribution):
    kind = "power_of_two"

    def __init__(self, low, high, what: str = "parameter"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (low, high)):
            raise DesignspaceError(f"{what}: power_of_two needs positive low and high, got {low!r}, {high!r}")
        if low > high:
            raise DesignspaceError(f"{what}: low {low} is above high {high}")
        self.low, self.high = low, high
        self.e_lo, self.e_hi = math.ceil(math.log2(low) - 1e-9), math.floor(math.log2(high) + 1e-9)
        if self.e_lo > self.e_hi:
            raise DesignspaceError(f"{what}: no power of two lies in [{low}, {high}] (empty after quantization)")
        self.count = self.e_hi - self.e_lo + 1
        self.integer = self.e_lo >= 0

    def _values(self, e):
        return (np.int64(1) << e.astype(np.int64)) if self.integer else np.power(2.0, e)

    def support(self):
        return self._values(np.arange(self.e_lo, self.e_hi + 1))

    def from_uniform(self, u):
        return self._values(self.e_lo + np.minimum((u * self.count).astype(np.int64), self.count - 1))

    def cdf(self, x):
        e = np.floor(np.log2(np.maximum(np.asarray(x, dtype=float), 1e-300)) + 1e-9)
        return np.clip((e - self.e_lo + 1) / self.count, 0.0, 1.0)

    def to_dict(self):
        return {"dist": self.kind, "low": self.low, "high": self.high}

    def __repr__(self):
        return f"PowerOfTwo({self.low}, {self.high})"


class Choice(Distribution):
    kind = "choice"

    def __init__(self, values, what: str = "parameter"):
        values = list(values)
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise DesignspaceError(f"{what}: choice needs a non-empty list of numbers, got {values!r}")
        self.values = sorted(set(values))
        self.integer = all(isinstance(v, int) for v in self.values)
        self._array = np.array(self.values, dtype=np.int64 if self.integer else float)
        self.count = len(self.values)

    def support(self):
        return self._array.copy()

    def from_uniform(self, u):
        return self._array[np.minimum((u * self.count).astype(np.int64), self.count - 1)]

    def cdf(self, x):
        return np.searchsorted(self._array, np.asarray(x, dtype=float), side="right") / self.count

    def to_dict(self):
        return {"dist": self.kind, "values": list(self.values)}

    def __repr__(self):
        return f"Choice({self.values})"


class Fixed(Choice):
    kind = "fixed"

    def __init__(self, value, what: str = "parameter"):
        super().__init__([value], what)

    def sample(self, rng, size):
        return np.full(size, self._array[0])  # consumes no randomness

    def to_dict(self):
        return {"dist": self.kind, "value": self.values[0]}


DISTRIBUTIONS = {"uniform": Uniform, "log_uniform": LogUniform, "power_of_two": PowerOfTwo, "choice": Choice,
                 "fixed": Fixed}


def distribution_from_dict(data, what: str = "parameter") -> Distribution:
    """{'dist': 'log_uniform', 'low': 8, 'high': 1024, 'step': 8} (or a bare number = fixed) -> Distribution."""
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return Fixed(data, what)
    if not isinstance(data, dict):
        raise DesignspaceError(f"{what}: expected a number or a mapping with 'dist', got {data!r}")
    kind = data.get("dist")
    if kind not in DISTRIBUTIONS:
        raise DesignspaceError(f"{what}: 'dist' must be one of {', '.join(DISTRIBUTIONS)}, got {kind!r}")
    allowed = {"uniform": {"low", "high", "step"}, "log_uniform": {"low", "high", "step"},
               "power_of_two": {"low", "high"}, "choice": {"values"}, "fixed": {"value"}}[kind]
    unknown = sorted(set(data) - allowed - {"dist"})
    if unknown:
        raise DesignspaceError(f"{what}: unknown key(s) {', '.join(unknown)} for dist {kind} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(k for k in allowed if k not in data and k != "step")
    if missing:
        raise DesignspaceError(f"{what}: dist {kind} needs {', '.join(missing)}")
    if kind == "choice":
        return Choice(data["values"] if isinstance(data["values"], list) else [data["values"]], what)
    if kind == "fixed":
        return Fixed(data["value"], what)
    if kind == "power_of_two":
        return PowerOfTwo(data["low"], data["high"], what)
    return DISTRIBUTIONS[kind](data["low"], data["high"], data.get("step", 1), what)
