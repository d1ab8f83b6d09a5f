"""The limits koubai sets on what one input may ask for, each with its reason and its override.

A spec file, a model file or a dataset file is a few bytes that can *declare* anything: a hidden
layer of 10⁹ units, a grid of 10⁶ runs, an IDX image of 2⁶⁴ bytes. koubai checks what an input
declares against these limits *before* allocating or starting work, and refuses with a
:class:`~koubai.errors.ResourceLimitError` that states the size in human units and how to raise
the limit::

    network 784-1000000000-10 (float32, sgd, batch 100) asks for 6.9 TiB; the limit is
    4 GiB (KOUBAI_MAX_MEMORY); raise it with KOUBAI_MAX_MEMORY=8TiB

==================  =====================  ==========  =========================================
limit               environment variable   default     why
==================  =====================  ==========  =========================================
memory              KOUBAI_MAX_MEMORY      4 GiB       a network's training memory, a dataset's
                                                       or a model file's arrays: more would
                                                       swap or be killed by the OS, not fail
runs                KOUBAI_MAX_RUNS        10,000      runs in one experiment (grid points ×
                                                       seeds): a typo in a grid must not start
                                                       days of work
spec file           KOUBAI_MAX_SPEC_BYTES  1 MiB       a spec is a page of TOML; more is a
                                                       wrong file (``/dev/zero``, a data file)
classes             KOUBAI_MAX_CLASSES     10,000      classes of a dataset or network: one
                                                       stray label must not make a huge layer
==================  =====================  ==========  =========================================

Sizes accept ``4GiB``, ``500MB``, ``2G`` or a number of bytes; counts accept ``20000`` or
``20_000``. An unreadable value of a variable is a :class:`~koubai.errors.ConfigError`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from koubai.errors import ConfigError, ResourceLimitError

__all__ = [
    "LIMITS",
    "Limit",
    "check_bytes",
    "check_count",
    "format_bytes",
    "limit",
    "parse_bytes",
    "training_memory",
]


@dataclass(frozen=True)
class Limit:
    """One limit: its name, environment variable, default, unit ("bytes" or a noun) and reason."""

    name: str
    env: str
    default: int
    unit: str
    reason: str

    def value(self) -> int:
        """The limit in force: ``$env`` when set, else the default."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = parse_bytes(raw) if self.unit == "bytes" else int(raw.replace("_", ""))
        except ValueError:
            example = "8GiB" if self.unit == "bytes" else str(self.default * 2)
            raise ConfigError(
                f"{self.env}={raw!r} is not a {'size' if self.unit == 'bytes' else 'count'}; "
                f"write e.g. {self.env}={example}"
            ) from None
        if value < 1:
            raise ConfigError(f"{self.env} must be at least 1, got {raw!r}")
        return value

    def show(self, value: int) -> str:
        return format_bytes(value) if self.unit == "bytes" else f"{value:,} {self.unit}"


#: Every limit, by name (see the module docstring's table).
LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            "memory",
            "KOUBAI_MAX_MEMORY",
            4 * 2**30,
            "bytes",
            "the memory one network's training, one dataset or one model file may take",
        ),
        Limit(
            "runs",
            "KOUBAI_MAX_RUNS",
            10_000,
            "runs",
            "the runs of one experiment (grid points × seeds)",
        ),
        Limit(
            "spec_bytes",
            "KOUBAI_MAX_SPEC_BYTES",
            2**20,
            "bytes",
            "the size of a spec file (a page of TOML)",
        ),
        Limit(
            "classes",
            "KOUBAI_MAX_CLASSES",
            10_000,
            "classes",
            "the classes of a dataset or network (one output unit each)",
        ),
    )
}

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 2**10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 2**20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 2**30,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 2**40,
}


def parse_bytes(text: str) -> int:
    """``"4GiB"`` -> 4294967296, ``"500MB"`` -> 500000000, ``"1.5G"``, ``"123"`` (bytes).

    Raises:
        ValueError: not a size.
    """
    match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1).replace("_", "")) * _UNITS[match.group(2).lower()])


