"""Figures of the diagnostics a run recorded (see :mod:`koubai.training.probes`).

They take the dict of arrays that ``Diagnostics.arrays()`` or ``load_diagnostics`` returns,
and return a :class:`~matplotlib.figure.Figure` (see :mod:`koubai.report.figures`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from koubai.report.figures import (
    colors,
    labels,
    legend_below,
    localize,
    log_axis,
    new_figure,
    wrap_title,
)

#: At most this many hidden layers in the activation histograms (a 30-layer net's 30 rows took
#: 20 s to draw and left no room for the axes).
MAX_HIST_ROWS = 8
#: Longer layer names are shortened in the figures, their middle left out
#: (``encoder.layers.11.attention.output.dense`` → ``encoder.lay…output.dense``): a legend or
#: an axis of long names took the whole figure and left no room for the plot.
NAME_LIMIT = 24


def short_name(name: str, limit: int = NAME_LIMIT) -> str:
    """``name`` itself, or its start and its end around "…" when it is longer than ``limit``
    characters (the end names the most specific module)."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    return f"{name[:head]}…{name[-(limit - 1 - head) :]}"


def short_names(names: Sequence[str], limit: int = NAME_LIMIT) -> list[str]:
    """:func:`short_name` of each name; numbered in order (``"3: encoder_blo…name"``) where two
    of them would otherwise read the same."""
    short = [short_name(str(n), limit) for n in names]
    if len(set(short)) < len(short):
        short = [f"{k}: {label}" for k, label in enumerate(short, start=1)]
    return short


def _layer_names(d: dict, lab: dict[str, str]) -> list[str]:
    if "layer_names" in d:  # a PyTorch model's own names (koubai.torch.Monitor)
        return short_names(d["layer_names"])
    n = d["weight_grad_norm"].shape[1]
    return [lab["hidden"].format(k=k + 1) for k in range(n - 1)] + [lab["output"]]


def _positive(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.nan)  # zeros cannot be drawn on a log axis


def plot_gradient_flow(d: dict, *, title: str = "", lang: str = "en") -> Figure:
    """‖∂L/∂W‖ of each layer against the iteration (log y), and a bar chart at iteration 0."""
    lab = labels(lang)
    names = _layer_names(d, lab)
    norms = d["weight_grad_norm"]
    fig = new_figure((10, 4.6))
    ax, bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    palette = colors("viridis", len(names))
    for k, name in enumerate(names):
        ax.plot(d["iterations"], _positive(norms[:, k]), color=palette[k], lw=1.4, label=name)
    log_axis(ax)
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["grad_norm"])
    ax.grid(alpha=0.3, which="major")
    legend_below(ax, ncol=3)
    ax.set_title(lab["grad_flow"], fontsize=10)
    bar.bar(range(len(names)), _positive(norms[0]), color=palette)
    log_axis(bar)
    bar.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    bar.set_title(f"{lab['grad_norm']}, {lab['at_start']}", fontsize=10)
    bar.grid(alpha=0.3, axis="y", which="major")
    if title:
        fig.suptitle(wrap_title(title, 100), fontsize=11)
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
    rows = max(len(shown), 1)
    width, height = 2.6 * len(cols), 1.9 * rows + 1.0
    # A fixed layout: constrained layout would take 60 % of this grid's drawing time.
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=1.0 / width,
        right=1 - 0.15 / width,
        top=1 - 0.75 / height,
        bottom=0.5 / height,
        hspace=0.3,
        wspace=0.3,
    )
    axes = fig.subplots(rows, len(cols), squeeze=False, sharex=True)
    for row, r in enumerate(int(k) for k in shown):
        for c, t in enumerate(cols):
            ax = axes[row, c]
            counts = hist[t, r]
            ax.stairs(counts / max(counts.sum(), 1), edges, fill=True, color="tab:blue")
            if row == 0:
                ax.set_title(f"{lab['iteration']} {its[t]}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{lab['hidden'].format(k=r + 1)}\n{lab['share']}", fontsize=8)
            if r == n_layers - 1:
                ax.set_xlabel(lab["activation_value"], fontsize=8)
            ax.tick_params(labelsize=7)
    head = f"{lab['activation_hist']}{' — ' + title if title else ''}"
    fig.suptitle(wrap_title(head, int(12 * width)), fontsize=11, y=1 - 0.12 / height, va="top")
    return localize(fig, lang)


