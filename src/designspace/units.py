"""Human-friendly numbers: 400e6, 400M, 0.4G, 3.5k; bands LO:HI with either side open."""
from __future__ import annotations

import math
import re

from .errors import DesignspaceError

_SUFFIX = {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9, "t": 1e12, "T": 1e12}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMgGtT]?)(?:[fF]|[fF][lL][oO][pP][sS]|[bB])?\s*$")


def parse_number(text, what: str = "number") -> float:
    """400e6, 400M, 400MF, 0.4G, 3.5k -> float. Raises DesignspaceError naming `what`."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _NUMBER.match(str(text))
        if not m:
            raise DesignspaceError(f"{what}: cannot read {text!r} as a number (examples: 400e6, 400M, 0.4G)")
        value = float(m.group(1)) * _SUFFIX[m.group(2)]
    if not math.isfinite(value):
        raise DesignspaceError(f"{what}: {text!r} is not finite")
    return value


def parse_band(text, what: str = "band") -> tuple[float | None, float | None]:
    """'LO:HI', 'LO:' or ':HI' (or a [lo, hi] pair) -> (lo, hi); None is an open side."""
    if text is None:
        return (None, None)
    if isinstance(text, (list, tuple)):
        if len(text) != 2:
            raise DesignspaceError(f"{what}: a band is [low, high], got {text!r}")
        lo, hi = text
    else:
        if ":" not in str(text):
            raise DesignspaceError(f"{what}: a band is LO:HI (either side may be empty), got {text!r}")
        lo, hi = str(text).split(":", 1)
        lo, hi = lo.strip() or None, hi.strip() or None
    lo = None if lo is None else parse_number(lo, what)
    hi = None if hi is None else parse_number(hi, what)
    if lo is not None and hi is not None and lo > hi:
        raise DesignspaceError(f"{what}: low end {lo:g} is above high end {hi:g}")
    return (lo, hi)


def format_count(x: float) -> str:
    """4089185256 -> '4.09G' (for tables)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"
