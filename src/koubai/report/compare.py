"""One overlay figure for runs from any experiments: test accuracy against the iteration, and
‖∂L/∂W‖ per layer at iteration 0 (``koubai runs compare``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from koubai.report.figures import colors, labels, localize, new_figure


@dataclass(frozen=True)
class Overlay:
    """One run's curves: its label, test accuracy per evaluation, and the gradient norm per
    layer at iteration 0 (None when it recorded no diagnostics)."""

    label: str
    iterations: np.ndarray
    test_acc: np.ndarray
    grad_norms: np.ndarray | None


def plot_overlay(runs: Sequence[Overlay], *, title: str = "", lang: str = "en") -> Figure:
    """Left: test accuracy of every run (y from 0 to 1). Right: ‖∂L/∂W‖ per layer at
    iteration 0 (log y; 1 = the first hidden layer)."""
    lab = labels(lang)
    fig = new_figure((12.0, 4.4))
    acc, grad = fig.subplots(1, 2)
    palette = colors("tab10", max(len(runs), 1))
    for k, run in enumerate(runs):
        acc.plot(run.iterations, run.test_acc, color=palette[k], lw=1.2, label=run.label)
        if run.grad_norms is not None and run.grad_norms.size:
            norms = np.where(run.grad_norms > 0, run.grad_norms, np.nan)
            x = np.arange(1, norms.size + 1)
            grad.plot(x, norms, marker="o", color=palette[k], label=run.label)
    acc.set_ylim(0, 1)
    acc.set_xlabel(lab["iteration"])
    acc.set_ylabel(lab["test_accuracy"])
    acc.grid(alpha=0.3)
    acc.legend(fontsize=7)
    grad.set_yscale("log")
    grad.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers 1, 2, 3: no 1.5
    grad.set_xlabel(lab["layer"])
    grad.set_ylabel(lab["grad_norm"])
    grad.grid(alpha=0.3, which="both")
    grad.set_title(f"{lab['grad_flow']}, {lab['at_start']}", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return localize(fig, lang)
