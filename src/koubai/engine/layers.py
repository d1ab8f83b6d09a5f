"""Layers with hand-written forward and backward passes: the chain rule, written out.

Every layer of the engine has the same interface:

* ``params`` — learnable arrays by name (``"W"``, ``"b"``, ``"gamma"``, ``"beta"``);
* ``grads`` — the same keys, written by :meth:`Layer.backward`;
* ``state`` — buffers an optimizer must never touch (batch norm's running statistics);
* ``forward(x, *, train)`` caches what the backward pass needs and returns the output;
* ``backward(dout)`` returns ``dL/dx`` given ``dL/dy`` and never modifies ``dout``;
* ``frozen`` — names of parameters the training leaves alone (as ``requires_grad=False``);
* ``infer(x, inplace=...)`` is the inference-mode output (``forward(x, train=False)``, the same
  numbers) with nothing cached: a network can be evaluated while another thread trains a copy,
  and ``inplace=True`` lets the layer overwrite ``x`` when the caller owns it.

Each layer reads top to bottom as the textbook does: the formula (docstring), ``forward``, then
``backward``, the chain rule. The speed path, ``infer``, comes after them, fenced by a comment.

Caches live in attributes whose names start with ``_``; they are not part of a layer's state, so
``copy.deepcopy`` (and pickling) leave them out.

Shapes are written ``(N, D)``: N samples in the batch, D features.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from koubai.engine import functions as F
from koubai.engine.init import initialize
from koubai.errors import ConfigError


class Layer:
    """Base class: a differentiable map with its parameters, gradients and buffers."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.frozen: set[str] = set()

    def freeze(self, *names: str) -> None:
        """Leave these parameters out of training (all of them when no name is given)."""
        unknown = set(names) - set(self.params)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} has no parameter {sorted(unknown)}; "
                f"it has {list(self.params)}"
            )
        self.frozen |= set(names or self.params)

    def unfreeze(self, *names: str) -> None:
        """Train these parameters again (all of them when no name is given)."""
        self.frozen -= set(names or self.params)

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __getstate__(self) -> dict:
        # Parameters, gradients, buffers and settings; the forward pass's caches stay behind.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def copy(self) -> Layer:
        """The same layer with its own copies of ``params`` and ``state``; no gradients, no
        caches. Other settings (a dropout layer's generator, say) are shared."""
        twin = copy.copy(self)  # through __getstate__: without the caches
        twin.params = {k: v.copy() for k, v in self.params.items()}
        twin.state = {k: v.copy() for k, v in self.state.items()}
        twin.grads = {}
        twin.frozen = set(self.frozen)
        return twin

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


BiasInit = Literal["zeros", "normal"]
BIAS_INITS: tuple[str, ...] = ("zeros", "normal")


def init_bias(
    name: str, rng: np.random.Generator, size: int, *, dtype=np.float64, std: float = 1.0
) -> np.ndarray:
    """A bias vector: ``"zeros"``, or ``"normal"``: ``std * n`` with ``n ~ N(0, 1)``
    (Nielsen's networks start with biases from N(0, 1)). Only ``"normal"`` draws from ``rng``."""
    if name not in BIAS_INITS:
        raise ConfigError(f"unknown bias initializer {name!r}; choose one of {list(BIAS_INITS)}")
    if name == "zeros":
        return np.zeros(size, dtype=dtype)
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not 0 <= std < math.inf:
        raise ConfigError(f"bias_std must be a finite number >= 0, got {std!r}")
    return (rng.standard_normal(size) * std).astype(dtype, copy=False)


def _check_2d(layer: str, x: np.ndarray, width: int | None = None) -> None:
    if x.ndim != 2:
        raise ConfigError(f"{layer} expects 2-D input (N, D), got shape {x.shape}")
    if width is not None and x.shape[1] != width:
        raise ConfigError(f"{layer} expects input of width {width}, got shape {x.shape}")


