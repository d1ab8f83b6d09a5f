"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural
networks" (AISTATS), and the note's claim that ReLU makes the hidden code sparse (Glorot,
Bordes & Bengio 2011, "Deep sparse rectifier neural networks").

* Figs. 6-7: with the "standard" initialization U[-1/sqrt(n), 1/sqrt(n)] the variance of a tanh
  net's activations shrinks from layer to layer going up, and that of the back-propagated
  gradients going down; with the "normalized" initialization both stay about the same.
* Fig. 2: with sigmoid units and the standard initialization, the top hidden layer is driven to
  0 early in training.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from koubai.i18n import tr
from koubai.papers._claims import Band, Claim, mean_spread
from koubai.papers._plot import band_curve, colors, finish, paper_figure
from koubai.papers._runs import Runs

NAME = "glorot"
CITATION = "Glorot & Bengio 2010, Figs. 2, 6, 7"
SPARSE_CITATION = (
    "Glorot, Bordes & Bengio 2011; the note: ReLU 'contributes to sparsity'",
    "Glorot, Bordes & Bengio 2011、ノート：ReLU は「スパース化に貢献」",
)
#: Variance ratios are per layer (the geometric mean over the 4 steps between the 5 hidden
#: layers), as their analysis goes: Var shrinks by n·Var(W) per layer, 1/3 with the standard
#: initialization and 1 with the normalized one (in tanh's linear regime).
#: "Shrinks": at most 0.5 per layer.
SHRINKS = Band(0.0, 0.5)
#: "Stays about the same": within 25 % per layer.
SIMILAR = Band(0.75, 1.0 / 0.75)
#: "Near 0" for a sigmoid output: below 0.1 (the first 5 of the 50 histogram bins on [0, 1]).
NEAR_ZERO_BINS = 5
#: "Driven to 0 early": before the net learns, at some point most (half or more) of the top
#: layer's outputs are.
SATURATES = Band(0.5, 1.0)
#: "Not learned yet": a test accuracy of at most 0.2 (chance is 0.1).
NOT_LEARNED = 0.2
#: "Sparse": at least a quarter of ReLU's outputs exactly 0, beyond what sigmoid/tanh have.
SPARSE = Band(0.25, 1.0)
#: "Comparable accuracy": final test accuracies within 0.05 of each other.
SAME_ACCURACY = 0.05
PAPER_SCALE = {
    "groups": {
        "tanh": {"hidden_sizes": [1000] * 5},
        "sigmoid": {
            "hidden_sizes": [1000] * 5,
            "iterations": 50_000,
            "diagnostics_every": 500,
            "eval_every": 500,
        },
    },
    "seeds": 3,
}
SETUP = (
    "Our setup: MNIST digits (mnist-5k by default) instead of their Shapeset-3×2, MNIST and "
    "CIFAR-10; 5 hidden layers of 200 units by default (theirs: 1,000; --scale paper); the "
    "distributions are measured at initialization on 500 training images; fig. 2 over 3,000 "
    "steps of mini-batch 10 by default. Sparsity: 2 hidden layers of 100 units, 2,000 steps.",
    "本実験の設定：データは Shapeset-3×2・MNIST・CIFAR-10 ではなく MNIST の数字（既定は "
    "mnist-5k）。隠れ層は既定で 200 ユニット × 5 層（論文は 1,000、--scale paper）。分布は初期"
    "状態で訓練画像 500 枚について測る。図 2 は既定でミニバッチ 10、3,000 ステップ。"
    "スパース性：100 ユニット × 2 層、2,000 ステップ。",
)


def _ratio(runs: Runs, init: str, key: str, top_over_bottom: bool) -> tuple[float, float]:
    """Mean ± spread over seeds of the variance ratio per layer (geometric mean) from the
    bottom hidden layer up (activations) or from the top down (gradients), at initialization
    (``key``: ``act_std`` or ``delta_std``)."""
    per_seed = []
    for run in runs.select("tanh", init=init):
        std = run.diag(key)
        if std.size:
            var = std[0] ** 2
            ratio = var[-1] / var[0] if top_over_bottom else var[0] / var[-1]
            per_seed.append(float(ratio ** (1.0 / max(1, var.size - 1))))
    return mean_spread(per_seed)


