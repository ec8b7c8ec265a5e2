"""Checks of the scalar arguments of :mod:`nllkit.models` and :mod:`nllkit.data`.

Each returns the value as a Python number, or raises ``TypeError`` (not a number of the right
kind; ``bool`` is refused although Python counts it as an ``int``) or ``ValueError`` (out of
range), naming the function, the argument and its value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def integer(value: Any, name: str, func: str, least: int = 0) -> int:
    """An integer of at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{func}: {name}={value!r} must be an integer")
    if value < least:
        bound = "non-negative" if least == 0 else f"at least {least}"
        raise ValueError(f"{func}: {name}={value} must be {bound}")
    return int(value)


def _real(value: Any, name: str, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{func}: {name}={value!r} must be a real number")
    return float(value)


def positive(value: Any, name: str, func: str) -> float:
    """A real number in (0, inf)."""
    if not 0.0 < _real(value, name, func) < math.inf:
        raise ValueError(f"{func}: {name}={value!r} must be positive and finite")
    return float(value)


def nonnegative(value: Any, name: str, func: str, upper: float = math.inf) -> float:
    """A real number in [0, upper)."""
    if not 0.0 <= _real(value, name, func) < upper:
        bound = "" if upper == math.inf else f" and below {upper:g}"
        raise ValueError(f"{func}: {name}={value!r} must be non-negative{bound}")
    return float(value)
