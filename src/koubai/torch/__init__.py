"""koubai for PyTorch models: :class:`Monitor` records the per-layer diagnostics of a user's
``torch.nn.Module`` while it trains, and :mod:`koubai.diagnose` judges them.

PyTorch is an optional extra: ``pip install "koubai[torch]"``.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError:  # pragma: no cover - exercised in a subprocess without torch
    raise ImportError('koubai.torch needs PyTorch: pip install "koubai[torch]"') from None

from koubai.torch.monitor import Monitor

__all__ = ["Monitor"]