def claims(runs: Runs) -> list[Claim]:
    out = []
    for init, band, paper in (
        ("standard_uniform", SHRINKS, ("shrinks (theory: 1/3)", "縮む（理論値 1/3）")),
        ("glorot_uniform", SIMILAR, ("stays similar (theory: 1)", "ほぼ同じ（理論値 1）")),
    ):
        name = {
            "standard_uniform": ("standard", "標準"),
            "glorot_uniform": ("normalized", "正規化"),
        }
        en, ja = name[init]
        value, spread = _ratio(runs, init, "act_std", top_over_bottom=True)
        out.append(
            Claim(
                (
                    f"Fig. 6, tanh, {en} init: activation variance, ratio per layer going up",
                    f"図 6（tanh、{ja}初期化）：活性の分散の 1 層あたりの比（上向き）",
                ),
                paper,
                value,
                spread,
                band,
                (
                    "(Var of the 5th hidden layer's outputs / the 1st's)^(1/4), at initialization.",
                    "初期状態での（第 5 隠れ層の出力の分散 ÷ 第 1 隠れ層の分散）^(1/4)。",
                ),
            )
        )
        value, spread = _ratio(runs, init, "delta_std", top_over_bottom=False)
        out.append(
            Claim(
                (
                    f"Fig. 7, tanh, {en} init: back-propagated gradient variance, ratio per "
                    "layer going down",
                    f"図 7（tanh、{ja}初期化）：逆伝播勾配の分散の 1 層あたりの比（下向き）",
                ),
                paper,
                value,
                spread,
                band,
                (
                    "(Var of ∂L/∂(input of the nonlinearity) at the 1st hidden layer / at the "
                    "5th)^(1/4), at initialization.",
                    "初期状態での（第 1 隠れ層の ∂L/∂(活性化関数への入力) の分散 ÷ 第 5 隠れ層"
                    "の分散）^(1/4)。",
                ),
            )
        )
    out.append(_saturation(runs))
    out.append(sparsity_claim(runs))
    return out


def _near_zero(run) -> np.ndarray:
    """Per record and hidden layer: the share of sigmoid outputs below 0.1."""
    hist = run.diag("act_hist")
    if hist.ndim != 3:
        return np.empty((0, 0))
    return hist[:, :, :NEAR_ZERO_BINS].sum(axis=2) / hist.sum(axis=2)


def _not_yet_learned(run) -> np.ndarray:
    """Per diagnostics record: whether the net had not learned yet (the test accuracy of the
    last evaluation at or before it at most :data:`NOT_LEARNED`)."""
    its = run.diag("iterations").ravel()
    evals, acc = run.metrics["iteration"], run.metrics["test_acc"]
    last = np.clip(np.searchsorted(evals, its, side="right") - 1, 0, None)
    return acc[last] <= NOT_LEARNED


def _saturation(runs: Runs) -> Claim:
    peaks, bottoms, learned = [], [], []
    for run in runs.select("sigmoid"):
        share = _near_zero(run)
        if share.size:
            early = _not_yet_learned(run)
            peaks.append(float(share[early, -1].max()) if early.any() else math.nan)
            bottoms.append(float(share[:, 0].max()))
            learned.append(not early[-1])
    value, spread = mean_spread(peaks)
    bottom = mean_spread(bottoms)[0]
    return Claim(
        (
            "Fig. 2, sigmoid, standard init: the top hidden layer is driven to 0 early in training",
            "図 2（シグモイド、標準初期化）：学習の初期に最上位の隠れ層が 0 に張り付く",
        ),
        ("top layer's mean ≈ 0 for a long time", "最上位の層の平均が長いあいだ ≈ 0"),
        value,
        spread,
        SATURATES,
        (
            f"The largest share of the top hidden layer's outputs below 0.1 before the net "
            f"learns (test accuracy ≤ {NOT_LEARNED}; {sum(learned)} of {len(learned)} runs "
            f"learned within the run); the first hidden layer's, over the run: {bottom:.2f}.",
            f"ネットが学習する前（テスト正解率 ≤ {NOT_LEARNED}。実行中に学習したのは "
            f"{len(learned)} 中 {sum(learned)}）に最上位の隠れ層の出力が 0.1 未満となる割合の"
            f"最大値。第 1 隠れ層では実行全体で {bottom:.2f}。",
        ),
    )


def _sparsity(runs: Runs, activation: str) -> tuple[list[float], list[float], list[float]]:
    """Per seed: zero share and never-active share (last record, mean over hidden layers), and
    the final test accuracy."""
    zeros, never, acc = [], [], []
    for run in runs.select("sparsity", activation=activation):
        z, n = run.diag("zero_share"), run.diag("never_active")
        if z.size:
            zeros.append(float(z[-1].mean()))
            never.append(float(n[-1].mean()))
            acc.append(run.final_test_acc)
    return zeros, never, acc


def sparsity_claim(runs: Runs) -> Claim:
    relu = _sparsity(runs, "relu")
    others = {a: _sparsity(runs, a) for a in ("sigmoid", "tanh")}
    smooth = max((mean_spread(z)[0] for z, _, _ in others.values() if z), default=math.nan)
    value, spread = mean_spread([z - smooth for z in relu[0]])
    accs = {a: mean_spread(s[2])[0] for a, s in {"relu": relu, **others}.items()}
    gap = max(accs.values()) - min(accs.values())
    override = None
    if not math.isfinite(gap) or gap > SAME_ACCURACY:
        shown = ", ".join(f"{a} {v:.3f}" for a, v in accs.items())
        override = (
            f"the accuracies ({shown}) differ by more than {SAME_ACCURACY}.",
            f"正解率（{shown}）の差が {SAME_ACCURACY} を超える。",
        )
    never = mean_spread(relu[1])[0]
    return Claim(
        (
            "The note: ReLU makes the hidden code sparse (share of exact zeros per sample, "
            "ReLU minus sigmoid/tanh, at comparable accuracy)",
            "ノート：ReLU はスパース化に貢献する（サンプルごとのちょうど 0 の割合、ReLU − "
            "シグモイド/tanh、同程度の正解率で）",
        ),
        (
            "ReLU ≈ 50 % exact zeros at init (2011); sigmoid/tanh: none",
            "ReLU は初期化時に約 50 % が厳密な 0（2011）、シグモイド／tanh は 0 なし",
        ),
        value,
        spread,
        SPARSE,
        (
            f"At the end of training, mean over the hidden layers; sigmoid/tanh give "
            f"{smooth:.3f}; ReLU units never active on the batch: {never:.3f}; final test "
            f"accuracies: " + ", ".join(f"{a} {v:.3f}" for a, v in accs.items()) + ".",
            f"学習終了時、隠れ層の平均。シグモイド/tanh は {smooth:.3f}。バッチ全体で一度も"
            f"活性化しない ReLU ユニット：{never:.3f}。最終テスト正解率："
            + "、".join(f"{a} {v:.3f}" for a, v in accs.items())
            + "。",
        ),
        override,
    )