class Affine(Layer):
    r"""Fully connected layer :math:`y = x W + b`.

    Backward (chain rule): :math:`\partial L/\partial W = x^\top \delta`,
    :math:`\partial L/\partial b = \sum_n \delta_n`, :math:`\partial L/\partial x = \delta W^\top`,
    where :math:`\delta = \partial L/\partial y`.

    Args:
        fan_in: input width.
        fan_out: output width.
        init: initializer name (see :mod:`koubai.engine.init`). Default: ``"xavier"``.
        rng: random generator for the weights. Default: ``default_rng(0)``.
        dtype: parameter dtype. Default: float64.
        init_std: std for the ``gauss`` initializer. Default: 0.01.
        bias_init: ``"zeros"`` or ``"normal"`` (each bias drawn from N(0, bias_std²), after the
            weights and from the same generator: Nielsen's ``default_weight_initializer`` draws
            biases from N(0, 1)). Default: ``"zeros"``.
        bias_std: the standard deviation of the ``"normal"`` bias initializer. Default: 1.0.
        input_grad: whether ``backward`` computes :math:`\partial L/\partial x` (else it returns
            None). A network's first layer needs no gradient with respect to the data, and
            :math:`\delta W^\top` costs as much as :math:`x^\top \delta`: :class:`MLP` turns it
            off there. Default: True.
    Shape: ``(N, fan_in) -> (N, fan_out)``; ``W`` is ``(fan_in, fan_out)``, ``b`` is ``(fan_out,)``.
    """

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        *,
        init: str = "xavier",
        rng: np.random.Generator | None = None,
        dtype=np.float64,
        init_std: float = 0.01,
        bias_init: BiasInit = "zeros",
        bias_std: float = 1.0,
        input_grad: bool = True,
    ) -> None:
        super().__init__()
        rng = np.random.default_rng(0) if rng is None else rng
        self.fan_in, self.fan_out = fan_in, fan_out
        self.input_grad = bool(input_grad)
        self.params["W"] = initialize(init, rng, fan_in, fan_out, dtype=dtype, std=init_std)
        self.params["b"] = init_bias(bias_init, rng, fan_out, dtype=dtype, std=bias_std)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        _check_2d("Affine", x, self.fan_in)
        self._x = x
        return x @ self.params["W"] + self.params["b"]  # y = x W + b

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        self.grads["W"] = self._x.T @ dout  # dL/dW = x^T delta
        self.grads["b"] = dout.sum(axis=0)  # dL/db = sum over the batch of delta
        if not self.input_grad:
            return None
        return dout @ self.params["W"].T  # dL/dx = delta W^T

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        y = x @ self.params["W"]  # a new array whatever inplace says: the width changes
        y += self.params["b"]  # in place: y is our own new array
        return y

    def __repr__(self) -> str:
        return f"Affine({self.fan_in}, {self.fan_out})"


class Sigmoid(Layer):
    r"""Logistic activation :math:`y = \sigma(x)`; backward :math:`\delta \cdot y (1 - y)`.

    The local derivative :math:`y(1-y)` is at most 0.25 (at x = 0): every sigmoid layer
    multiplies the backward signal by at most a quarter — the vanishing gradient's root.
    """

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        self._y = F.sigmoid(x)
        return self._y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        y = self._y
        dx = dout * y
        dx *= 1.0 - y  # delta * y * (1 - y), with one new array instead of three
        return dx

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return F.sigmoid(x, out=x if inplace else None)


class Tanh(Layer):
    r"""Hyperbolic tangent :math:`y = \tanh x`; backward :math:`\delta (1 - y^2)`."""

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self._y * self._y)

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return np.tanh(x, out=x if inplace else None)


class ReLU(Layer):
    r"""Rectified linear unit :math:`y = \max(x, 0)`; backward :math:`\delta \cdot [x > 0]`.

    The local derivative is exactly 1 where the unit is active, so it does not shrink the
    backward signal; a unit that is never active ("dead") passes no gradient at all.
    """

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        self._active = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self._active  # a new array: dout is left as it was

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return np.maximum(x, 0, out=x if inplace else None)


