"""The configuration of one training run, validated field by field.

A :class:`TrainConfig` is what an experiment spec's ``[base]`` table and each grid point resolve
to; its fields are the keys a spec file may use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from koubai.checks import (
    FLOAT_DTYPES,
    check_choice,
    check_int,
    check_name,
    check_number,
    check_seed,
)
from koubai.engine.init import INITIALIZERS
from koubai.engine.layers import BIAS_INITS, CONVENTIONS, LOSSES
from koubai.engine.mlp import ACTIVATIONS
from koubai.engine.optim import OPTIMIZERS, check_optimizer_args
from koubai.errors import ConfigError

Sampling = Literal["replacement", "epoch"]
TrainAccuracy = Literal["batch", "subset"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one run: network, optimizer, schedule, evaluation and seed.

    Args:
        hidden_sizes: widths of the hidden layers. Default: ``[40, 20]`` (the course's).
        activation: hidden activation. Default: ``"sigmoid"``.
        init: weight initializer. Default: ``"xavier"`` (the course's: ``randn / sqrt(fan_in)``).
        init_std: std of the ``gauss`` initializer. Default: 0.01.
        bias_init: ``"zeros"`` or ``"normal"`` (biases from N(0, bias_std²), as Nielsen's
            networks start). Default: ``"zeros"``.
        bias_std: std of the ``"normal"`` bias initializer. Default: 1.0.
        loss: ``"softmax"`` (softmax + cross-entropy) or ``"sigmoid_bce"`` (sigmoid output
            units + binary cross-entropy, Nielsen's ``CrossEntropyCost``). Default: softmax.
        batchnorm: batch norm after each hidden affine layer. Default: False.
        bn_convention: ``"course"``, ``"torch"`` or ``"keras"``. Default: ``"course"``.
        bn_affine_trainable: train batch norm's γ and β. The course notebook never updates
            them (its update loop covers only W and b); False reproduces that. Default: True.
        dropout: drop probability after each hidden activation. Default: 0.
        weight_decay: L2 coefficient on the weights. Default: 0.
        optimizer: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"`` or
            ``"adam"``. Default: ``"sgd"``.
        optimizer_args: extra optimizer arguments, e.g. ``{"momentum": 0.9}``. Default: none.
        lr: learning rate. Default: 0.1.
        batch_size: mini-batch size. Default: 100.
        iterations: number of parameter updates. Default: 2000.
        eval_every: evaluate every this many iterations (and at iteration 0). Default: 10.
        sampling: ``"replacement"`` (each batch drawn at random with replacement, as the course
            does) or ``"epoch"`` (shuffled passes over the training set). Default: replacement.
        train_accuracy: ``"batch"`` (accuracy on the current mini-batch, as the course measures
            it: noisy) or ``"subset"`` (on a fixed training subset). Default: ``"batch"``.
        train_subset: size of that fixed subset. Default: 10000.
        train_size: train on this many training examples only, the same number from each class
            (the first ones of each class, in the data's order: class-balanced even when the
            data are sorted by class); 0 uses them all. Default: 0.
        probe_samples: record the diagnostics on a fixed set of this many training examples
            (the first ones the run trains on), in a pass of its own before the step, instead
            of on the current mini-batch: Nielsen's ‖δ‖ per layer is measured on 1,000 images.
            Batch norm's running statistics are left as the training made them. 0 records on
            the current mini-batch. Default: 0.
        seed: seed of the weights, the batches and the dropout masks. Default: 0.
        dtype: ``"float32"`` or ``"float64"``. Default: ``"float32"``.
        diagnostics_every: record per-layer diagnostics every this many iterations (and at
            iteration 0); 0 turns them off. Default: 0.
        name: a label for the run. Default: derived from the configuration.
    """

    hidden_sizes: tuple[int, ...] = (40, 20)
    activation: str = "sigmoid"
    init: str = "xavier"
    init_std: float = 0.01
    bias_init: str = "zeros"
    bias_std: float = 1.0
    loss: str = "softmax"
    batchnorm: bool = False
    bn_convention: str = "course"
    bn_affine_trainable: bool = True
    dropout: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    optimizer_args: dict[str, float] = field(default_factory=dict)
    lr: float = 0.1
    batch_size: int = 100
    iterations: int = 2000
    eval_every: int = 10
    sampling: Sampling = "replacement"
    train_accuracy: TrainAccuracy = "batch"
    train_subset: int = 10000
    train_size: int = 0
    probe_samples: int = 0
    seed: int = 0
    dtype: str = "float32"
    diagnostics_every: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.hidden_sizes, (list, tuple)):
            raise ConfigError(f"hidden_sizes must be a list of integers, got {self.hidden_sizes!r}")
        if not isinstance(self.optimizer_args, dict):
            raise ConfigError(f"optimizer_args must be a table, got {self.optimizer_args!r}")
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        object.__setattr__(self, "optimizer_args", dict(self.optimizer_args))
        _validate(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, where: str = "configuration") -> TrainConfig:
        """Build a config from a mapping (a spec table), rejecting unknown keys and bad types."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown key {key!r} in {where}; valid keys: {sorted(known)}")
        hints = {f.name: f.default for f in dataclasses.fields(cls)}
        for key, value in values.items():
            _check_type(key, value, hints[key], where)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, not tuples), ready for TOML or JSON."""
        d = dataclasses.asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """``name`` if given, else e.g. ``"sigmoid-gauss-bn-40x20"`` (safe in a file name and in
        every shell: no brackets, spaces or globbing characters)."""
        if self.name:
            return self.name
        init = (
            f"gauss{self.init_std:g}"
            if self.init == "gauss" and self.init_std != 0.01
            else (self.init)
        )
        parts = [self.activation, init]
        if self.bias_init != "zeros":
            parts.append(f"bias{self.bias_std:g}")
        if self.loss != "softmax":
            parts.append(self.loss.replace("_", ""))
        if self.batchnorm:
            parts.append("bn")
        parts.append("x".join(str(h) for h in self.hidden_sizes) or "linear")
        return "-".join(parts)


