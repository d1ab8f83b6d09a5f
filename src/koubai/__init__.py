"""koubai (勾配, "gradient"): see, measure and fix the vanishing-gradient problem.

A transparent NumPy engine (layers with hand-written backward passes, initializers, batch norm,
optimizers, an MLP), real datasets, the course's experiments, and diagnostics that show why a
deep network does or does not learn.
"""

from __future__ import annotations

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
from koubai.errors import ConfigError, DatasetError, DownloadError, KoubaiError
from koubai.io import load_mlp, save_mlp

__version__ = "0.1.0"

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