class LeakyReLU(Layer):
    r"""Leaky ReLU :math:`y = x` if :math:`x > 0` else :math:`\alpha x`.

    Args:
        negative_slope: :math:`\alpha`. Default: 0.01.
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        self._active = x > 0
        return np.where(self._active, x, x * self.negative_slope)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self._active, dout, dout * self.negative_slope)

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return np.where(x > 0, x, x * self.negative_slope)

    def __repr__(self) -> str:
        return f"LeakyReLU({self.negative_slope})"


@dataclass(frozen=True)
class BatchNormConvention:
    """How a framework keeps batch norm's running statistics.

    Attributes:
        name: the convention's name.
        decay: weight of the *old* running average: ``running = decay·running + (1-decay)·batch``.
            (PyTorch's ``momentum`` is ``1 - decay``; Keras's ``momentum`` is ``decay``.)
        eps: added to the variance before the square root.
        unbiased_running_var: store the batch variance with Bessel's correction ``m/(m-1)``.
        initial_running_var: the running variance before the first batch.
    """

    name: str
    decay: float
    eps: float
    unbiased_running_var: bool
    initial_running_var: float


CONVENTIONS: dict[str, BatchNormConvention] = {
    # The course / "Deep Learning from Scratch": momentum 0.9, eps written 10e-7 (= 1e-6),
    # biased variance, running mean and variance start at 0.
    "course": BatchNormConvention("course", 0.9, 1e-6, False, 0.0),
    # PyTorch: momentum=0.1 is the weight of the new batch, eps 1e-5, unbiased running variance
    # starting at 1.
    "torch": BatchNormConvention("torch", 0.9, 1e-5, True, 1.0),
    # Keras: momentum=0.99 is the weight of the old average, epsilon 1e-3, running variance from 1.
    "keras": BatchNormConvention("keras", 0.99, 1e-3, False, 1.0),
}

ConventionName = Literal["course", "torch", "keras"]


def get_convention(name: str) -> BatchNormConvention:
    """The :class:`BatchNormConvention` called ``name``, or a ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in CONVENTIONS:
        raise ConfigError(
            f"unknown batch-norm convention {name!r}; choose one of {sorted(CONVENTIONS)}"
        )
    return CONVENTIONS[name]


