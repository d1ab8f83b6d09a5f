"""Saving and loading networks as ``.npz`` files, without pickle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from koubai.engine.mlp import MLP
from koubai.errors import KoubaiError


def save_mlp(net: MLP, path: str | os.PathLike) -> Path:
    """Write ``net``'s configuration, parameters and buffers to ``path`` (an ``.npz`` file).

    The file is written next to its target and renamed into place, so a failed save never
    leaves a half-written file behind.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **net.state_dict())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_mlp(path: str | os.PathLike) -> MLP:
    """Read a network written by :func:`save_mlp` (``allow_pickle=False``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            state = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise KoubaiError(f"no such network file: {path}") from None
    except (ValueError, OSError) as exc:
        raise KoubaiError(f"{path} is not a koubai network file ({exc})") from None
    try:
        return MLP.from_state_dict(state)
    except (ValueError, TypeError, KeyError) as exc:
        raise KoubaiError(f"{path} is not a koubai network file ({exc})") from None
