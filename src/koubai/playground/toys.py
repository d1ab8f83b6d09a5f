"""Two-dimensional toy problems, as TensorFlow Playground has: spiral, circles and xor.

Each is two classes of points in the square [-1, 1]², drawn from a seeded generator, so a
network's decision boundary can be drawn over the plane (:func:`grid`).
"""

from __future__ import annotations

import numpy as np

from koubai.datasets import Dataset, from_arrays

#: The plane drawn in the decision-boundary view: [-EXTENT, EXTENT]².
EXTENT = 1.2
N_TRAIN, N_TEST = 600, 300


def _spiral(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms, each turning 1.75 times around the centre."""
    y = rng.integers(0, 2, n)
    r = rng.random(n)
    angle = 1.75 * 2 * np.pi * r + np.pi * y
    x = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    return x + 0.04 * rng.standard_normal((n, 2)), y


def _circles(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A disc of radius 0.4 (class 1) inside a ring from 0.65 to 1 (class 0)."""
    y = rng.integers(0, 2, n)
    r = np.where(y == 1, 0.4 * np.sqrt(rng.random(n)), 0.65 + 0.35 * rng.random(n))
    angle = 2 * np.pi * rng.random(n)
    return np.column_stack([r * np.cos(angle), r * np.sin(angle)]), y


def _xor(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points; class 1 where the two coordinates have the same sign."""
    x = rng.uniform(-1, 1, (n, 2))
    x += np.sign(x) * 0.05  # a small margin along the axes
    return x, (np.sign(x[:, 0]) == np.sign(x[:, 1])).astype(np.int64)


_MAKERS = {"spiral": _spiral, "circles": _circles, "xor": _xor}
TOYS = tuple(_MAKERS)


def make_toy(name: str, seed: int = 0) -> Dataset:
    """The toy ``name`` (spiral, circles or xor): 600 training and 300 test points, float32."""
    if name not in _MAKERS:
        raise ValueError(f"unknown toy {name!r}; choose one of {list(_MAKERS)}")
    rng = np.random.default_rng([seed, 7])
    x_train, y_train = _MAKERS[name](rng, N_TRAIN)
    x_test, y_test = _MAKERS[name](rng, N_TEST)
    return from_arrays(
        x_train.astype(np.float32),
        y_train,
        x_test.astype(np.float32),
        y_test,
        name=name,
        source="koubai.playground.toys",
        normalize=False,
    )


def grid(n: int) -> np.ndarray:
    """The ``n × n`` points where the decision boundary is drawn, row by row from the top."""
    ticks = np.linspace(-EXTENT, EXTENT, n, dtype=np.float32)
    yy, xx = np.meshgrid(ticks[::-1], ticks, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])
