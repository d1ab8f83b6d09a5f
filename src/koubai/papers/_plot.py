"""What every paper figure shares: its citation line, mean ± spread curves, and labels."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from koubai.i18n import tr
from koubai.report.figures import colors, localize, new_figure


def paper_figure(ncols: int, cite: str, title: str, lang: str) -> tuple[Figure, list[Axes]]:
    """A row of ``ncols`` panels under a title and the line "cf. <citation>"."""
    fig = new_figure((5.2 * ncols, 4.2))
    axes = list(np.atleast_1d(fig.subplots(1, ncols)))
    fig.suptitle(f"{title}\n{tr(lang, 'cf.', '参照:')} {cite}", fontsize=10)
    return fig, axes


def band_curve(ax: Axes, x, rows: list[np.ndarray], label: str, color, **kw) -> None:
    """The mean over seeds as a line, min–max as a shaded band (rows: one array per seed)."""
    rows = [np.asarray(r, dtype=float) for r in rows if np.size(r)]
    if not rows:
        return
    n = min(r.size for r in rows)
    stack = np.stack([r[:n] for r in rows])
    x = np.asarray(x)[:n]
    ax.plot(x, stack.mean(axis=0), color=color, label=label, **kw)
    if stack.shape[0] > 1:
        ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=color, alpha=0.2, lw=0)


def finish(fig: Figure, lang: str) -> Figure:
    for ax in fig.axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return localize(fig, lang)


__all__ = ["band_curve", "colors", "finish", "paper_figure"]
