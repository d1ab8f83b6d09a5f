"""The small argument checks that every layer shares, each written once.

Each returns the value in its canonical form or raises :class:`~koubai.errors.ConfigError`
naming the argument (``what``), the value it got and what is valid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from koubai.errors import ConfigError

#: Languages of labels, reports and messages.
LANGUAGES: tuple[str, ...] = ("en", "ja")

#: Floating-point types the engine computes in.
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_int(value: Any, what: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number in ``[minimum, maximum]`` (``True`` and ``2.5`` are refused)."""
    if not _is_int(value):
        raise ConfigError(f"{what} must be a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        upper = f" and at most {maximum:,}" if maximum is not None else ""
        raise ConfigError(f"{what} must be {kind}{upper}, got {value!r}")
    return int(value)


def check_number(
    value: Any, what: str, *, minimum: float | None = None, positive: bool = False
) -> float:
    """A finite real number (``"0.1"`` and ``True`` are refused), ``> 0`` or ``>= minimum``."""
    bound = " > 0" if positive else f" >= {minimum:g}" if minimum is not None else ""
    is_number = isinstance(value, int | float | np.integer | np.floating)
    if isinstance(value, bool) or not is_number:
        raise ConfigError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number{bound}, got {value!r}")
    if (positive and value <= 0) or (minimum is not None and value < minimum):
        raise ConfigError(f"{what} must be a finite number{bound}, got {value!r}")
    return float(value)


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed: a whole number >= 0."""
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"{what} must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_float_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    """``float32`` or ``float64`` (a name, a type or a ``np.dtype``) as a ``np.dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"unknown {what} {dtype!r}; choose one of {list(FLOAT_DTYPES)}") from None
    if dt.name not in FLOAT_DTYPES:
        raise ConfigError(f"unsupported {what} {dt.name!r}; choose one of {list(FLOAT_DTYPES)}")
    return dt


def check_language(lang: Any) -> str:
    """``"en"`` or ``"ja"``."""
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")
    return lang


def check_choice(value: Any, what: str, valid) -> str:
    """One of ``valid`` (a collection of names)."""
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; choose one of {sorted(valid)}")
    return value
