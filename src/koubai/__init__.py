"""koubai (勾配, "gradient"): see, measure and fix the vanishing-gradient problem.

A transparent NumPy engine (layers with hand-written backward passes, initializers, batch norm,
optimizers, an MLP), real datasets, the course's experiments, and diagnostics that show why a
deep network does or does not learn.

The names below are imported on first use (PEP 562), so ``import koubai`` and the commands that
need no array (``koubai runs list``, ``koubai version``) start without NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from koubai.errors import ConfigError, DatasetError, DownloadError, KoubaiError

if TYPE_CHECKING:
    from koubai.engine import (
        MLP,
        SGD,
        AdaGrad,
        Adam,
        Momentum,
        Nesterov,
        RMSProp,
        check_layer,
        check_model,
        make_optimizer,
    )
    from koubai.io import load_mlp, save_mlp

__version__ = "0.1.0"

#: Each lazily imported name and the module that defines it.
_LAZY = {
    **dict.fromkeys(
        (
            "MLP",
            "SGD",
            "AdaGrad",
            "Adam",
            "Momentum",
            "Nesterov",
            "RMSProp",
            "check_layer",
            "check_model",
            "make_optimizer",
        ),
        "koubai.engine",
    ),
    "load_mlp": "koubai.io",
    "save_mlp": "koubai.io",
}

__all__ = [
    "MLP",
    "SGD",
    "AdaGrad",
    "Adam",
    "ConfigError",
    "DatasetError",
    "DownloadError",
    "KoubaiError",
    "Momentum",
    "Nesterov",
    "RMSProp",
    "__version__",
    "check_layer",
    "check_model",
    "load_mlp",
    "make_optimizer",
    "save_mlp",
]


def __getattr__(name: str) -> Any:
    """``koubai.MLP`` and the other engine names: imported from their module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'koubai' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
