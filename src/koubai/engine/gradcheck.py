"""Gradient checking by central differences, for any layer or network.

The relative error of one tensor is ``‖a − n‖ / max(‖a‖ + ‖n‖, tiny)`` (a the analytic gradient
by back-propagation, n the numerical one); a check reports the maximum over all tensors.
A useful check needs float64, a batch of several samples and a *random* upstream gradient:
with a batch of 1 or an all-ones upstream gradient, batch norm's input gradient is zero for
both methods and the check proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from koubai.engine.layers import Layer
from koubai.errors import GradientCheckError


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed in place, one element at a time, and restored exactly.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: perturbing it perturbs x
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2.0 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, zero_tol: float = 1e-8) -> float:
    """``‖a − n‖ / (‖a‖ + ‖n‖)``; 0 when both gradients are zero.

    "Zero" means every element of both is at most ``zero_tol`` in magnitude: a central
    difference of a loss near 1 with step 1e-6 has round-off noise near 1e-10, so a gradient
    that is exactly zero (the bias of an affine layer followed by batch norm, say) comes out
    as noise of that size and its relative error would be meaningless.
    """
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0)) <= zero_tol:
        return 0.0
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / denom)


@dataclass
class GradCheckResult:
    """Relative error per checked tensor (``"x"`` is the input) and their maximum."""

    errors: dict[str, float] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def ok(self, tol: float = 1e-6) -> bool:
        return self.max_error <= tol

    def __str__(self) -> str:
        rows = "\n".join(f"  {k:<20} {v:.3e}" for k, v in self.errors.items())
        return f"gradient check, max relative error {self.max_error:.3e}\n{rows}"


def check_layer(
    layer: Layer,
    x: np.ndarray,
    *,
    train: bool = True,
    rng: np.random.Generator | None = None,
    eps: float = 1e-6,
    before_forward: Callable[[], None] | None = None,
) -> GradCheckResult:
    """Check a layer's ``backward`` (input and parameter gradients) by central differences.

    The scalar checked is ``L = sum(forward(x) * G)`` with a random upstream gradient G.

    Args:
        layer: the layer, with float64 parameters.
        x: the input batch, float64 (copied; not modified).
        train: the mode passed to ``forward``.
        rng: generator for G. Default: ``default_rng(0)``.
        eps: finite-difference step. Default: 1e-6.
        before_forward: called before every forward pass, e.g. to replay a dropout mask.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, dtype=np.float64)
    hook = before_forward or (lambda: None)
    hook()
    y = layer.forward(x, train=train)
    upstream = rng.standard_normal(y.shape)
    upstream_copy = upstream.copy()
    dx = layer.backward(upstream)
    if not np.array_equal(upstream, upstream_copy):
        raise GradientCheckError(f"{layer!r}.backward modified its argument")
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}

    def scalar() -> float:
        hook()
        return float(np.sum(layer.forward(x, train=train) * upstream))

    result = GradCheckResult()
    result.errors["x"] = relative_error(analytic["x"], numerical_gradient(scalar, x, eps))
    for name, p in layer.params.items():
        result.errors[name] = relative_error(analytic[name], numerical_gradient(scalar, p, eps))
    return result


def check_model(net, x: np.ndarray, t: np.ndarray, *, eps: float = 1e-6) -> GradCheckResult:
    """Check ``net.gradient(x, t)`` against central differences of ``net.loss(x, t)``.

    The network must be float64 and deterministic (no dropout) for the check to mean anything.
    """
    analytic = {k: g.copy() for k, g in net.gradient(x, t).items()}
    result = GradCheckResult()
    for name in net.params:
        p = net.params[name]
        numeric = numerical_gradient(lambda: net.loss(x, t, train=True), p, eps)
        result.errors[name] = relative_error(analytic[name], numeric)
    return result
