"""Weight initializers, by name, with the formula each name really means.

Every initializer draws a weight matrix of shape ``(fan_in, fan_out)`` from an explicit
``numpy.random.Generator``. ``n ~ N(0, 1)`` below means ``rng.standard_normal``.

==================  ============================================  ==============================
name                formula                                       known as
==================  ============================================  ==============================
``gauss``           ``std * n`` (``std`` default 0.01)            the course's baseline
``xavier``          ``n / sqrt(fan_in)``                          the course's "Xavier" (this is
                                                                  LeCun-normal, *not* Glorot's)
``lecun_normal``    ``n / sqrt(fan_in)``                          LeCun et al. 1998
``lecun_uniform``   ``U(-a, a)``, ``a = sqrt(3 / fan_in)``        LeCun et al. 1998
``glorot_normal``   ``n * sqrt(2 / (fan_in + fan_out))``          Glorot & Bengio 2010
``glorot_uniform``  ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``  Glorot & Bengio 2010
``he``              ``n * sqrt(2 / fan_in)``                      He et al. 2015 (= ``he_normal``)
``he_normal``       ``n * sqrt(2 / fan_in)``                      He et al. 2015
``he_uniform``      ``U(-a, a)``, ``a = sqrt(6 / fan_in)``        He et al. 2015
``zeros``           ``0``                                         breaks nothing but symmetry
==================  ============================================  ==============================

The course (and its seed note) call ``randn / sqrt(n_in)`` "Xavier". Glorot & Bengio's
initialization averages fan-in and fan-out; the two agree only when ``fan_in == fan_out``.
Both are offered, under names that say which is which.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[..., np.ndarray]


def _normal(rng: np.random.Generator, shape: tuple[int, int], std: float, dtype) -> np.ndarray:
    return (rng.standard_normal(shape) * std).astype(dtype, copy=False)


def _uniform(rng: np.random.Generator, shape: tuple[int, int], limit: float, dtype) -> np.ndarray:
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def gauss(rng, fan_in: int, fan_out: int, *, dtype=np.float64, std: float = 0.01) -> np.ndarray:
    """Plain Gaussian ``N(0, std²)`` with a fixed ``std`` (default 0.01, the course's baseline)."""
    if not (std >= 0 and math.isfinite(std)):
        raise ValueError(f"gauss std must be a finite number >= 0, got {std!r}")
    return _normal(rng, (fan_in, fan_out), std, dtype)


def xavier(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """The course's "Xavier": ``randn(fan_in, fan_out) / sqrt(fan_in)`` (= LeCun-normal)."""
    return _normal(rng, (fan_in, fan_out), math.sqrt(1.0 / fan_in), dtype)


def lecun_normal(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """LeCun-normal: ``N(0, 1 / fan_in)``."""
    return _normal(rng, (fan_in, fan_out), math.sqrt(1.0 / fan_in), dtype)


def lecun_uniform(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """LeCun-uniform: ``U(-a, a)`` with ``a = sqrt(3 / fan_in)`` (variance ``1 / fan_in``)."""
    return _uniform(rng, (fan_in, fan_out), math.sqrt(3.0 / fan_in), dtype)


def glorot_normal(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """Glorot & Bengio (2010), normal: ``N(0, 2 / (fan_in + fan_out))``."""
    return _normal(rng, (fan_in, fan_out), math.sqrt(2.0 / (fan_in + fan_out)), dtype)


def glorot_uniform(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """Glorot & Bengio (2010), uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    return _uniform(rng, (fan_in, fan_out), math.sqrt(6.0 / (fan_in + fan_out)), dtype)


def he_normal(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """He et al. (2015), normal: ``randn * sqrt(2 / fan_in)``; the course's choice for ReLU."""
    return _normal(rng, (fan_in, fan_out), math.sqrt(2.0 / fan_in), dtype)


def he_uniform(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """He et al. (2015), uniform: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``."""
    return _uniform(rng, (fan_in, fan_out), math.sqrt(6.0 / fan_in), dtype)


def zeros(rng, fan_in: int, fan_out: int, *, dtype=np.float64) -> np.ndarray:
    """All zeros: every unit of a layer gets the same update, so symmetry is never broken."""
    return np.zeros((fan_in, fan_out), dtype=dtype)


INITIALIZERS: dict[str, Initializer] = {
    "gauss": gauss,
    "xavier": xavier,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "zeros": zeros,
}


def expected_std(name: str, fan_in: int, fan_out: int, *, std: float = 0.01) -> float:
    """The standard deviation that initializer ``name`` targets (useful for checks and docs)."""
    name = check_initializer(name)
    return {
        "gauss": std,
        "xavier": math.sqrt(1.0 / fan_in),
        "lecun_normal": math.sqrt(1.0 / fan_in),
        "lecun_uniform": math.sqrt(1.0 / fan_in),
        "glorot_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "glorot_uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "he": math.sqrt(2.0 / fan_in),
        "he_normal": math.sqrt(2.0 / fan_in),
        "he_uniform": math.sqrt(2.0 / fan_in),
        "zeros": 0.0,
    }[name]


def check_initializer(name: str) -> str:
    """Return ``name`` if it is a known initializer, else raise a ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of {sorted(INITIALIZERS)}")
    return name


def initialize(
    name: str,
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    *,
    dtype=np.float64,
    std: float = 0.01,
) -> np.ndarray:
    """Draw a ``(fan_in, fan_out)`` weight matrix with initializer ``name``.

    Args:
        name: one of :data:`INITIALIZERS`.
        rng: the generator every random number comes from.
        fan_in: number of inputs of the layer.
        fan_out: number of outputs of the layer.
        dtype: dtype of the result. Default: float64.
        std: standard deviation for ``gauss`` (ignored by the others). Default: 0.01.

    Example:
        >>> W = initialize("he", np.random.default_rng(0), 784, 40)
        >>> W.shape
        (784, 40)
    """
    fn = INITIALIZERS[check_initializer(name)]
    if fn is gauss:
        return fn(rng, fan_in, fan_out, dtype=dtype, std=std)
    return fn(rng, fan_in, fan_out, dtype=dtype)
