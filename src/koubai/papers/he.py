"""He, Zhang, Ren & Sun (2015), "Delving Deep into Rectifiers" (ICCV), §2.2 and figs. 2-3, as a
fully connected analogue: plain ReLU nets of 22 and 30 hidden layers, Glorot vs He init."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from koubai.i18n import tr
from koubai.papers._claims import Band, Claim, mean_spread, ratio
from koubai.papers._plot import band_curve, colors, finish, paper_figure
from koubai.papers._runs import Runs

NAME = "he-deep"
CITATION = "He et al. 2015, §2.2, Figs. 2-3"
INITS = ("glorot_normal", "he")
#: "Stalls": a final test accuracy at most 0.2 (chance is 0.1 on ten balanced classes).
STALLS = Band(0.0, 0.2)
#: "Learns": a final test accuracy of at least 0.5.
LEARNS = Band(0.5, 1.0)
#: "Learns faster": He reaches the target accuracy in at least 10 % fewer steps than Glorot.
FASTER = Band(0.0, 0.9)
TARGET = 0.5
#: The std ratio per layer at initialization: 1/sqrt(2) ≈ 0.707 (Glorot), 1 (He); ± ~0.1.
SHRINKS = Band(0.6, 0.8)
CONSTANT = Band(0.9, 1.1)
PAPER_SCALE = {
    "groups": {
        "d22": {"hidden_sizes": [256] * 22, "iterations": 10_000, "eval_every": 200},
        "d30": {"hidden_sizes": [256] * 30, "iterations": 10_000, "eval_every": 200},
    }
}
SETUP = (
    "Our setup: a fully connected analogue (theirs: convolutional nets on ImageNet); hidden "
    "layers of 50 units, 2,000 SGD steps of batch 100, lr 0.01 by default (--scale paper: 256 "
    "units, 10,000 steps); mnist-5k or MNIST; activation std measured at initialization on 500 "
    "training images.",
    "本実験の設定：全結合での類比（論文は ImageNet 上の畳み込みネット）。既定では隠れ層 50 "
    "ユニット、バッチ 100 の SGD 2,000 ステップ、学習率 0.01（--scale paper：256 ユニット、"
    "10,000 ステップ）。データは mnist-5k または MNIST。活性の標準偏差は初期状態で訓練画像 "
    "500 枚について測る。",
)


def _group(depth: int) -> str:
    return f"d{depth}"


def _accs(runs: Runs, depth: int, init: str) -> list[float]:
    return [r.final_test_acc for r in runs.select(_group(depth), init=init)]


def _std_ratio(runs: Runs, init: str) -> tuple[float, float]:
    """The geometric mean over layers 2..L of std(layer l+1) / std(layer l) at init, both
    depths, mean ± spread over the runs."""
    per_run = []
    for depth in (22, 30):
        for run in runs.select(_group(depth), init=init):
            std = run.diag("act_std")
            if std.size:
                per_run.append(float(np.exp(np.mean(np.diff(np.log(std[0, 1:]))))))
    return mean_spread(per_run)


def _speed(runs: Runs) -> tuple[float, float]:
    """Per seed, 22 layers: steps He needs to reach :data:`TARGET` over the steps Glorot needs."""
    glorot = {r.config["seed"]: r for r in runs.select("d22", init="glorot_normal")}
    ratios = [
        ratio(he.steps_to(TARGET), glorot[he.config["seed"]].steps_to(TARGET))
        for he in runs.select("d22", init="he")
        if he.config["seed"] in glorot
    ]
    return mean_spread(ratios)  # inf: He never got there; NaN (left out): neither did


def claims(runs: Runs) -> list[Claim]:
    def acc(depth, init, text, band, paper):
        return Claim(
            text,
            paper,
            *mean_spread(_accs(runs, depth, init)),
            band,
            (
                f"Final test accuracy, {depth} hidden layers, {init} init.",
                f"最終テスト正解率（隠れ層 {depth}、{init} 初期化）。",
            ),
        )

    glorot22 = runs.select("d22", init="glorot_normal")
    never = sum(math.isinf(r.steps_to(TARGET)) for r in glorot22)
    both22 = [
        min(a, b)
        for a, b in zip(_accs(runs, 22, "he"), _accs(runs, 22, "glorot_normal"), strict=False)
    ]
    return [
        acc(
            30,
            "glorot_normal",
            (
                "30 layers: the Glorot-initialized net stalls",
                "30 層：Glorot 初期化のネットは学習が止まる",
            ),
            STALLS,
            "stalls (Fig. 3)",
        ),
        acc(
            30,
            "he",
            ("30 layers: the He-initialized net learns", "30 層：He 初期化のネットは学習する"),
            LEARNS,
            "learns (Fig. 3)",
        ),
        Claim(
            ("22 layers: both nets learn", "22 層：どちらのネットも学習する"),
            ("both converge (Fig. 2)", "どちらも収束する（図 2）"),
            *mean_spread(both22),
            LEARNS,
            (
                "The lower of the two final test accuracies, per seed.",
                "シードごとに、2 つの最終テスト正解率の小さい方。",
            ),
        ),
        Claim(
            ("22 layers: He learns faster than Glorot", "22 層：He 初期化の方が速く学習する"),
            (
                "He starts reducing the error earlier (Fig. 2)",
                "He の方が早く誤差が下がり始める（図 2）",
            ),
            *_speed(runs),
            FASTER,
            (
                f"Steps to reach test accuracy {TARGET}, He over Glorot, per seed (0: Glorot "
                f"never got there; that happened in {never} of {len(glorot22)} seeds).",
                f"テスト正解率 {TARGET} に達するまでのステップ数の比（He ÷ Glorot、シードごと。"
                f"0 は Glorot が到達しなかったこと：{len(glorot22)} シード中 {never}）。",
            ),
        ),
        Claim(
            (
                "At initialization the activation std shrinks by 1/√2 per layer with Glorot init",
                "初期状態で、Glorot 初期化では活性の標準偏差が 1 層ごとに 1/√2 倍になる",
            ),
            "1/√2 ≈ 0.707 (§2.2)",
            *_std_ratio(runs, "glorot_normal"),
            SHRINKS,
            (
                "Geometric mean of std(layer l+1)/std(layer l) over hidden layers 2..L, "
                "both depths.",
                "隠れ層 2..L での std(l+1)/std(l) の幾何平均（両方の深さ）。",
            ),
        ),
        Claim(
            ("... and stays constant with He init", "……He 初期化では一定に保たれる"),
            "1 (§2.2)",
            *_std_ratio(runs, "he"),
            CONSTANT,
            (
                "Geometric mean of std(layer l+1)/std(layer l) over hidden layers 2..L, "
                "both depths.",
                "隠れ層 2..L での std(l+1)/std(l) の幾何平均（両方の深さ）。",
            ),
        ),
    ]


def figures(runs: Runs, lang: str) -> dict[str, Figure]:
    title = tr(
        lang, "Very deep plain ReLU nets: Glorot vs He", "とても深い ReLU ネット：Glorot 対 He"
    )
    fig, (ax_std, ax22, ax30) = paper_figure(3, CITATION, title, lang)
    for init, color in zip(INITS, colors("tab10", 2), strict=True):
        rows = [
            r.diag("act_std")[0] for r in runs.select("d30", init=init) if r.diag("act_std").size
        ]
        if rows:
            band_curve(ax_std, np.arange(1, rows[0].size + 1), rows, init, color, marker=".")
        for ax, depth in ((ax22, 22), (ax30, 30)):
            rs = runs.select(_group(depth), init=init)
            its = rs[0].metrics["iteration"] if rs else []
            band_curve(ax, its, [r.metrics["test_acc"] for r in rs], init, color)
    start = [r.diag("act_std")[0, 1] for r in runs.select("d30") if r.diag("act_std").size]
    if start:  # from hidden layer 2 (layer 1 sees the pixels), as the claim measures it
        ref = np.arange(2, 31)
        line = np.mean(start) * 2.0 ** (-(ref - 2) / 2)
        ax_std.plot(ref, line, "k:", label=tr(lang, "× 1/√2 per layer", "1 層ごとに × 1/√2"))
    ax_std.set(
        yscale="log",
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "activation std at init (30 layers)", "初期状態の活性の標準偏差（30 層）"),
    )
    for ax, depth in ((ax22, 22), (ax30, 30)):
        ax.set(
            ylim=(0, 1),
            xlabel=tr(lang, "iteration", "イテレーション"),
            ylabel=tr(lang, "test accuracy", "テスト正解率"),
            title=tr(lang, f"{depth} hidden layers", f"隠れ層 {depth}"),
        )
    return {"he-fig2-3": finish(fig, lang)}
