"""Summaries of one activation tensor: mean, std, percentiles, a histogram on fixed bins, and
the saturated / dead shares. Nothing of the tensor is kept.

On the CPU they are computed in NumPy on a zero-copy view (a few µs per call, against ~10 µs
for each small torch operation); on other devices in torch, on the device.
"""

from __future__ import annotations

import numpy as np
import torch

from koubai.training.probes import ACT_RANGES, N_BINS, PERCENTILES, PRE_RANGE

#: Largest number of values the percentiles are computed from (an even stride through the
#: tensor beyond that: percentiles of a 470,000-value conv output need no full sort).
PCT_SAMPLE = 65_536

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
    """[mean, std, percentiles (5,), histogram (N_BINS,)] of all values of ``t``; NumPy values
    on the CPU, tensors elsewhere (converted when the record is written)."""
    x = _flat(t)
    n = x.shape[0]
    sample = x[:: -(-n // PCT_SAMPLE)] if n > PCT_SAMPLE else x
    pos = (sample.shape[0] - 1) * _Q
    i = np.floor(pos).astype(np.int64)
    j = np.minimum(i + 1, sample.shape[0] - 1)
    frac = pos - i
    if isinstance(x, np.ndarray):
        mean = float(x.mean())
        if mean != mean:  # NaN somewhere: summarize the rest (rare: a diverging step)
            x, sample = x[~np.isnan(x)], sample[~np.isnan(sample)]
            if sample.shape[0] == 0:
                return [mean, mean, np.full(len(PERCENTILES), np.nan), np.zeros(N_BINS)]
            pos = (sample.shape[0] - 1) * _Q
            i = np.floor(pos).astype(np.int64)
            j, frac = np.minimum(i + 1, sample.shape[0] - 1), pos - i
        s = np.sort(sample)
        pct = s[i] * (1.0 - frac) + s[j] * frac
        scaled = (np.clip(x, lo, hi) - lo) * (N_BINS / (hi - lo))
        hist = np.bincount(np.minimum(scaled.astype(np.int64), N_BINS - 1), minlength=N_BINS)
        return [mean, float(x.std()), pct, hist]
    s = torch.sort(sample).values
    f = torch.as_tensor(frac, device=s.device, dtype=s.dtype)
    pct = s[i] * (1 - f) + s[j] * f
    hist = torch.histc(x.clamp(lo, hi), bins=N_BINS, min=lo, max=hi)
    return [x.mean(), x.std(unbiased=False), pct, hist]


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
