"""The multi-layer perceptron of the course: Affine → [BatchNorm] → activation → [Dropout] …

``MLP(784, [40, 20], 10)`` builds ``Affine(784,40) Sigmoid Affine(40,20) Sigmoid Affine(20,10)``
followed by softmax cross-entropy. Parameters are addressed by stable names of the form
``"layers.<i>.<param>"`` where ``i`` indexes :attr:`MLP.layers`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Literal

import numpy as np

from koubai.checks import check_choice, check_float_dtype, check_number, check_seed
from koubai.engine.init import check_initializer
from koubai.engine.layers import (
    BIAS_INITS,
    LOSSES,
    Affine,
    BatchNorm,
    Dropout,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    get_convention,
)
from koubai.errors import ConfigError

ACTIVATIONS: dict[str, type[Layer]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
}

Activation = Literal["sigmoid", "tanh", "relu", "leaky_relu"]


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise a ``ConfigError`` listing them."""
    return check_choice(name, "activation", ACTIVATIONS)


class Parameters(MutableMapping):
    """A live view of a network's learnable arrays, keyed ``"layers.<i>.<name>"``.

    Reading gives the layer's own array (so in-place updates train the net); assigning copies
    the new values into that array after checking the shape and dtype. Keys cannot be added or
    removed.
    """

    def __init__(self, layers: Sequence[Layer], which: str = "params") -> None:
        self._layers = layers
        self._which = which

    def _split(self, key: str) -> tuple[Layer, str]:
        try:
            prefix, index, name = key.split(".")
            layer = self._layers[int(index)]
            if prefix != "layers" or name not in getattr(layer, self._which):
                raise KeyError(key)
        except (ValueError, IndexError, KeyError):
            raise KeyError(f"no parameter {key!r}; the parameters are {list(self)}") from None
        return layer, name

    def __getitem__(self, key: str) -> np.ndarray:
        layer, name = self._split(key)
        return getattr(layer, self._which)[name]

    def __setitem__(self, key: str, value) -> None:
        """Copy ``value`` into the existing array (as ``load_state_dict`` does): whoever holds
        the array (an optimizer, the training loop) sees the new values. A shape mismatch, or
        a value that cannot become this array's dtype (``same_kind`` casting), is an error."""
        layer, name = self._split(key)
        old = getattr(layer, self._which)[name]
        value = np.asarray(value)
        if value is old:  # ``net.params[k] -= g`` lands here, already updated in place
            return
        if value.shape != old.shape:
            raise ConfigError(f"{key} has shape {old.shape}, got an array of shape {value.shape}")
        if not np.can_cast(value.dtype, old.dtype, casting="same_kind"):
            raise ConfigError(f"{key} holds {old.dtype}, got an array of dtype {value.dtype}")
        np.copyto(old, value, casting="same_kind")

    def __delitem__(self, key: str) -> None:
        raise TypeError("parameters cannot be removed from a network")

    def __iter__(self) -> Iterator[str]:
        for i, layer in enumerate(self._layers):
            for name in getattr(layer, self._which):
                yield f"layers.{i}.{name}"

    def __len__(self) -> int:
        return sum(len(getattr(layer, self._which)) for layer in self._layers)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k!r}: {v.shape}" for k, v in self.items())
        return f"{type(self).__name__}({{{shapes}}})"


class Trainable:
    """A network's trainable arrays by name (:attr:`params`, the layers' own arrays) and their
    gradients after each backward pass (:meth:`grads`), for ``optimizer.step(params, grads())``.

    Built once (:meth:`MLP.trainable`): no name is made or parsed per step. Backward passes write
    new gradient arrays, so :meth:`grads` reads them each time.
    """

    def __init__(self, slots: list[tuple[str, Layer, str]]) -> None:
        self.params: dict[str, np.ndarray] = {name: layer.params[key] for name, layer, key in slots}
        self._slots = [(name, layer.grads, key) for name, layer, key in slots]

    def grads(self) -> dict[str, np.ndarray]:
        """The gradient of every trainable parameter, from the last backward pass."""
        return {name: grads[key] for name, grads, key in self._slots}

    def __repr__(self) -> str:
        return f"Trainable({list(self.params)})"