def plot_health(d: dict, *, title: str = "", lang: str = "en") -> Figure:
    """Saturated / dead share of each hidden layer, and the update ratio of each layer."""
    lab = labels(lang)
    names = _layer_names(d, lab)
    fig = new_figure((10, 4.4))
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
        legend_below(left, ncol=3)
    ratio = d["update_ratio"]
    if ratio.size:
        for k in range(ratio.shape[1]):
            right.plot(
                d["update_iterations"], _positive(ratio[:, k]), color=palette[k], label=names[k]
            )
        log_axis(right)
    right.axhline(1e-3, color="gray", ls="--", lw=1, label=lab["rule_of_thumb"])
    right.set_xlabel(lab["iteration"])
    right.set_title(lab["update_ratio"], fontsize=10)
    right.grid(alpha=0.3, which="major")
    legend_below(right, ncol=3)
    if title:
        fig.suptitle(wrap_title(title, 100), fontsize=11)
    return localize(fig, lang)


def plot_nonlinearity_inputs(
    runs: Sequence[tuple[str, dict]], *, title: str = "", lang: str = "en"
) -> Figure:
    """15th, 50th and 85th percentiles of the last hidden layer's input to its nonlinearity
    over training, one panel per run (Ioffe & Szegedy 2015, figure 1 b–c)."""
    lab = labels(lang)
    fig = new_figure((4.6 * len(runs), 4.2))
    axes = fig.subplots(1, len(runs), squeeze=False, sharey=True)
    for ax, (name, d) in zip(axes[0], runs, strict=True):
        pct = list(d["percentiles"])
        cols = [pct.index(p) for p in (15, 50, 85)]
        last = d["pre_pct"][:, -1, :]
        for c, ls in zip(cols, ("--", "-", "--"), strict=True):
            label = lab["median"] if ls == "-" else (lab["band"] if c == cols[0] else None)
            ax.plot(d["iterations"], last[:, c], color="tab:purple", ls=ls, lw=1.4, label=label)
        bn = d["meta"].get("batchnorm")
        ax.set_title(wrap_title(name, 40), fontsize=9, color="tab:green" if bn else "black")
        ax.set_xlabel(lab["iteration"])
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(lab["value"])
    legend_below(axes[0, 0], ncol=1)
    fig.suptitle(wrap_title(f"{lab['pre_pct']}{' — ' + title if title else ''}", 90), fontsize=10)
    return localize(fig, lang)


def plot_gradient_profiles(
    runs: Sequence[tuple[str, dict]], *, title: str = "", lang: str = "en"
) -> Figure:
    """‖∂L/∂W‖ at iteration 0 against the layer, one line per configuration (log y)."""
    lab = labels(lang)
    fig = new_figure((7.6, 5.0))
    ax = fig.subplots()
    palette = colors("tab10", len(runs))
    for k, (name, d) in enumerate(runs):
        norms = d["weight_grad_norm"][0]
        ax.plot(
            np.arange(1, norms.size + 1), _positive(norms), marker="o", color=palette[k], label=name
        )
    log_axis(ax)
    depth = max(d["weight_grad_norm"].shape[1] for _, d in runs)
    ax.set_xticks(range(1, depth + 1))
    ax.set_xlabel(f"{lab['layer']} (1 = {lab['hidden'].format(k=1)}; {lab['last_is_output']})")
    ax.set_ylabel(lab["grad_norm"])
    ax.grid(alpha=0.3, which="major")
    legend_below(ax, ncol=2)
    ax.set_title(
        wrap_title(f"{lab['grad_flow']}, {lab['at_start']}{' — ' + title if title else ''}"),
        fontsize=10,
    )
    return localize(fig, lang)
