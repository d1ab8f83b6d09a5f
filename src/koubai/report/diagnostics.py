"""Figures of the diagnostics a run recorded (see :mod:`koubai.training.probes`).

They take the dict of arrays that ``Diagnostics.arrays()`` or ``load_diagnostics`` returns,
and return a :class:`~matplotlib.figure.Figure` (see :mod:`koubai.report.figures`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from koubai.report.figures import colors, labels, localize, new_figure

#: At most this many hidden layers in the activation histograms (a 30-layer net's 30 rows took
#: 20 s to draw and left no room for the axes).
MAX_HIST_ROWS = 8


def _layer_names(d: dict, lab: dict[str, str]) -> list[str]:
    if "layer_names" in d:  # a PyTorch model's own names (koubai.torch.Monitor)
        return [str(name) for name in d["layer_names"]]
    n = d["weight_grad_norm"].shape[1]
    return [lab["hidden"].format(k=k + 1) for k in range(n - 1)] + [lab["output"]]


def _positive(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.nan)  # zeros cannot be drawn on a log axis


def plot_gradient_flow(d: dict, *, title: str = "", lang: str = "en") -> Figure:
    """‖∂L/∂W‖ of each layer against the iteration (log y), and a bar chart at iteration 0."""
    lab = labels(lang)
    names = _layer_names(d, lab)
    norms = d["weight_grad_norm"]
    fig = new_figure((10, 4))
    ax, bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    palette = colors("viridis", len(names))
    for k, name in enumerate(names):
        ax.plot(d["iterations"], _positive(norms[:, k]), color=palette[k], lw=1.4, label=name)
    ax.set_yscale("log")
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["grad_norm"])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(lab["grad_flow"], fontsize=10)
    bar.bar(range(len(names)), _positive(norms[0]), color=palette)
    bar.set_yscale("log")
    bar.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    bar.set_title(f"{lab['grad_norm']}, {lab['at_start']}", fontsize=10)
    bar.grid(alpha=0.3, axis="y", which="both")
    if title:
        fig.suptitle(title, fontsize=11)
    return localize(fig, lang)


def plot_activation_histograms(
    d: dict, *, title: str = "", lang: str = "en", moments: int = 4
) -> Figure:
    """Histograms of each hidden layer's output (rows) at a few moments of training (columns);
    of a deeper net, :data:`MAX_HIST_ROWS` layers evenly spaced from the first to the last."""
    lab = labels(lang)
    hist, edges, its = d["act_hist"], d["act_edges"], d["iterations"]
    n_layers = hist.shape[1]
    cols = sorted(set(np.linspace(0, len(its) - 1, moments).round().astype(int)))
    shown = sorted(set(np.linspace(0, n_layers - 1, min(n_layers, MAX_HIST_ROWS)).round()))
    fig = new_figure((2.6 * len(cols), 1.9 * max(len(shown), 1)))
    axes = fig.subplots(max(len(shown), 1), len(cols), squeeze=False, sharex=True)
    for row, r in enumerate(int(k) for k in shown):
        for c, t in enumerate(cols):
            ax = axes[row, c]
            counts = hist[t, r]
            ax.stairs(counts / max(counts.sum(), 1), edges, fill=True, color="tab:blue")
            if row == 0:
                ax.set_title(f"{lab['iteration']} {its[t]}", fontsize=9)
            if c == 0:
                ax.set_ylabel(lab["hidden"].format(k=r + 1), fontsize=9)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"{lab['activation_hist']}{' — ' + title if title else ''}", fontsize=11)
    return localize(fig, lang)


def plot_health(d: dict, *, title: str = "", lang: str = "en") -> Figure:
    """Saturated / dead share of each hidden layer, and the update ratio of each layer."""
    lab = labels(lang)
    names = _layer_names(d, lab)
    fig = new_figure((10, 3.8))
    left, right = fig.subplots(1, 2)
    share = d["dead"] if d["meta"]["activation"] in ("relu", "leaky_relu") else d["saturated"]
    kind = lab["dead"] if d["meta"]["activation"] in ("relu", "leaky_relu") else lab["saturated"]
    palette = colors("viridis", len(names))
    for k in range(share.shape[1]):
        left.plot(d["iterations"], share[:, k], color=palette[k], label=names[k])
    if "zero_share" in d and d["meta"]["activation"] == "relu":  # sparsity, dashed
        kind = f"{kind}; {lab['zeros']} (--)"
        for k in range(share.shape[1]):
            left.plot(d["iterations"], d["zero_share"][:, k], color=palette[k], ls="--")
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel(lab["iteration"])
    left.set_ylabel(lab["share"])
    left.set_title(kind, fontsize=10)
    left.grid(alpha=0.3)
    if share.shape[1]:  # no hidden layer (softmax regression): nothing to label
        left.legend(fontsize=8)
    ratio = d["update_ratio"]
    if ratio.size:
        for k in range(ratio.shape[1]):
            right.plot(
                d["update_iterations"], _positive(ratio[:, k]), color=palette[k], label=names[k]
            )
        right.set_yscale("log")
    right.axhline(1e-3, color="gray", ls="--", lw=1, label=lab["rule_of_thumb"])
    right.set_xlabel(lab["iteration"])
    right.set_title(lab["update_ratio"], fontsize=10)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return localize(fig, lang)


def plot_nonlinearity_inputs(
    runs: Sequence[tuple[str, dict]], *, title: str = "", lang: str = "en"
) -> Figure:
    """15th, 50th and 85th percentiles of the last hidden layer's input to its nonlinearity
    over training, one panel per run (Ioffe & Szegedy 2015, figure 1 b–c)."""
    lab = labels(lang)
    fig = new_figure((4.6 * len(runs), 3.6))
    axes = fig.subplots(1, len(runs), squeeze=False, sharey=True)
    for ax, (name, d) in zip(axes[0], runs, strict=True):
        pct = list(d["percentiles"])
        cols = [pct.index(p) for p in (15, 50, 85)]
        last = d["pre_pct"][:, -1, :]
        for c, ls in zip(cols, ("--", "-", "--"), strict=True):
            ax.plot(d["iterations"], last[:, c], color="tab:purple", ls=ls, lw=1.4)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(lab["iteration"])
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(lab["value"])
    fig.suptitle(f"{lab['pre_pct']}{' — ' + title if title else ''}", fontsize=10)
    return localize(fig, lang)


def plot_gradient_profiles(
    runs: Sequence[tuple[str, dict]], *, title: str = "", lang: str = "en"
) -> Figure:
    """‖∂L/∂W‖ at iteration 0 against the layer, one line per configuration (log y)."""
    lab = labels(lang)
    fig = new_figure((7.6, 4.4))
    ax = fig.subplots()
    palette = colors("tab10", len(runs))
    for k, (name, d) in enumerate(runs):
        norms = d["weight_grad_norm"][0]
        ax.plot(
            np.arange(1, norms.size + 1), _positive(norms), marker="o", color=palette[k], label=name
        )
    ax.set_yscale("log")
    depth = max(d["weight_grad_norm"].shape[1] for _, d in runs)
    ax.set_xticks(range(1, depth + 1))
    ax.set_xlabel(f"{lab['layer']} (1 = {lab['hidden'].format(k=1)}; {lab['last_is_output']})")
    ax.set_ylabel(lab["grad_norm"])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(
        f"{lab['grad_flow']}, {lab['at_start']}{' — ' + title if title else ''}", fontsize=10
    )
    return localize(fig, lang)
