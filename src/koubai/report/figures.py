"""Figures of finished runs: they read results and never train.

Each plot function builds and returns a :class:`matplotlib.figure.Figure` of its own: no
pyplot, no backend switched, no global setting changed, so importing koubai changes nothing in
the user's matplotlib and a notebook shows any of them inline. The caller decides where a
figure goes: :func:`save_figure` writes it (atomically) as PNG and/or SVG. Labels come in
English (``lang="en"``) or Japanese (``lang="ja"``, in a CJK font set on that figure alone).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from koubai.checks import check_language
from koubai.i18n import labels as catalog_labels
from koubai.results import atomic_write


def labels(lang: str) -> dict[str, str]:
    """The figure labels for ``lang`` ("en" or "ja"), from :mod:`koubai.i18n`'s catalog."""
    return catalog_labels("fig", lang)


def wrap_title(text: str, width: int = 70) -> str:
    """A title broken into lines of at most ``width`` characters, so no figure clips it."""
    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text


def _log_label(value: float, _pos=None) -> str:
    """A log-axis tick as plain text: ``2e-3``, ``0.05``, ``1``, ``20`` (no ``4×10⁰``)."""
    if value <= 0:
        return ""
    exponent = int(np.floor(np.log10(value) + 1e-9))
    mantissa = round(value / 10.0**exponent, 6)
    return f"{value:g}" if -2 <= exponent <= 2 else f"{mantissa:g}e{exponent}"


def log_axis(ax, which: str = "y") -> None:
    """Put ``ax``'s ``which`` axis on a log scale with plain labels (``1e-3``, ``0.2``).

    Powers of ten are always labelled; 2 and 5 times a power of ten too when the axis spans
    less than two decades, so every axis shows a few numbers. Plain text labels are also much
    cheaper to lay out than matplotlib's math-text ones.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator

    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis = ax.yaxis if which == "y" else ax.xaxis

    def minor_label(value: float, pos=None) -> str:
        lo, hi = axis.get_view_interval()
        narrow = lo > 0 and np.log10(hi / lo) < 2
        return _log_label(value) if narrow else ""

    axis.set_major_locator(LogLocator(base=10, numticks=8))
    axis.set_major_formatter(FuncFormatter(_log_label))
    axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0), numticks=8))
    axis.set_minor_formatter(FuncFormatter(minor_label))


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure with constrained layout, outside pyplot (nothing global is touched)."""
    return Figure(figsize=figsize, layout="constrained")


def colors(name: str, n: int) -> np.ndarray:
    """``n`` colours of the colormap ``name`` (``tab10`` cycles; others spread over 0-0.9)."""
    cmap = matplotlib.colormaps[name]
    return (
        np.array([cmap(k % 10) for k in range(n)])
        if name == "tab10"
        else cmap(np.linspace(0, 0.9, max(n, 1)))
    )


def localize(fig: Figure, lang: str) -> Figure:
    """Draw every text of ``fig`` in a font that has ``lang``'s glyphs (that figure alone).

    Without a Japanese font installed, warns once with the package to install (the labels
    would be empty boxes) and leaves the fonts as they are.
    """
    from koubai.report.fonts import rc_params

    if check_language(lang) == "en":
        return fig
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        family = rc_params(lang)["font.family"]
    for text in fig.findobj(Text):
        text.set_fontfamily(family)
    return fig


def save_figure(
    fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg"), *, dpi: int = 120
) -> list[Path]:
    """Write ``fig`` as ``stem.png`` / ``stem.svg`` (each atomically); return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        paths.append(atomic_write(path, lambda fh, fmt=fmt: fig.savefig(fh, format=fmt, dpi=dpi)))
    return paths


@dataclass(frozen=True)
class Curves:
    """The accuracy curves of one run, as figures need them."""

    label: str
    iterations: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    train_kind: str = "batch"  # "batch" or "subset"
    status: str = "finished"
    classes: int = 10

    @classmethod
    def from_result(cls, result, label: str | None = None, classes: int = 10) -> Curves:
        """The curves of a :class:`~koubai.training.RunResult` (e.g. in a notebook)."""
        return cls(
            label=label or result.config.label,
            iterations=result.column("iteration"),
            train_acc=result.column("train_acc"),
            test_acc=result.column("test_acc"),
            train_kind=result.config.train_accuracy,
            status=result.status,
            classes=classes,
        )


def chance_line(ax, classes: int, lab: dict[str, str]) -> None:
    """A dotted line at 1 / ``classes``: the accuracy of guessing."""
    if classes > 1:
        ax.axhline(1 / classes, color="gray", ls=":", lw=1, label=lab["chance"].format(n=classes))


def legend_below(ax, ncol: int = 2, fontsize: float = 8) -> None:
    """The legend under the plot, where it covers no line (failing runs sit at the bottom)."""
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=fontsize, frameon=False
    )


def plot_run(curves: Curves, *, title: str = "", lang: str = "en") -> Figure:
    """Train and test accuracy against the iteration, y from 0 to 1 (the note's figure)."""
    lab = labels(lang)
    fig = new_figure((6.4, 4.4))
    ax = fig.subplots()
    train_label = lab["train_batch"] if curves.train_kind == "batch" else lab["train_subset"]
    ax.plot(curves.iterations, curves.train_acc, label=train_label, color="tab:blue", lw=1.2)
    ax.plot(curves.iterations, curves.test_acc, label=lab["test"], color="tab:orange", lw=1.6)
    chance_line(ax, curves.classes, lab)
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    legend_below(ax, ncol=3)
    suffix = f"  [{curves.status}]" if curves.status != "finished" else ""
    ax.set_title(wrap_title((title or curves.label) + suffix), fontsize=10)
    return localize(fig, lang)


def plot_comparison(
    groups: Sequence[Sequence[Curves]], *, title: str = "", lang: str = "en"
) -> Figure:
    """Test accuracy of several configurations on one plot.

    ``groups`` holds one sequence per configuration: the runs of its seeds. With one seed a
    line is drawn; with several, their mean and a band from the minimum to the maximum.
    """
    lab = labels(lang)
    fig = new_figure((7.6, 5.0))
    ax = fig.subplots()
    palette = colors("tab10", len(groups))
    classes = 10
    for k, runs in enumerate(groups):
        runs = [r for r in runs if len(r.iterations)]
        if not runs:
            continue
        classes = runs[0].classes
        n = min(len(r.iterations) for r in runs)
        it = runs[0].iterations[:n]
        acc = np.stack([r.test_acc[:n] for r in runs])
        label = runs[0].label
        if len(runs) > 1:
            ax.fill_between(it, acc.min(axis=0), acc.max(axis=0), color=palette[k], alpha=0.2)
            label += f"  (n={len(runs)})"
        ax.plot(it, acc.mean(axis=0), color=palette[k], lw=1.6, label=label)
    chance_line(ax, classes, lab)
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["test_accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    legend_below(ax, ncol=2)
    if title:
        ax.set_title(wrap_title(title), fontsize=10)
    return localize(fig, lang)