def figures(runs: Runs, lang: str) -> dict[str, Figure]:
    title = tr(lang, "Activations and gradients layer by layer", "層ごとの活性と勾配")
    fig, (ax_act, ax_delta, ax_sat) = paper_figure(3, CITATION, title, lang)
    for init, color in zip(("standard_uniform", "glorot_uniform"), colors("tab10", 2), strict=True):
        rs = runs.select("tanh", init=init)
        label = tr(
            lang,
            {"standard_uniform": "standard", "glorot_uniform": "normalized"}[init],
            {"standard_uniform": "標準", "glorot_uniform": "正規化"}[init],
        )
        for ax, key in ((ax_act, "act_std"), (ax_delta, "delta_std")):
            rows = [r.diag(key)[0] ** 2 for r in rs if r.diag(key).size]
            x = np.arange(1, rows[0].size + 1) if rows else []
            band_curve(ax, x, rows, label, color, marker="o")
            ax.set_xticks(np.asarray(x))
    ax_act.set(
        yscale="log",
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "variance of the activations", "活性の分散"),
        title=tr(lang, "Fig. 6 (tanh, at init)", "図 6（tanh、初期状態）"),
    )
    ax_delta.set(
        yscale="log",
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "variance of ∂L/∂s", "∂L/∂s の分散"),
        title=tr(lang, "Fig. 7 (tanh, at init)", "図 7（tanh、初期状態）"),
    )
    sig = [r for r in runs.select("sigmoid") if r.diag("act_mean").size]
    if sig:
        its = sig[0].diag("iterations").ravel()
        n_layers = sig[0].diag("act_mean").shape[1]
        for layer, color in zip(range(n_layers), colors("viridis", n_layers), strict=True):
            label = tr(lang, f"layer {layer + 1}", f"層 {layer + 1}")
            band_curve(ax_sat, its, [r.diag("act_mean")[:, layer] for r in sig], label, color)
        band_curve(
            ax_sat,
            its,
            [_near_zero(r)[:, -1] for r in sig],
            tr(lang, "top layer: share < 0.1", "最上位層：0.1 未満の割合"),
            "red",
            ls="--",
        )
    ax_sat.set(
        ylim=(0, 1),
        xlabel=tr(lang, "iteration", "イテレーション"),
        ylabel=tr(lang, "mean activation", "活性の平均"),
        title=tr(lang, "Fig. 2 (sigmoid, standard init)", "図 2（シグモイド、標準初期化）"),
    )
    return {"glorot-fig2-6-7": finish(fig, lang), "sparsity": sparsity_figure(runs, lang)}


def sparsity_figure(runs: Runs, lang: str) -> Figure:
    title = tr(lang, "Exact zeros in the hidden layers", "隠れ層のちょうど 0 の割合")
    cite = SPARSE_CITATION[1 if lang == "ja" else 0]
    fig, (ax_zero, ax_never) = paper_figure(2, cite, title, lang)
    acts = ("relu", "tanh", "sigmoid")
    for k, (act, color) in enumerate(zip(acts, colors("tab10", 3), strict=True)):
        rs = [r for r in runs.select("sparsity", activation=act) if r.diag("zero_share").size]
        if not rs:
            continue
        acc = np.mean([r.final_test_acc for r in rs])
        for ax, key in ((ax_zero, "zero_share"), (ax_never, "never_active")):
            last = np.stack([r.diag(key)[-1] for r in rs])
            x = np.arange(1, last.shape[1] + 1) + (k - 1) * 0.25
            bars = ax.bar(
                x,
                last.mean(axis=0),
                width=0.25,
                color=color,
                label=f"{act} ({tr(lang, 'test', 'テスト')} {acc:.3f})",
            )
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
            ax.set_xticks(np.arange(1, last.shape[1] + 1))
    ax_zero.set(
        ylim=(0, 1),
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "share of exact zeros per sample", "サンプルあたりの 0 の割合"),
    )
    ax_never.set(
        ylim=(0, 1),
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "share of units never active", "一度も活性化しないユニット"),
    )
    return finish(fig, lang)