class MLP:
    r"""A fully connected network trained with softmax cross-entropy (or sigmoid outputs with
    the binary cross-entropy, ``loss="sigmoid_bce"``).

    Each hidden layer is ``Affine → [BatchNorm] → activation → [Dropout]`` (batch norm after
    the affine map and before the activation, as in the course); the output layer is ``Affine``.
    The loss adds the L2 penalty :math:`\tfrac\lambda2 \sum \|W\|^2` when ``weight_decay`` > 0.

    Args:
        input_size: width of the input (784 for flattened MNIST).
        hidden_sizes: widths of the hidden layers, e.g. ``[40, 20]``; may be empty.
        output_size: number of classes.
        activation: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or ``"leaky_relu"``. Default: sigmoid.
        init: weight initializer name (see :mod:`koubai.engine.init`). Default: ``"xavier"``.
        init_std: standard deviation of the ``gauss`` initializer. Default: 0.01.
        bias_init: ``"zeros"`` or ``"normal"`` (N(0, bias_std²)). Default: ``"zeros"``.
        bias_std: standard deviation of the ``"normal"`` bias initializer. Default: 1.0.
        loss: ``"softmax"`` (softmax + cross-entropy, :class:`SoftmaxCrossEntropy`) or
            ``"sigmoid_bce"`` (a sigmoid per output unit + binary cross-entropy summed over the
            units, Nielsen's ``CrossEntropyCost``: :class:`SigmoidCrossEntropy`). The predicted
            class is the largest logit either way. Default: ``"softmax"``.
        batchnorm: insert batch norm after each hidden affine layer. Default: False.
        bn_convention: ``"course"``, ``"torch"`` or ``"keras"``. Default: ``"course"``.
        bn_affine_trainable: train batch norm's γ and β (False freezes them at 1 and 0, as the
            course's notebook leaves them). Default: True.
        dropout: drop probability after each hidden activation (0 = none). Default: 0.
        weight_decay: L2 coefficient :math:`\lambda` on the weights (not biases). Default: 0.
        seed: seed of the generator behind every random number of this network. Default: 0.
        dtype: ``np.float32`` or ``np.float64``. Default: float32.
    Shape: input ``(N, input_size)``, labels ``(N,)`` or one-hot ``(N, output_size)``.

    Example:
        >>> net = MLP(784, [40, 20], 10, activation="relu", init="he", seed=0)
        >>> list(net.params)[:2]
        ['layers.0.W', 'layers.0.b']
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_size: int,
        *,
        activation: Activation = "sigmoid",
        init: str = "xavier",
        init_std: float = 0.01,
        bias_init: str = "zeros",
        bias_std: float = 1.0,
        loss: str = "softmax",
        batchnorm: bool = False,
        bn_convention: str = "course",
        bn_affine_trainable: bool = True,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        seed: int = 0,
        dtype=np.float32,
    ) -> None:
        hidden_sizes = list(hidden_sizes) if hidden_sizes is not None else []
        for what, size in [("input_size", input_size), ("output_size", output_size)]:
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
                raise ConfigError(f"{what} must be a positive integer, got {size!r}")
        for size in hidden_sizes:
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
                raise ConfigError(f"hidden sizes must be positive integers, got {hidden_sizes!r}")
        if output_size < 2:
            raise ConfigError(f"output_size must be at least 2 classes, got {output_size}")
        check_activation(activation)
        check_initializer(init)
        check_choice(bias_init, "bias_init", BIAS_INITS)
        check_number(bias_std, "bias_std", minimum=0.0)
        check_choice(loss, "loss", LOSSES)
        get_convention(bn_convention)
        if not 0.0 <= check_number(dropout, "dropout") < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        check_number(weight_decay, "weight_decay", minimum=0.0)
        self.config = {
            "input_size": int(input_size),
            "hidden_sizes": [int(h) for h in hidden_sizes],
            "output_size": int(output_size),
            "activation": activation,
            "init": init,
            "init_std": float(init_std),
            "bias_init": bias_init,
            "bias_std": float(bias_std),
            "loss": loss,
            "batchnorm": bool(batchnorm),
            "bn_convention": bn_convention,
            "dropout": float(dropout),
            "weight_decay": float(weight_decay),
            "seed": check_seed(seed),
            "dtype": check_float_dtype(dtype).name,
            "bn_affine_trainable": bool(bn_affine_trainable),
        }
        self.dtype = np.dtype(self.config["dtype"])
        self.weight_decay = float(weight_decay)
        self.rng = np.random.default_rng(seed)

        layers: list[Layer] = []
        sizes = [input_size, *hidden_sizes]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers.append(self._affine(fan_in, fan_out, input_grad=bool(layers)))
            if batchnorm:
                bn = BatchNorm(fan_out, convention=bn_convention, dtype=self.dtype)
                if not bn_affine_trainable:
                    bn.freeze()  # the course's notebook never updates γ and β
                layers.append(bn)
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=self.rng))
        layers.append(self._affine(sizes[-1], output_size, input_grad=bool(layers)))
        self.layers: list[Layer] = layers
        self.loss_layer = LOSSES[loss]()

    def _affine(self, fan_in: int, fan_out: int, *, input_grad: bool) -> Affine:
        # The first layer's dL/dx would be the gradient with respect to the data: not needed.
        c = self.config
        return Affine(
            fan_in,
            fan_out,
            init=c["init"],
            rng=self.rng,
            dtype=self.dtype,
            init_std=c["init_std"],
            bias_init=c["bias_init"],
            bias_std=c["bias_std"],
            input_grad=input_grad,
        )

    # -- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> Parameters:
        """Learnable arrays by name, from input to output, ``W`` before ``b`` (a live view)."""
        return Parameters(self.layers, "params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last backward pass, with the same keys as :attr:`params`."""
        return {
            f"layers.{i}.{k}": layer.grads[k]
            for i, layer in enumerate(self.layers)
            for k in layer.params
            if k in layer.grads
        }

    @property
    def buffers(self) -> Parameters:
        """Non-learnable state (batch norm's running statistics) by name."""
        return Parameters(self.layers, "state")

    def freeze(self, *names: str) -> None:
        """Leave these parameters (``"layers.1.gamma"``, …) out of training, as
        ``requires_grad_(False)`` does; :meth:`trainable` no longer hands them out."""
        for name in names:
            layer, key = self.params._split(name)
            layer.freeze(key)

    def unfreeze(self, *names: str) -> None:
        """Train these parameters again."""
        for name in names:
            layer, key = self.params._split(name)
            layer.unfreeze(key)

    def trainable(self) -> Trainable:
        """The parameters an optimizer updates, and where their gradients appear (frozen ones
        left out): what the training loop asks for once, before its first step."""
        return Trainable(
            [
                (f"layers.{i}.{key}", layer, key)
                for i, layer in enumerate(self.layers)
                for key in layer.params
                if key not in layer.frozen
            ]
        )

    @property
    def affine_indices(self) -> list[int]:
        """Indices in :attr:`layers` of the affine layers, from input to output."""
        return [i for i, layer in enumerate(self.layers) if isinstance(layer, Affine)]

    def weight_names(self) -> list[str]:
        """Names of the weight matrices, from the first layer to the output layer."""
        return [f"layers.{i}.W" for i in self.affine_indices]

    # -- computation --------------------------------------------------------------------------
    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        width = self.config["input_size"]
        if x.ndim != 2 or x.shape[1] != width:
            raise ConfigError(f"input must have shape (N, {width}), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise ConfigError(f"input must be real numbers, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False)

    def predict(
        self, x: np.ndarray, *, train: bool = False, trace: list[np.ndarray] | None = None
    ) -> np.ndarray:
        """Logits ``(N, output_size)`` for input ``(N, input_size)``.

        Args:
            train: use batch statistics and dropout (True) or the inference mode (False).
            trace: if a list is given, each layer's output is appended to it, in order
                (``trace[i]`` is the output of ``layers[i]``): what diagnostics look at.
        """
        out = self._check_input(x)
        for layer in self.layers:
            out = layer.forward(out, train=train)
            if trace is not None:
                trace.append(out)
        return out

    def _penalty(self) -> float:
        if not self.weight_decay:
            return 0.0
        total = sum(float(np.sum(self.layers[i].params["W"] ** 2)) for i in self.affine_indices)
        return 0.5 * self.weight_decay * total

    def loss(
        self,
        x: np.ndarray,
        t: np.ndarray,
        *,
        train: bool = True,
        trace: list[np.ndarray] | None = None,
    ) -> float:
        """Mean cross-entropy (plus the L2 penalty) of a batch, in training mode by default.

        ``trace`` collects every layer's output, as in :meth:`predict`.
        """
        logits = self.predict(x, train=train, trace=trace)
        return self.loss_layer.forward(logits, t) + self._penalty()

    def backward(self, dout: float = 1.0, *, grad_trace: list[np.ndarray] | None = None) -> None:
        """Back-propagate from the last :meth:`loss`, filling every layer's ``grads``.

        Args:
            grad_trace: if a list is given, the error signal reaching each layer is put in it,
                in layer order: ``grad_trace[i]`` is ∂L/∂(output of ``layers[i]``), so for an
                activation at ``i``, ``grad_trace[i - 1]`` is ∂L/∂(its input), the
                back-propagated gradient of Glorot & Bengio's figure 7.
        """
        delta = self.loss_layer.backward(dout)
        deltas = []
        for layer in reversed(self.layers):
            deltas.append(delta)
            delta = layer.backward(delta)
        if grad_trace is not None:
            grad_trace.extend(reversed(deltas))
        if self.weight_decay:
            for i in self.affine_indices:
                layer = self.layers[i]
                layer.grads["W"] = layer.grads["W"] + self.weight_decay * layer.params["W"]

    def forward_backward(
        self,
        x: np.ndarray,
        t: np.ndarray,
        *,
        trace: list[np.ndarray] | None = None,
        grad_trace: list[np.ndarray] | None = None,
    ) -> float:
        """One training-mode forward and backward pass; returns the loss, fills :attr:`grads`.

        ``trace`` collects every layer's output, as in :meth:`predict`; ``grad_trace`` the
        error signal reaching each layer, as in :meth:`backward`.
        """
        loss = self.loss(x, t, train=True, trace=trace)
        self.backward(grad_trace=grad_trace)
        return loss

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` by back-propagation: a dict with the keys of :attr:`params`."""
        self.forward_backward(x, t)
        return self.grads

    # -- fast paths: inference with nothing cached, copies to evaluate while training ---------
    # (the textbook pass is predict/loss/backward above; these give the same numbers, faster)
    def infer(self, x: np.ndarray) -> np.ndarray:
        """Logits in inference mode, as ``predict(x)`` gives them, with nothing cached.

        Each layer may overwrite its input once that input is an array of ours (never ``x``),
        so a pass makes no new array per activation; and since no layer keeps anything, a
        network can be evaluated from several threads at once. :meth:`backward` cannot follow.
        """
        out = x = self._check_input(x)
        for layer in self.layers:
            out = layer.infer(out, inplace=out is not x)
        return out

    def accuracy(self, x: np.ndarray, t: np.ndarray, *, batch_size: int = 10_000) -> float:
        """Share of samples whose arg-max logit is the label (:meth:`infer`, in chunks)."""
        return accuracies([self], x, t, batch_size=batch_size)[0]

    def copy(self) -> MLP:
        """An independent copy: the same parameters, buffers and random state; no gradients and
        no caches (it has not been through a backward pass). 3x faster than ``copy.deepcopy``.

        What an evaluation works on while training changes the original.
        """
        twin = copy.copy(self)
        twin.config = dict(self.config)
        bits = type(self.rng.bit_generator)(0)  # a generator at the same point of its stream
        bits.state = self.rng.bit_generator.state  # (3x faster than deep-copying it)
        twin.rng = np.random.Generator(bits)
        twin.layers = [layer.copy() for layer in self.layers]
        for layer in twin.layers:
            if getattr(layer, "rng", None) is self.rng:  # dropout draws from the network's
                layer.rng = twin.rng
        twin.loss_layer = type(self.loss_layer)()
        return twin

    # -- serialisation (arrays only: the engine does no I/O) -----------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer as arrays, plus the configuration as a JSON string array."""
        out = {k: v.copy() for k, v in self.params.items()}
        out.update({k: v.copy() for k, v in self.buffers.items()})
        out["__config__"] = np.array(json.dumps(self.config))
        return out

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> MLP:
        """Rebuild a network saved by :meth:`state_dict` (no pickle involved)."""
        if "__config__" not in state:
            raise ConfigError("not a koubai network: the '__config__' entry is missing")
        config = json.loads(str(state["__config__"]))
        net = cls(**config)
        expected = set(net.params) | set(net.buffers)
        missing = expected - set(state)
        if missing:
            raise ConfigError(f"saved network lacks {sorted(missing)}")
        for k in net.params:
            net.params[k] = state[k]
        for k in net.buffers:
            net.buffers[k] = state[k]
        return net

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"MLP(\n{inner}\n  loss: {type(self.loss_layer).__name__}\n)"


def accuracies(
    nets: Sequence[MLP], x: np.ndarray, t: np.ndarray, *, batch_size: int = 10_000
) -> list[float]:
    """Each network's :meth:`MLP.accuracy` on the same data, the first layers' products as one.

    The networks must share the input layer's shape and the dtype (copies of one network at
    several points of its training, say). Their first-layer products become one product
    ``x @ [W_1 | W_2 | ...]``: the first layer is most of an evaluation's arithmetic, and a
    product 160 columns wide runs at ~1.3x the FLOP rate of four 40 columns wide
    (``benchmarks/bench_matmul.py --threads 1``). Every number is a dot product of the same
    length as in a network's own pass; the rest of each network runs on its own slice.
    """
    from koubai.engine.functions import labels_to_indices

    if not nets:
        return []
    first = nets[0]
    width = first.layers[0].fan_out
    for net in nets:
        if net.config["input_size"] != first.config["input_size"] or net.dtype != first.dtype:
            raise ConfigError("accuracies() needs networks with the same input width and dtype")
        if not isinstance(net.layers[0], Affine) or net.layers[0].fan_out != width:
            raise ConfigError("accuracies() needs networks whose first layers have one shape")
    x = np.asarray(x)
    labels = labels_to_indices(t, first.config["output_size"])
    if labels.shape[0] != x.shape[0]:
        raise ConfigError(f"got {labels.shape[0]} labels for {x.shape[0]} samples")
    if x.shape[0] == 0:
        raise ConfigError("accuracy of an empty set is undefined")
    if len(nets) == 1:
        w, b = first.layers[0].params["W"], first.layers[0].params["b"]
    else:
        w = np.concatenate([net.layers[0].params["W"] for net in nets], axis=1)
        b = np.concatenate([net.layers[0].params["b"] for net in nets])
    correct = [0] * len(nets)
    for start in range(0, x.shape[0], batch_size):
        h = first._check_input(x[start : start + batch_size]) @ w
        h += b
        target = labels[start : start + batch_size]
        for j, net in enumerate(nets):
            out = h if len(nets) == 1 else h[:, j * width : (j + 1) * width].copy()
            # ours, and contiguous (ufuncs on a strided slice run at a quarter of the speed):
            # the layers may work in place
            for layer in net.layers[1:]:
                out = layer.infer(out, inplace=True)
            correct[j] += int(np.count_nonzero(np.argmax(out, axis=1) == target))
    return [c / x.shape[0] for c in correct]