def format_bytes(n: int | float) -> str:
    """``5.7 TiB``, ``4 GiB``, ``12.3 MiB``, ``512 B``: binary units, three digits at most."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            text = f"{n:.0f}" if unit == "B" or n >= 100 or n == int(n) else f"{n:.1f}"
            return f"{text} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def limit(name: str) -> int:
    """The value in force of the limit called ``name`` (see :data:`LIMITS`)."""
    return LIMITS[name].value()


def _raise_hint(lim: Limit, asked: int) -> str:
    if lim.unit == "bytes":
        suggestion = format_bytes(2 ** math.ceil(math.log2(max(asked, 2)))).replace(" ", "")
        if suggestion.endswith("B") and not suggestion.endswith("iB"):
            suggestion = str(asked)
    else:
        suggestion = str(asked)
    return f"raise it with {lim.env}={suggestion}"


def check_bytes(asked: int, what: str, *, name: str = "memory", override: str = "") -> int:
    """Raise :class:`ResourceLimitError` when ``asked`` bytes exceed the limit ``name``.

    Args:
        asked: the number of bytes the input asks for (a Python int: never overflows).
        what: what asks, for the message ("network 784-1000000000-10").
        name: the limit, a key of :data:`LIMITS`. Default: "memory".
        override: another way to raise the limit, added to the message (e.g. a CLI flag).

    Returns:
        ``asked``, when it is within the limit.
    """
    lim = LIMITS[name]
    allowed = lim.value()
    if asked > allowed:
        also = f" or {override}" if override else ""
        shown, cap = format_bytes(asked), format_bytes(allowed)
        if float(shown.split()[0]) <= float(cap.split()[0]) and shown.split()[1] == cap.split()[1]:
            shown, cap = f"{asked:,} bytes", f"{allowed:,} bytes"  # "1.0 MiB" vs "1 MiB"
        raise ResourceLimitError(
            f"{what} asks for {shown}; the limit is {cap} ({lim.env}); "
            f"{_raise_hint(lim, asked)}{also}"
        )
    return asked


def check_count(
    asked: int, what: str, *, name: str, override: str = "", allowed: int | None = None
) -> int:
    """Raise :class:`ResourceLimitError` when the count ``asked`` exceeds the limit ``name``
    (or ``allowed``, when the caller was given another limit, e.g. by a CLI flag)."""
    lim = LIMITS[name]
    if allowed is None:
        allowed = lim.value()
    if asked > allowed:
        also = f" or {override}" if override else ""
        raise ResourceLimitError(
            f"{what} asks for {asked:,} {lim.unit}; the limit is {allowed:,} ({lim.env}); "
            f"{_raise_hint(lim, asked)}{also}"
        )
    return asked


#: Optimizer state arrays per parameter (see koubai.engine.optim).
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}


def training_memory(
    n_inputs: int,
    hidden_sizes: Sequence[int],
    n_outputs: int,
    *,
    batch_size: int,
    dtype: Any = "float32",
    optimizer: str = "sgd",
    batchnorm: bool = False,
) -> int:
    """A lower bound of the bytes one network's training holds, computed with Python ints.

    parameters P = Σ (fan_in + 1)·fan_out (+ 4 per batch-norm unit: γ, β and the running mean
    and variance); gradients P; optimizer state k·P (k = 0 for SGD, 1 for momentum, AdaGrad and
    RMSProp, 2 for Adam); activations: each layer keeps about 3 arrays of batch × width (input,
    pre-activation, upstream gradient), 5 with batch norm. Times the dtype's item size.

    Example: ``training_memory(784, [10**9], 10, batch_size=100)`` is about 6.9 TiB.
    """
    import numpy as np

    item = np.dtype(dtype).itemsize
    widths = [int(n_inputs), *(int(h) for h in hidden_sizes), int(n_outputs)]
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    if batchnorm:
        params += 4 * sum(int(h) for h in hidden_sizes)
    slots = OPTIMIZER_SLOTS.get(str(optimizer).lower(), 2)
    per_unit = 5 if batchnorm else 3
    activations = int(batch_size) * per_unit * sum(widths)
    return (params * (2 + slots) + activations) * item


def describe_network(n_inputs: int, hidden_sizes: Sequence[int], n_outputs: int) -> str:
    """``"784-40-20-10"``: a network's widths, for messages."""
    return "-".join(str(int(w)) for w in (n_inputs, *hidden_sizes, n_outputs))


def check_training_memory(
    n_inputs: int,
    hidden_sizes: Sequence[int],
    n_outputs: int,
    *,
    batch_size: int,
    dtype: Any = "float32",
    optimizer: str = "sgd",
    batchnorm: bool = False,
    override: str = "",
) -> int:
    """:func:`training_memory`, refused above the memory limit with a one-line
    :class:`ResourceLimitError` ("network 784-1000000000-10 (float32, sgd, batch 100) asks for
    6.9 TiB; the limit is 4 GiB ...")."""
    asked = training_memory(
        n_inputs,
        hidden_sizes,
        n_outputs,
        batch_size=batch_size,
        dtype=dtype,
        optimizer=optimizer,
        batchnorm=batchnorm,
    )
    what = (
        f"network {describe_network(n_inputs, hidden_sizes, n_outputs)} "
        f"({dtype}, {optimizer}, batch {batch_size:,})"
    )
    return check_bytes(asked, what, override=override)


def check_config_memory(config: Any, n_inputs: int = 784, n_outputs: int = 10) -> int:
    """:func:`check_training_memory` for a ``TrainConfig`` (or anything with its fields:
    ``hidden_sizes``, ``batch_size``, ``dtype``, ``optimizer``, ``batchnorm``)."""
    return check_training_memory(
        n_inputs,
        config.hidden_sizes,
        n_outputs,
        batch_size=config.batch_size,
        dtype=config.dtype,
        optimizer=config.optimizer,
        batchnorm=config.batchnorm,
    )
