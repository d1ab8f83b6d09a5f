"""Figures of finished runs: they read results and never train.

Each plot function builds and returns a :class:`matplotlib.figure.Figure` of its own: no
pyplot, no backend switched, no global setting changed, so importing koubai changes nothing in
the user's matplotlib and a notebook shows any of them inline. The caller decides where a
figure goes: :func:`save_figure` writes it (atomically) as PNG and/or SVG. Labels come in
English (``lang="en"``) or Japanese (``lang="ja"``, in a CJK font set on that figure alone).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from koubai.checks import check_language
from koubai.results import atomic_write

LABELS = {
    "en": {
        "iteration": "iteration",
        "accuracy": "accuracy",
        "train": "training set",
        "train_batch": "training set (current mini-batch)",
        "train_subset": "training set (fixed subset)",
        "test": "test set",
        "test_accuracy": "test accuracy",
        "chance": "chance",
        "seeds": "mean ± min/max over {n} seeds",
        "layer": "layer",
        "grad_norm": "‖∂L/∂W‖",
        "grad_flow": "gradient norm per layer",
        "at_start": "at iteration 0",
        "share": "share of units",
        "saturated": "saturated (sigmoid/tanh)",
        "dead": "dead (ReLU)",
        "zeros": "exact zeros per sample (sparsity)",
        "update_ratio": "update ratio ‖ΔW‖/‖W‖",
        "rule_of_thumb": "1e-3 rule of thumb",
        "pre_pct": "input to the nonlinearity: 15/50/85th percentiles",
        "activation_hist": "activation histograms",
        "hidden": "hidden layer {k}",
        "output": "output layer",
        "last_is_output": "the last is the output layer",
        "value": "value",
        "count": "count",
    },
    "ja": {
        "iteration": "イテレーション",
        "accuracy": "正解率",
        "train": "訓練データ",
        "train_batch": "訓練データ（現在のミニバッチ）",
        "train_subset": "訓練データ（固定サブセット）",
        "test": "テストデータ",
        "test_accuracy": "テストデータの正解率",
        "chance": "チャンスレベル",
        "seeds": "{n} シードの平均 ± 最小/最大",
        "layer": "層",
        "grad_norm": "‖∂L/∂W‖",
        "grad_flow": "層ごとの勾配ノルム",
        "at_start": "イテレーション 0",
        "share": "ユニットの割合",
        "saturated": "飽和（シグモイド/tanh）",
        "dead": "死んだユニット（ReLU）",
        "zeros": "サンプルあたりの 0 の割合（スパース性）",
        "update_ratio": "更新比 ‖ΔW‖/‖W‖",
        "rule_of_thumb": "目安 1e-3",
        "pre_pct": "活性化関数への入力：15/50/85 パーセンタイル",
        "activation_hist": "活性化の分布",
        "hidden": "隠れ層 {k}",
        "output": "出力層",
        "last_is_output": "最後が出力層",
        "value": "値",
        "count": "度数",
    },
}


def labels(lang: str) -> dict[str, str]:
    """The label set for ``lang`` ("en" or "ja")."""
    return LABELS[check_language(lang)]


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


def figure_bytes(fig: Figure, fmt: str = "png", *, dpi: int = 120) -> bytes:
    """The figure as ``png`` or ``svg`` bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


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


def plot_run(curves: Curves, *, title: str = "", lang: str = "en") -> Figure:
    """Train and test accuracy against the iteration, y from 0 to 1 (the note's figure)."""
    lab = labels(lang)
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    train_label = lab["train_batch"] if curves.train_kind == "batch" else lab["train_subset"]
    ax.plot(curves.iterations, curves.train_acc, label=train_label, color="tab:blue", lw=1.2)
    ax.plot(curves.iterations, curves.test_acc, label=lab["test"], color="tab:orange", lw=1.6)
    _finish(ax, lab, title or curves.label, curves)
    return localize(fig, lang)


def plot_comparison(
    groups: Sequence[Sequence[Curves]], *, title: str = "", lang: str = "en"
) -> Figure:
    """Test accuracy of several configurations on one plot.

    ``groups`` holds one sequence per configuration: the runs of its seeds. With one seed a
    line is drawn; with several, their mean and a band from the minimum to the maximum.
    """
    lab = labels(lang)
    fig = new_figure((7.6, 4.6))
    ax = fig.subplots()
    palette = colors("tab10", len(groups))
    for k, runs in enumerate(groups):
        runs = [r for r in runs if len(r.iterations)]
        if not runs:
            continue
        n = min(len(r.iterations) for r in runs)
        it = runs[0].iterations[:n]
        acc = np.stack([r.test_acc[:n] for r in runs])
        label = runs[0].label
        if len(runs) > 1:
            ax.fill_between(it, acc.min(axis=0), acc.max(axis=0), color=palette[k], alpha=0.2)
            label += f"  (n={len(runs)})"
        ax.plot(it, acc.mean(axis=0), color=palette[k], lw=1.6, label=label)
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["test_accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return localize(fig, lang)


def _finish(ax, lab: dict[str, str], title: str, curves: Curves) -> None:
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    suffix = f"  [{curves.status}]" if curves.status != "finished" else ""
    ax.set_title(title + suffix, fontsize=10)
