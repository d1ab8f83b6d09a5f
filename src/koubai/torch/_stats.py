"""Summaries of one activation tensor, computed in torch: mean, std, percentiles, a histogram
on fixed bins, and the saturated / dead shares. Nothing of the tensor is kept."""

from __future__ import annotations

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

_PCT = torch.tensor(PERCENTILES, dtype=torch.float64) / 100.0


def act_range(kinds: list[str]) -> tuple[float, float]:
    """The histogram range of the hidden layers' outputs: the kind's when all share one."""
    if kinds and len(set(kinds)) == 1 and kinds[0] in ACT_RANGES:
        return ACT_RANGES[kinds[0]]
    return (-4.0, 4.0)


def summarize(t: torch.Tensor, lo: float, hi: float) -> list[torch.Tensor]:
    """[mean, std, percentiles (5,), histogram (N_BINS,)] of all values of ``t``."""
    x = t.detach().reshape(-1).float()
    if x.numel() > PCT_SAMPLE:
        sample = x[:: -(-x.numel() // PCT_SAMPLE)]
    else:
        sample = x
    s = torch.sort(sample).values
    pos = (s.numel() - 1) * _PCT.to(s.device)
    lo_i = pos.floor().long()
    hi_i = (lo_i + 1).clamp(max=s.numel() - 1)
    frac = (pos - lo_i).float()
    pct = s[lo_i] * (1 - frac) + s[hi_i] * frac
    hist = torch.histc(x.clamp(lo, hi), bins=N_BINS, min=lo, max=hi)
    return [x.mean(), x.std(unbiased=False), pct, hist]


def pre_summary(t: torch.Tensor) -> list[torch.Tensor]:
    return summarize(t, *PRE_RANGE)


def shares(a: torch.Tensor, kind: str) -> tuple[float | torch.Tensor, float | torch.Tensor]:
    """(saturated share, dead share) of an activation's output ``a``; NaN where n/a."""
    nan = float("nan")
    a = a.detach()
    if kind == "sigmoid":
        return ((a.float() - 0.5).abs() > 0.49).float().mean(), nan
    if kind == "tanh":
        return (a.float().abs() > 0.97).float().mean(), nan
    if kind in ("relu", "leaky_relu"):
        units = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)
        return nan, (units <= 0).all(dim=0).float().mean()
    return nan, nan