class BatchNorm(Layer):
    r"""Batch normalization over features (Ioffe & Szegedy, 2015).

    Training, per feature over a mini-batch of m samples:

    .. math::
        \mu = \tfrac1m \textstyle\sum_i x_i, \quad
        \sigma^2 = \tfrac1m \textstyle\sum_i (x_i - \mu)^2, \quad
        \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad
        y_i = \gamma \hat x_i + \beta

    and the running statistics move toward the batch's. Inference uses the running statistics
    instead of the batch's. Backward (training), the compact form of the chain rule:

    .. math::
        \frac{\partial L}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}
        \Big(m\,\delta_i - \textstyle\sum_j \delta_j
        - \hat x_i \textstyle\sum_j \delta_j \hat x_j\Big)

    Args:
        num_features: D, the width of the input.
        convention: ``"course"`` (decay 0.9 on the old average, eps 1e-6, biased variance,
            running statistics start at 0), ``"torch"`` (momentum 0.1 on the new batch, eps 1e-5,
            unbiased running variance starting at 1) or ``"keras"`` (momentum 0.99, eps 1e-3).
            Default: ``"course"``.
        dtype: parameter dtype. Default: float64.
    Shape: ``(N, D) -> (N, D)``; N >= 2 while training.
    """

    def __init__(
        self, num_features: int, *, convention: ConventionName = "course", dtype=np.float64
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.convention = get_convention(convention)
        self.dtype = np.dtype(dtype)
        self.reset_parameters()
        self.reset_running_stats()

    def reset_parameters(self) -> None:
        """γ = 1 and β = 0."""
        self.params["gamma"] = np.ones(self.num_features, dtype=self.dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=self.dtype)

    def reset_running_stats(self) -> None:
        """Running mean 0 and running variance as the convention starts it."""
        c = self.convention
        self.state["running_mean"] = np.zeros(self.num_features, dtype=self.dtype)
        self.state["running_var"] = np.full(self.num_features, c.initial_running_var, self.dtype)

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        _check_2d("BatchNorm", x, self.num_features)
        gamma, beta, c = self.params["gamma"], self.params["beta"], self.convention
        if train:
            m = x.shape[0]
            if m < 2:
                raise ConfigError(
                    f"BatchNorm needs a batch of at least 2 samples while training, got {m}"
                )
            mu = x.mean(axis=0)
            xc = x - mu
            var = (xc * xc).mean(axis=0)
            inv_std = 1.0 / np.sqrt(var + c.eps)
            xhat = xc * inv_std
            batch_var = var * (m / (m - 1)) if c.unbiased_running_var else var
            rm, rv = self.state["running_mean"], self.state["running_var"]
            rm *= c.decay
            rm += (1.0 - c.decay) * mu
            rv *= c.decay
            rv += (1.0 - c.decay) * batch_var
        else:
            inv_std = self._running_inv_std()
            xhat = (x - self.state["running_mean"]) * inv_std
        self._train, self._xhat, self._inv_std = train, xhat, inv_std
        return gamma * xhat + beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat, inv_std, gamma = self._xhat, self._inv_std, self.params["gamma"]
        self.grads["beta"] = dout.sum(axis=0)
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        if not self._train:  # the statistics are constants at inference
            return dout * (gamma * inv_std)
        m = dout.shape[0]
        dxhat = dout * gamma
        return (inv_std / m) * (m * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        # forward(train=False)'s operations in the same order, so the same numbers.
        y = np.subtract(x, self.state["running_mean"], out=x if inplace else None)
        y *= self._running_inv_std()
        y *= self.params["gamma"]
        y += self.params["beta"]
        return y

    def _running_inv_std(self) -> np.ndarray:
        return 1.0 / np.sqrt(self.state["running_var"] + self.convention.eps)

    def __repr__(self) -> str:
        return f"BatchNorm({self.num_features}, convention={self.convention.name!r})"


class Dropout(Layer):
    r"""Inverted dropout: in training keep each unit with probability :math:`1-p` and scale by
    :math:`1/(1-p)`, so inference is the identity.

    Backward: :math:`\delta \cdot \text{mask} / (1-p)` with the mask of the last forward pass.

    Args:
        p: probability of dropping a unit, in [0, 1). Default: 0.5.
        rng: generator for the masks. Default: ``default_rng(0)``.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must lie in [0, 1), got {p!r}")
        self.p = p
        self.rng = np.random.default_rng(0) if rng is None else rng

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        if not train or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float64) >= self.p
        self._scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._scale

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.copy() if self._scale is None else dout * self._scale

    # -- fast path: inference with nothing cached (see Layer.infer) ---------------------------
    def infer(self, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return x  # the identity at inference, as in forward

    def __repr__(self) -> str:
        return f"Dropout({self.p})"


def _check_loss_input(loss: str, logits: np.ndarray, t) -> tuple[int, int, np.ndarray]:
    """A loss layer's inputs: 2-D logits of a non-empty batch, one label row per sample."""
    _check_2d(loss, logits)
    n, c = logits.shape
    if n == 0:
        raise ConfigError("the loss of an empty batch is undefined; give at least 1 sample")
    t = np.asarray(t)
    if t.shape[0] != n:
        raise ConfigError(f"got {t.shape[0]} labels for a batch of {n} samples")
    return n, c, t


class SoftmaxCrossEntropy:
    r"""Softmax followed by the mean cross-entropy loss, fused for stability.

    Forward: :math:`L = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{t_n}`.
    Backward: :math:`\partial L/\partial z = (\mathrm{softmax}(z) - \mathrm{onehot}(t)) / N`.

    Shape: logits ``(N, C)``, labels ``(N,)`` integers or ``(N, C)`` one-hot -> scalar.
    """

    def forward(self, logits: np.ndarray, t: np.ndarray) -> float:
        n, c, t = _check_loss_input("SoftmaxCrossEntropy", logits, t)
        if t.ndim == 2 and t.shape == logits.shape and not np.issubdtype(t.dtype, np.integer):
            # one-hot or soft targets: L = -(1/N) sum_n sum_c t_nc log p_nc
            target = t.astype(logits.dtype, copy=False)
            logp = F.log_softmax(logits)
            self._probs, self._target, self._labels = np.exp(logp), target, None
            return -float(np.vdot(target, logp)) / n
        # class indices: -log p_nt = log sum_c exp(z_nc - m_n) - (z_nt - m_n), m_n = max_c z_nc
        labels = F.labels_to_indices(t, c)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        total = probs.sum(axis=1, keepdims=True)
        loss = float(np.log(total).sum() - shifted[np.arange(n), labels].sum()) / n
        probs /= total
        self._probs, self._target, self._labels = probs, None, labels
        return loss

    def __getstate__(self) -> dict:
        return {}  # only caches

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self._probs.shape[0]
        if self._labels is None:
            return (self._probs - self._target) * (dout / n)
        grad = self._probs * (dout / n)
        grad[np.arange(n), self._labels] -= dout / n  # minus the one-hot target
        return grad


class SigmoidCrossEntropy:
    r"""Sigmoid output units with the binary cross-entropy cost (Nielsen's ``CrossEntropyCost``).

    Each of the C outputs is its own yes/no unit :math:`a = \sigma(z)`, not a share of a softmax;
    the cost sums over the units and averages over the batch:

    .. math::
        L = -\frac1N \sum_n \sum_c \big[y_{nc} \log a_{nc} + (1 - y_{nc}) \log(1 - a_{nc})\big]

    Forward, stable for any z: with :math:`\mathrm{softplus}(z) = \log(1 + e^z)`, each term is
    :math:`\mathrm{softplus}(z) - y z` (as :math:`-\log\sigma(z) = \mathrm{softplus}(-z)` and
    :math:`-\log(1-\sigma(z)) = \mathrm{softplus}(z)`).

    Backward (chain rule): :math:`\partial L/\partial a = (a - y) / (a(1-a)N)` and
    :math:`\partial a/\partial z = a(1-a)`: the :math:`\sigma'` cancels, so
    :math:`\partial L/\partial z = (\sigma(z) - y)/N`. That cancellation is why Nielsen chose
    this cost: a saturated *output* unit does not slow its own learning (a quadratic cost would
    keep the factor :math:`\sigma'(z)`).

    Shape: logits ``(N, C)``, labels ``(N,)`` integers or ``(N, C)`` one-hot (or any targets in
    [0, 1]) -> scalar.
    """

    def forward(self, logits: np.ndarray, t: np.ndarray) -> float:
        n, c, t = _check_loss_input("SigmoidCrossEntropy", logits, t)
        if t.ndim == 2 and t.shape == logits.shape and not np.issubdtype(t.dtype, np.integer):
            target = t.astype(logits.dtype, copy=False)
        else:  # class indices -> one-hot rows
            target = np.zeros_like(logits)
            target[np.arange(n), F.labels_to_indices(t, c)] = 1.0
        softplus = np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits)))  # log(1 + e^z)
        self._probs, self._target = F.sigmoid(logits), target
        return float((softplus - target * logits).sum()) / n  # sum_c, mean_n

    def __getstate__(self) -> dict:
        return {}  # only caches

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self._probs.shape[0]
        return (self._probs - self._target) * (dout / n)  # (sigma(z) - y) / N


#: The output layers a network can end with, by the name :class:`~koubai.engine.MLP` takes.
LOSSES: dict[str, type] = {"softmax": SoftmaxCrossEntropy, "sigmoid_bce": SigmoidCrossEntropy}