def _check_type(key: str, value: Any, default: Any, where: str) -> None:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{key} in {where} must be {expected}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
    elif key == "hidden_sizes":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(h, int) and not isinstance(h, bool) for h in value
        ):
            raise bad("a list of integers such as [40, 20]")
    elif key == "optimizer_args":
        if not isinstance(value, dict):
            raise bad("a table of numbers such as {momentum = 0.9}")


def _validate(c: TrainConfig) -> None:
    """Every field's type and range, at construction: a bad config never reaches training."""
    for h in c.hidden_sizes:
        if isinstance(h, bool) or not isinstance(h, int) or h <= 0:
            raise ConfigError(f"hidden_sizes must be positive integers, got {list(c.hidden_sizes)}")
    check_choice(c.activation, "activation", ACTIVATIONS)
    check_choice(c.init, "init", INITIALIZERS)
    check_choice(c.bn_convention, "bn_convention", CONVENTIONS)
    check_choice(c.bias_init, "bias_init", BIAS_INITS)
    check_choice(c.loss, "loss", LOSSES)
    check_choice(c.optimizer, "optimizer", OPTIMIZERS)
    check_choice(c.sampling, "sampling", ("replacement", "epoch"))
    check_choice(c.train_accuracy, "train_accuracy", ("batch", "subset"))
    check_choice(c.dtype, "dtype", FLOAT_DTYPES)
    check_number(c.lr, "lr (learning rate)", positive=True)
    check_number(c.init_std, "init_std", minimum=0.0)
    check_number(c.bias_std, "bias_std", minimum=0.0)
    if not 0 <= check_number(c.dropout, "dropout") < 1:
        raise ConfigError(f"dropout must lie in [0, 1), got {c.dropout!r}")
    check_number(c.weight_decay, "weight_decay", minimum=0.0)
    for key in ("iterations", "batch_size", "eval_every", "train_subset"):
        check_int(getattr(c, key), key, minimum=1)
    check_int(c.diagnostics_every, "diagnostics_every (0 = off)", minimum=0)
    check_int(c.train_size, "train_size (0 = all)", minimum=0)
    check_int(c.probe_samples, "probe_samples (0 = the current mini-batch)", minimum=0)
    check_seed(c.seed)
    for key in ("batchnorm", "bn_affine_trainable"):
        if not isinstance(getattr(c, key), bool):
            raise ConfigError(f"{key} must be true or false, got {getattr(c, key)!r}")
    if c.name:
        check_name(c.name, "name")
    if c.batchnorm and c.batch_size < 2:
        raise ConfigError(f"batch norm needs batch_size >= 2, got {c.batch_size}")
    check_optimizer_args(c.optimizer, c.optimizer_args)
