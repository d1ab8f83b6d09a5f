"""What the monitor takes of an activation tensor on a sampled step: a host copy of at most
:data:`SAMPLE` of its values (summarized with every other layer's at the optimizer step, by
:func:`koubai.training.probes.summaries`, then dropped) and its share of dead units.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from koubai.training.probes import ACT_RANGES

#: Largest number of values a hidden layer's statistics (percentiles, histogram, mean, std,
#: saturated share) are computed from: beyond it, an even sample (:func:`sample`; a
#: 470,000-value conv output is summarized from ~1,000 of its values). The 5th percentile's
#: rank is then within ~1 % of the whole tensor's, a share within ~1.5 %, and a 50-bin
#: histogram keeps its shape; the summaries' cost grows with the values (sorting them). The
#: share of dead units always counts every value.
SAMPLE = 1024

#: Activation modules that koubai records, and their kind.
ACTIVATION_KINDS: dict[type, str] = {
    torch.nn.Sigmoid: "sigmoid",
    torch.nn.Tanh: "tanh",
    torch.nn.ReLU: "relu",
    torch.nn.ReLU6: "relu",
    torch.nn.LeakyReLU: "leaky_relu",
    torch.nn.ELU: "elu",
    torch.nn.GELU: "gelu",
    torch.nn.SiLU: "silu",
    torch.nn.Softplus: "softplus",
}


def act_range(kinds: list[str]) -> tuple[float, float]:
    """The histogram range of the hidden layers' outputs: the kind's when all share one."""
    if kinds and len(set(kinds)) == 1 and kinds[0] in ACT_RANGES:
        return ACT_RANGES[kinds[0]]
    return (-4.0, 4.0)


def sample(t: torch.Tensor) -> np.ndarray:
    """A private float copy, on the host, of at most :data:`SAMPLE` values of ``t``: every
    s-th value, with s coprime to the size of one sample, so that every unit (feature,
    channel x position) is drawn and the draws spread over the batch. A copy, so that an
    in-place operation later in the forward pass (``x += shortcut``) cannot change it."""
    if t.device.type == "cpu" and t.dtype in _NUMPY:  # the common case, in 3 cheap calls
        x = t.numpy(force=True).reshape(-1)  # a view, detached
    else:
        x = t.detach().reshape(-1)
    n = x.shape[0]
    if n > SAMPLE:
        x = x[:: _stride(n, n // t.shape[0] if t.ndim > 1 and t.shape[0] else 1)]
    if isinstance(x, torch.Tensor):
        return x.to("cpu", torch.float32).numpy()
    return x.copy()


_NUMPY = (torch.float32, torch.float64)


def _stride(n: int, per_sample: int) -> int:
    s = -(-n // SAMPLE)
    while math.gcd(s, per_sample) != 1:
        s += 1
    return s


def dead_share(t: torch.Tensor):
    """Share of units (features; channels x positions) that are ≤ 0 on every sample of the
    batch: counted on the whole tensor, not a sample. A float on the CPU, else a 0-d tensor."""
    units = t.detach().reshape(t.shape[0], -1) if t.ndim > 1 else t.detach().reshape(1, -1)
    if units.device.type == "cpu" and units.dtype in _NUMPY:
        top = units.numpy().max(axis=0)
        return float(np.count_nonzero(top <= 0)) / top.shape[0]
    return (units.amax(dim=0) <= 0).float().mean()
