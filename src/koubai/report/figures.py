"""Figures of finished runs (matplotlib, Agg backend): they read results and never train.

Each function draws one figure and saves it as PNG and SVG next to each other, returning the
paths. Labels come in English (``lang="en"``) or Japanese (``lang="ja"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
    from koubai.errors import ConfigError

    if lang not in LABELS:
        raise ConfigError(f"unknown language {lang!r}; choose one of {sorted(LABELS)}")
    return LABELS[lang]


@dataclass(frozen=True)
class Curves:
    """The accuracy curves of one run, as figures need them."""

    label: str
    iterations: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    train_kind: str = "batch"  # "batch" or "subset"
    status: str = "finished"


def style(lang: str) -> None:
    if lang == "ja":
        from koubai.report.fonts import use_language

        use_language("ja")


def save(fig, stem: Path, *, svg: bool = True) -> list[Path]:
    """Save ``fig`` as ``stem.png`` (and ``stem.svg``); close it; return the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png")] + ([stem.with_suffix(".svg")] if svg else [])
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths


def plot_run(curves: Curves, stem: Path, *, title: str = "", lang: str = "en") -> list[Path]:
    """Train and test accuracy against the iteration, y from 0 to 1 (the note's figure)."""
    lab = labels(lang)
    style(lang)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    train_label = lab["train_batch"] if curves.train_kind == "batch" else lab["train_subset"]
    ax.plot(curves.iterations, curves.train_acc, label=train_label, color="tab:blue", lw=1.2)
    ax.plot(curves.iterations, curves.test_acc, label=lab["test"], color="tab:orange", lw=1.6)
    _finish(ax, lab, title or curves.label, curves)
    return save(fig, stem)


def plot_comparison(
    groups: Sequence[Sequence[Curves]], stem: Path, *, title: str = "", lang: str = "en"
) -> list[Path]:
    """Test accuracy of several configurations on one plot.

    ``groups`` holds one sequence per configuration: the runs of its seeds. With one seed a
    line is drawn; with several, their mean and a band from the minimum to the maximum.
    """
    lab = labels(lang)
    style(lang)
    fig, ax = plt.subplots(figsize=(7.6, 4.6), layout="constrained")
    colors = plt.get_cmap("tab10")
    for k, runs in enumerate(groups):
        runs = [r for r in runs if len(r.iterations)]
        if not runs:
            continue
        n = min(len(r.iterations) for r in runs)
        it = runs[0].iterations[:n]
        acc = np.stack([r.test_acc[:n] for r in runs])
        label = runs[0].label
        if len(runs) > 1:
            ax.fill_between(it, acc.min(axis=0), acc.max(axis=0), color=colors(k), alpha=0.2)
            label += f"  (n={len(runs)})"
        ax.plot(it, acc.mean(axis=0), color=colors(k), lw=1.6, label=label)
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["test_accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, stem)


def _finish(ax, lab: dict[str, str], title: str, curves: Curves) -> None:
    ax.set_xlabel(lab["iteration"])
    ax.set_ylabel(lab["accuracy"])
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    suffix = f"  [{curves.status}]" if curves.status != "finished" else ""
    ax.set_title(title + suffix, fontsize=10)
