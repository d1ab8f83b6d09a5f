"""Saving and loading networks as ``.npz`` files, without pickle.

A network file is a few arrays and a JSON configuration, and the configuration can declare
anything. :func:`load_mlp` therefore checks, before building a network: the file's arrays
(through :func:`koubai._npz.read_npz`: no pickle, declared sizes against stored sizes and the
memory limit), the configuration's JSON (size, nesting, types), the declared sizes against the
limits of :mod:`koubai.limits`, every weight matrix's shape against the declared widths, and that
every array is finite. Each failure is a one-line :class:`~koubai.errors.ModelFileError`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from koubai import limits
from koubai._npz import read_npz
from koubai.engine.mlp import MLP
from koubai.errors import ModelFileError

__all__ = ["load_mlp", "save_mlp"]

#: Longest configuration JSON accepted, in characters (a real one is ~300).
MAX_CONFIG_CHARS = 64 * 1024
CONFIG_KEY = "__config__"


def save_mlp(net: MLP, path: str | os.PathLike) -> Path:
    """Write ``net``'s configuration, parameters and buffers to ``path`` (an ``.npz`` file).

    The file is written next to its target and renamed into place, so a failed save never
    leaves a half-written file behind; a full disk is reported with the file's name.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **net.state_dict())
        os.replace(tmp, path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _config(state: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    raw = state[CONFIG_KEY]
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelFileError(f"{path}: {CONFIG_KEY} must be a JSON string, got {raw.dtype.name}")
    text = str(raw)
    if len(text) > MAX_CONFIG_CHARS:
        raise ModelFileError(
            f"{path}: configuration of {len(text):,} characters (at most {MAX_CONFIG_CHARS:,})"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: configuration is not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: configuration JSON is nested too deeply") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: configuration must be a JSON object, got {text[:40]!r}")
    return config


def _whole(value: Any, what: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelFileError(f"{path}: {what} must be a positive whole number, got {value!r}")
    return value


def _declared_widths(config: dict[str, Any], path: Path) -> list[int]:
    """The declared widths ``[input, *hidden, output]``, each a positive whole number."""
    hidden = config.get("hidden_sizes")
    if not isinstance(hidden, list):
        raise ModelFileError(f"{path}: hidden_sizes must be a list, got {hidden!r}")
    return [
        _whole(config.get("input_size"), "input_size", path),
        *(_whole(h, "hidden_sizes", path) for h in hidden),
        _whole(config.get("output_size"), "output_size", path),
    ]


def _check_limits(config: dict[str, Any], widths: list[int], path: Path) -> None:
    """The declared network within the classes and memory limits (Python ints: no overflow)."""
    limits.check_count(widths[-1], f"network file {path}", name="classes")
    dtype = config.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype must be 'float32' or 'float64', got {dtype!r}")
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    shape = limits.describe_network(widths[0], widths[1:-1], widths[-1])
    limits.check_bytes(params * np.dtype(dtype).itemsize, f"network file {path} (declares {shape})")


def _check_arrays(state: dict[str, np.ndarray], widths: list[int], path: Path) -> None:
    """Every weight matrix has the declared shape, and every array is finite."""
    weights = sorted(
        (int(m.group(1)), k) for k in state if (m := re.fullmatch(r"layers\.(\d+)\.W", k))
    )
    expected = list(zip(widths, widths[1:], strict=False))
    if len(weights) != len(expected):
        raise ModelFileError(
            f"{path}: the configuration declares {len(expected)} weight matrices, "
            f"the file holds {len(weights)}"
        )
    for (_, key), shape in zip(weights, expected, strict=True):
        if state[key].shape != shape:
            raise ModelFileError(
                f"{path}: {key} has shape {state[key].shape}; the configuration declares {shape}"
            )
    for key, array in state.items():
        if key == CONFIG_KEY:
            continue
        if array.dtype.kind not in "fiu":
            raise ModelFileError(f"{path}: {key} must hold numbers, got {array.dtype.name}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise ModelFileError(f"{path}: {key} holds {bad:,} NaN or infinite values")


def load_mlp(path: str | os.PathLike) -> MLP:
    """Read a network written by :func:`save_mlp` (no pickle), checking it before building it.

    Raises:
        ModelFileError: the file is missing, not an .npz archive, truncated, or its
            configuration or arrays are invalid or disagree (the message names the array).
        ResourceLimitError: the declared network is larger than the memory or classes limit.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no such network file: {path}")
    state = read_npz(path, error=ModelFileError, what="koubai network file")
    if CONFIG_KEY not in state:
        raise ModelFileError(
            f"{path} is not a koubai network file: the {CONFIG_KEY!r} entry is missing"
        )
    config = _config(state, path)
    widths = _declared_widths(config, path)
    _check_arrays(state, widths, path)
    _check_limits(config, widths, path)
    try:
        return MLP.from_state_dict(state)
    except (ValueError, TypeError, KeyError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelFileError(f"{path} is not a valid koubai network file ({reason})") from None
