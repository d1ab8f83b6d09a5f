"""Weight initializers, by name, with the formula each name really means.

Every initializer draws a weight matrix of shape ``(fan_in, fan_out)`` from an explicit
``numpy.random.Generator``. ``n ~ N(0, 1)`` below means ``rng.standard_normal``.

====================  ============================================  ==============================
name                  formula                                       known as
====================  ============================================  ==============================
``gauss``             ``std * n`` (``std`` default 0.01)            the course's baseline
``xavier``            ``n / sqrt(fan_in)``                          the course's "Xavier" (this is
                                                                    LeCun-normal, *not* Glorot's)
``lecun_normal``      ``n / sqrt(fan_in)``                          LeCun et al. 1998
``lecun_uniform``     ``U(-a, a)``, ``a = sqrt(3 / fan_in)``        LeCun et al. 1998
``standard_uniform``  ``U(-a, a)``, ``a = 1 / sqrt(fan_in)``        Glorot & Bengio 2010's
                                                                    "standard" heuristic (eq. 1):
                                                                    variance ``1 / (3 fan_in)``
``glorot_normal``     ``n * sqrt(2 / (fan_in + fan_out))``          Glorot & Bengio 2010
``glorot_uniform``    ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``  Glorot & Bengio 2010
``he``                ``n * sqrt(2 / fan_in)``                      He et al. 2015 (= ``he_normal``)
``he_normal``         ``n * sqrt(2 / fan_in)``                      He et al. 2015
``he_uniform``        ``U(-a, a)``, ``a = sqrt(6 / fan_in)``        He et al. 2015
``zeros``             ``0``                                         breaks nothing but symmetry
====================  ============================================  ==============================

The course (and its seed note) call ``randn / sqrt(n_in)`` "Xavier". Glorot & Bengio's
initialization averages fan-in and fan-out; the two agree only when ``fan_in == fan_out``.
Both are offered, under names that say which is which. Glorot & Bengio compare their
"normalized" initialization (``glorot_uniform``) with the "commonly used heuristic" they call
"standard", ``U[-1/sqrt(n), 1/sqrt(n)]`` with ``n`` the previous layer's width: that is
``standard_uniform`` here, whose variance ``1 / (3 fan_in)`` shrinks the signal by about a third
per layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from koubai.errors import ConfigError


@dataclass(frozen=True)
class Initializer:
    """One initializer: a distribution and its scale, the formula written once.

    Attributes:
        name: the name it is known by here.
        distribution: ``"normal"`` (``scale * n``), ``"uniform"`` (``U(-scale, scale)``) or
            ``"zeros"``.
        scale: ``scale(fan_in, fan_out, std)``: the normal's standard deviation, or the uniform's
            bound ``a``; ``std`` is the ``gauss`` initializer's setting, ignored by the others.
    """

    name: str
    distribution: Literal["normal", "uniform", "zeros"]
    scale: Callable[[int, int, float], float]

    def std(self, fan_in: int, fan_out: int, std: float = 0.01) -> float:
        """The standard deviation of the weights it draws, derived from :attr:`scale`:
        a normal's scale, a uniform ``U(-a, a)``'s ``a / sqrt(3)``, zeros' 0."""
        a = self.scale(fan_in, fan_out, std)
        return {"normal": a, "uniform": a / math.sqrt(3.0), "zeros": 0.0}[self.distribution]

    def draw(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, *, dtype, std: float = 0.01
    ) -> np.ndarray:
        """A ``(fan_in, fan_out)`` matrix in ``dtype``."""
        shape = (fan_in, fan_out)
        a = self.scale(fan_in, fan_out, std)
        if self.distribution == "normal":
            with np.errstate(over="ignore"):  # a huge gauss std: inf weights, a run that diverges
                return (rng.standard_normal(shape) * a).astype(dtype, copy=False)
        if self.distribution == "uniform":
            return rng.uniform(-a, a, size=shape).astype(dtype, copy=False)
        return np.zeros(shape, dtype=dtype)


def _table(*rows: Initializer) -> dict[str, Initializer]:
    return {row.name: row for row in rows}


#: Every initializer by name; each row is the formula in the module's table above.
INITIALIZERS: dict[str, Initializer] = _table(
    Initializer("gauss", "normal", lambda fan_in, fan_out, std: std),
    Initializer("xavier", "normal", lambda fan_in, fan_out, std: math.sqrt(1.0 / fan_in)),
    Initializer("lecun_normal", "normal", lambda fan_in, fan_out, std: math.sqrt(1.0 / fan_in)),
    Initializer("lecun_uniform", "uniform", lambda fan_in, fan_out, std: math.sqrt(3.0 / fan_in)),
    Initializer(
        "standard_uniform", "uniform", lambda fan_in, fan_out, std: math.sqrt(1.0 / fan_in)
    ),
    Initializer(
        "glorot_normal", "normal", lambda fan_in, fan_out, std: math.sqrt(2.0 / (fan_in + fan_out))
    ),
    Initializer(
        "glorot_uniform",
        "uniform",
        lambda fan_in, fan_out, std: math.sqrt(6.0 / (fan_in + fan_out)),
    ),
    Initializer("he", "normal", lambda fan_in, fan_out, std: math.sqrt(2.0 / fan_in)),
    Initializer("he_normal", "normal", lambda fan_in, fan_out, std: math.sqrt(2.0 / fan_in)),
    Initializer("he_uniform", "uniform", lambda fan_in, fan_out, std: math.sqrt(6.0 / fan_in)),
    Initializer("zeros", "zeros", lambda fan_in, fan_out, std: 0.0),
)


def check_initializer(name: str) -> str:
    """Return ``name`` if it is a known initializer, else raise a ``ConfigError`` listing them."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ConfigError(f"unknown initializer {name!r}; choose one of {sorted(INITIALIZERS)}")
    return name


def expected_std(name: str, fan_in: int, fan_out: int, *, std: float = 0.01) -> float:
    """The standard deviation that initializer ``name`` targets (derived from its formula)."""
    return INITIALIZERS[check_initializer(name)].std(fan_in, fan_out, std)


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
    init = INITIALIZERS[check_initializer(name)]
    if name == "gauss" and not (std >= 0 and math.isfinite(std)):
        raise ConfigError(f"gauss std must be a finite number >= 0, got {std!r}")
    return init.draw(rng, fan_in, fan_out, dtype=dtype, std=std)
