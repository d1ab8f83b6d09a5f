"""Summaries of one activation tensor: mean, std, percentiles, a histogram on fixed bins, and
the saturated / dead shares. Nothing of the tensor is kept.

On the CPU they are computed in NumPy on a zero-copy view (a few µs per call, against ~10 µs
for each small torch operation); on other devices in torch, on the device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from koubai.training.probes import ACT_RANGES, N_BINS, PERCENTILES, PRE_RANGE

#: Largest number of values the statistics are computed from: beyond it, an even stride
#: through the tensor (a 470,000-value conv output is summarized from 16,384 of its values;
#: the shares of dead and saturated units always count every value).
SAMPLE = 16_384

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

_Q = np.asarray(PERCENTILES, dtype=np.float64) / 100.0


def act_range(kinds: list[str]) -> tuple[float, float]:
    """The histogram range of the hidden layers' outputs: the kind's when all share one."""
    if kinds and len(set(kinds)) == 1 and kinds[0] in ACT_RANGES:
        return ACT_RANGES[kinds[0]]
    return (-4.0, 4.0)


def _flat(t: torch.Tensor):
    """The values of ``t`` as a 1-D float array: NumPy (zero-copy) on the CPU, else torch."""
    x = t.detach().reshape(-1)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    return x.numpy() if x.device.type == "cpu" else x


def summarize(t: torch.Tensor, lo: float, hi: float) -> list:
    """[mean, std, percentiles (5,), histogram (N_BINS,) on [lo, hi]] of the values of ``t``
    (at most :data:`SAMPLE` of them); values outside [lo, hi] count in the end bins. NumPy
    values on the CPU, tensors elsewhere (converted when the record is written)."""
    x = _flat(t)
    n = x.shape[0]
    x = x[:: -(-n // SAMPLE)] if n > SAMPLE else x
    if isinstance(x, np.ndarray):
        s = np.sort(x)
        n_nan = int(np.isnan(s[-1])) and int(np.isnan(s).sum())  # NaN sorts last
        if n_nan:  # a diverging step: summarize the finite rest
            s = s[: s.shape[0] - n_nan]
            if s.shape[0] == 0:
                return [np.nan, np.nan, np.full(len(PERCENTILES), np.nan), np.zeros(N_BINS)]
        n = s.shape[0]
        ij, weights = _interpolation(n)
        pct = s[ij] @ weights
        bounds = np.empty(N_BINS + 1, dtype=np.int64)
        bounds[0], bounds[-1] = 0, n
        bounds[1:-1] = np.searchsorted(s, _inner_edges(lo, hi), side="right")
        mean = float(np.add.reduce(s, dtype=np.float64)) / n
        d = s - mean
        return [mean, math.sqrt(float(d @ d) / n), pct, bounds[1:] - bounds[:-1]]
    s = torch.sort(x).values
    pos = (s.numel() - 1) * _Q
    i = np.floor(pos).astype(np.int64)
    j = np.minimum(i + 1, s.numel() - 1)
    f = torch.as_tensor(pos - i, device=s.device, dtype=s.dtype)
    pct = s[i] * (1 - f) + s[j] * f
    hist = torch.histc(x.clamp(lo, hi), bins=N_BINS, min=lo, max=hi)
    return [x.mean(), x.std(unbiased=False), pct, hist]


_EDGES: dict[tuple[float, float], np.ndarray] = {}
_INTERPOLATION: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _interpolation(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``n`` sorted values: the positions either side of each percentile and the
    (2 P, P) weight matrix that interpolates linearly between them (as ``np.percentile``)."""
    if n not in _INTERPOLATION:
        pos = (n - 1) * _Q
        i = np.floor(pos).astype(np.int64)
        j = np.minimum(i + 1, n - 1)
        frac = pos - i
        weights = np.zeros((2 * len(_Q), len(_Q)))
        weights[np.arange(len(_Q)), np.arange(len(_Q))] = 1.0 - frac
        weights[len(_Q) + np.arange(len(_Q)), np.arange(len(_Q))] = frac
        if len(_INTERPOLATION) > 64:
            _INTERPOLATION.clear()
        _INTERPOLATION[n] = (np.concatenate([i, j]), weights)
    return _INTERPOLATION[n]


def _inner_edges(lo: float, hi: float) -> np.ndarray:
    """The N_BINS - 1 edges between the bins of [lo, hi]."""
    key = (lo, hi)
    if key not in _EDGES:
        _EDGES[key] = np.linspace(lo, hi, N_BINS + 1)[1:-1]
    return _EDGES[key]


def pre_summary(t: torch.Tensor) -> list:
    return summarize(t, *PRE_RANGE)


def shares(t: torch.Tensor, kind: str) -> tuple:
    """(saturated share, dead share) of an activation's output; NaN where not applicable."""
    nan = float("nan")
    if kind not in ("sigmoid", "tanh", "relu", "leaky_relu"):
        return nan, nan
    x = _flat(t)
    if kind == "sigmoid":
        return (abs(x - 0.5) > 0.49).mean(dtype=np.float64) if isinstance(x, np.ndarray) else (
            ((x - 0.5).abs() > 0.49).float().mean()
        ), nan
    if kind == "tanh":
        return (abs(x) > 0.97).mean(dtype=np.float64) if isinstance(x, np.ndarray) else (
            (x.abs() > 0.97).float().mean()
        ), nan
    units = x.reshape(t.shape[0], -1) if t.ndim > 1 else x.reshape(1, -1)
    if isinstance(units, np.ndarray):
        return nan, float((units <= 0).all(axis=0).mean())
    return nan, (units <= 0).all(dim=0).float().mean()
