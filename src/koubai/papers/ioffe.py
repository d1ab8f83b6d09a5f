"""Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by Reducing
Internal Covariate Shift" (ICML), §4.1 and fig. 1: a 3-layer sigmoid net on MNIST, with and
without batch norm."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from koubai.i18n import tr
from koubai.papers._claims import Band, Claim, mean_spread, ratio
from koubai.papers._plot import band_curve, colors, finish, paper_figure
from koubai.papers._runs import Runs
from koubai.training.probes import PERCENTILES

NAME = "ioffe"
CITATION = "Ioffe & Szegedy 2015, Fig. 1(a)-(c)"
GROUP = "bn"
#: "Higher accuracy": BN's final test accuracy at least half a point above the plain net's.
HIGHER = Band(0.005, math.inf)
#: "Faster": BN reaches the plain net's target accuracy in at least 10 % fewer steps.
FASTER = Band(0.0, 0.9)
#: The target: this share of the plain net's final test accuracy.
TARGET = 0.95
#: "Drifts without BN, stable with": the plain net's percentile drift at least 2× BN's.
STABLE = Band(2.0, math.inf)
PAPER_SCALE = {"points": {"iterations": 50_000, "eval_every": 500, "diagnostics_every": 500}}
SETUP = (
    "Our setup: mnist-5k or MNIST (theirs: MNIST); by default 3,000 steps instead of 50,000 "
    "(--scale paper); initial weights N(0, 0.1²) (theirs: 'small random Gaussian values'); "
    "SGD lr 0.5 (theirs: not stated); batch norm as PyTorch keeps it. The percentiles pool all "
    "100 units of the last hidden layer (theirs: one typical unit).",
    "本実験の設定：データは mnist-5k または MNIST（論文は MNIST）。既定では 50,000 ステップ"
    "ではなく 3,000（--scale paper）。初期重み N(0, 0.1²)（論文：「小さなランダムなガウス値」）。"
    "SGD 学習率 0.5（論文に記載なし）。バッチ正規化は PyTorch の規約。パーセンタイルは最後の"
    "隠れ層の 100 ユニットすべてをまとめて計算（論文は代表的な 1 ユニット）。",
)


def _pairs(runs: Runs) -> list[tuple]:
    """(plain, BN) runs of the same seed."""
    plain = {r.config["seed"]: r for r in runs.select(GROUP, batchnorm=False)}
    bn = {r.config["seed"]: r for r in runs.select(GROUP, batchnorm=True)}
    return [(plain[s], bn[s]) for s in sorted(plain) if s in bn]


def _drift(run) -> float:
    """How far the last hidden layer's 15/50/85th percentiles of the sigmoid's input move over
    training, over their mean width (85th − 15th)."""
    pct = run.diag("pre_pct")
    if pct.ndim != 3 or pct.shape[0] < 2:
        return math.nan
    cols = [PERCENTILES.index(p) for p in (15, 50, 85)]
    last = pct[:, -1, cols]
    moved = float((last.max(axis=0) - last.min(axis=0)).max())
    return moved / float(np.mean(last[:, 2] - last[:, 0]))


def claims(runs: Runs) -> list[Claim]:
    pairs = _pairs(runs)
    diff = mean_spread([bn.final_test_acc - plain.final_test_acc for plain, bn in pairs])
    ratios = []
    for plain, bn in pairs:
        target = TARGET * plain.final_test_acc
        ratios.append(ratio(bn.steps_to(target), plain.steps_to(target)))
    speed = mean_spread(ratios)
    drift = mean_spread([_drift(plain) / _drift(bn) for plain, bn in pairs])
    plain_acc = mean_spread([p.final_test_acc for p, _ in pairs])[0]
    bn_acc = mean_spread([b.final_test_acc for _, b in pairs])[0]
    return [
        Claim(
            (
                "Fig. 1(a): with batch norm the net reaches a higher test accuracy",
                "図 1(a)：バッチ正規化ありの方がテスト正解率が高くなる",
            ),
            ("higher (Fig. 1(a): BN above throughout)", "高い（図 1(a)：BN ありが終始上）"),
            *diff,
            HIGHER,
            (
                f"Final test accuracy with BN minus without, same seed (without {plain_acc:.3f}, "
                f"with {bn_acc:.3f}).",
                f"同じシードでの最終テスト正解率の差、BN あり − なし（なし {plain_acc:.3f}、"
                f"あり {bn_acc:.3f}）。",
            ),
        ),
        Claim(
            (
                "Fig. 1(a): with batch norm it gets there faster",
                "図 1(a)：バッチ正規化ありの方が速くそこに達する",
            ),
            ("faster", "速い"),
            *speed,
            FASTER,
            (
                f"Steps BN needs to reach {TARGET:.0%} of the plain net's final test accuracy, "
                "over the steps the plain net needs.",
                f"BN なしの最終テスト正解率の {TARGET:.0%} に達するまでのステップ数の比"
                "（BN あり ÷ なし）。",
            ),
        ),
        Claim(
            (
                "Fig. 1(b,c): the input to the last layer's sigmoids drifts without batch norm and "
                "is stable with it",
                "図 1(b,c)：最後の層のシグモイドへの入力は BN なしでは移動し、BN ありでは安定する",
            ),
            ("drifts vs stable", "移動する／安定する"),
            *drift,
            STABLE,
            (
                "Ratio of the drifts, without over with BN; a drift is how far the 15/50/85th "
                "percentiles move over training, over their mean 15-85 width.",
                "移動量の比（BN なし ÷ あり）。移動量は 15/50/85 パーセンタイルが学習中に動く幅を、"
                "15–85 の平均幅で割ったもの。",
            ),
        ),
    ]


def figures(runs: Runs, lang: str) -> dict[str, Figure]:
    title = tr(lang, "Batch norm on a 3-layer sigmoid net", "3 層シグモイドネットでのバッチ正規化")
    fig, (ax_acc, ax_plain, ax_bn) = paper_figure(3, CITATION, title, lang)
    for bn, color in zip((False, True), colors("tab10", 2), strict=True):
        rs = runs.select(GROUP, batchnorm=bn)
        label = tr(lang, "with BN" if bn else "without BN", "BN あり" if bn else "BN なし")
        its = rs[0].metrics["iteration"] if rs else []
        band_curve(ax_acc, its, [r.metrics["test_acc"] for r in rs], label, color)
    ax_acc.set(
        ylim=(0, 1),
        xlabel=tr(lang, "iteration", "イテレーション"),
        ylabel=tr(lang, "test accuracy", "テスト正解率"),
        title="(a)",
    )
    for ax, bn, panel in ((ax_plain, False, "(b)"), (ax_bn, True, "(c)")):
        run = runs.first(GROUP, batchnorm=bn)
        if run is not None and run.diag("pre_pct").ndim == 3:
            its, pct = run.diag("iterations").ravel(), run.diag("pre_pct")[:, -1]
            for p, ls in ((15, ":"), (50, "-"), (85, ":")):
                ax.plot(its, pct[:, PERCENTILES.index(p)], "k", ls=ls, label=f"{p}th")
        ax.set(
            xlabel=tr(lang, "iteration", "イテレーション"),
            ylabel=tr(lang, "input to a last-layer sigmoid", "最後の層のシグモイドへの入力"),
            title=f"{panel} "
            + tr(lang, "with BN" if bn else "without BN", "BN あり" if bn else "BN なし"),
        )
    return {"ioffe-fig1": finish(fig, lang)}
