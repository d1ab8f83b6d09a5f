"""Nielsen, *Neural Networks and Deep Learning* (2015), ch. 5: "the speed of learning".

Sigmoid networks with sigmoid outputs and the cross-entropy cost, weights N(0, 1/n_in), biases
N(0, 1), trained on 1,000 images. The error signal ‖δ^l‖ = ‖∂C/∂b^l‖ of each hidden layer,
measured on those 1,000 images, grows toward the output layer.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from koubai.i18n import tr
from koubai.papers._claims import Band, Claim, mean_spread
from koubai.papers._plot import band_curve, colors, finish, paper_figure
from koubai.papers._runs import Runs

NAME = "nielsen"
CITATION = "Nielsen 2015, Neural Networks and Deep Learning, ch. 5"
GROUP = "depth"
#: His ‖δ‖ per hidden layer for [784,30,30,30,10] at initialization (ch. 5).
PAPER_DELTAS = (0.012, 0.060, 0.283)
#: "Agrees with his value": within a factor of 2 (his numbers come from one random network).
FACTOR = 2.0
#: "About 5× per layer": a geometric-mean growth per layer between 2.5 and 10.
GROWTH = Band(2.5, 10.0)
#: Paper scale: his 500 epochs of 1,000 images in mini-batches of 10 (50,000 steps).
PAPER_SCALE = {"points": {"iterations": 50_000}, "seeds": 10}
SETUP = (
    "Our setup: mnist-5k or MNIST as the runner found it (he used MNIST's first 1,000 training "
    "images; we take 100 of each class), 10 seeds, and by default 30 epochs instead of his 500 "
    "(--scale paper runs 500). ‖δ‖ is measured on all 1,000 training images, as his.",
    "本実験の設定：データは実行時に使えた mnist-5k または MNIST（Nielsen は MNIST の先頭 "
    "1,000 枚、ここでは各クラス 100 枚）、10 シード、既定では 500 エポックではなく 30 エポック"
    "（--scale paper で 500）。‖δ‖ は Nielsen と同じく訓練画像 1,000 枚全体で測る。",
)


def _deltas(runs: Runs, sizes: list[int]) -> list[np.ndarray]:
    """Per seed: ‖δ‖ of each hidden layer at every record (records × hidden layers)."""
    out = []
    for run in runs.select(GROUP, hidden_sizes=sizes):
        d = run.diag("bias_grad_norm")
        if d.size:
            out.append(d[:, : len(sizes)])
    return out


def _growth(per_seed: list[np.ndarray]) -> list[float]:
    """Per seed: the geometric mean of ‖δ^{l+1}‖ / ‖δ^l‖ at initialization."""
    return [float(np.exp(np.mean(np.diff(np.log(d[0]))))) for d in per_seed]


def claims(runs: Runs) -> list[Claim]:
    three = _deltas(runs, [30, 30, 30])
    out = []
    for layer, paper in enumerate(PAPER_DELTAS):
        value, spread = mean_spread([d[0, layer] for d in three])
        out.append(
            Claim(
                (
                    f"‖δ‖ of hidden layer {layer + 1} at initialization, [784,30,30,30,10]",
                    f"初期状態の隠れ層 {layer + 1} の ‖δ‖（[784,30,30,30,10]）",
                ),
                f"{paper:g}",
                value,
                spread,
                Band(paper / FACTOR, paper * FACTOR),
                (
                    f"Mean over {len(three)} seeds, on the 1,000 training images; his value "
                    f"is one network's. Agreement means within a factor of {FACTOR:g}.",
                    f"{len(three)} シードの平均（訓練画像 1,000 枚）。Nielsen の値は 1 つの"
                    f"ネットワークのもの。{FACTOR:g} 倍以内なら一致とする。",
                ),
            )
        )
    growth = [
        g for sizes in ([30, 30], [30, 30, 30], [30] * 4) for g in _growth(_deltas(runs, sizes))
    ]
    value, spread = mean_spread(growth)
    out.append(
        Claim(
            (
                "‖δ‖ grows toward the output, about 5× per hidden layer",
                "‖δ‖ は出力に近い層ほど大きく、1 層あたり約 5 倍",
            ),
            "≈5 (0.060/0.012 = 5.0, 0.283/0.060 = 4.7)",
            value,
            spread,
            GROWTH,
            (
                "Geometric mean of the layer-to-layer ratio at initialization, over the three "
                "depths and every seed.",
                "初期状態での隣り合う層の比の幾何平均（3 つの深さ・全シード）。",
            ),
        )
    )
    out.append(_persists(three))
    return out


def _persists(three: list[np.ndarray]) -> Claim:
    """The last hidden layer keeps learning faster than the first during training."""
    ratios = [d[1:, -1] / d[1:, 0] for d in three if d.shape[0] > 1]
    value, spread = mean_spread([float(np.min(r)) for r in ratios])
    median = mean_spread([float(np.median(r)) for r in ratios])[0]
    return Claim(
        (
            "The gap persists during training: hidden layer 3 learns faster than layer 1 "
            "at every epoch ([784,30,30,30,10])",
            "学習中も差は続く：どのエポックでも隠れ層 3 は隠れ層 1 より速く学習する",
        ),
        ("> 1 throughout his 500 epochs", "500 エポックを通じて > 1"),
        value,
        spread,
        Band(1.0, math.inf),
        (
            "The smallest ratio ‖δ³‖/‖δ¹‖ over the epochs recorded after initialization, "
            f"per seed (its median over the epochs: {median:.3g}).",
            "初期化後に記録した各エポックでの比 ‖δ³‖/‖δ¹‖ の最小値（シードごと。エポックでの"
            f"中央値は {median:.3g}）。",
        ),
    )


def figures(runs: Runs, lang: str) -> dict[str, Figure]:
    title = tr(lang, "The speed of learning per hidden layer", "隠れ層ごとの学習の速さ")
    fig, (ax_init, ax_time) = paper_figure(2, CITATION, title, lang)
    depths = ([30, 30], [30, 30, 30], [30] * 4)
    for sizes, color in zip(depths, colors("tab10", 3), strict=True):
        per_seed = _deltas(runs, sizes)
        label = "[784," + ",".join(map(str, sizes)) + ",10]"
        band_curve(
            ax_init,
            np.arange(1, len(sizes) + 1),
            [d[0] for d in per_seed],
            label,
            color,
            marker="o",
        )
    ax_init.plot([1, 2, 3], PAPER_DELTAS, "k*", ms=10, label=tr(lang, "Nielsen", "Nielsen の値"))
    ax_init.set_xticks([1, 2, 3, 4])
    ax_init.set(
        yscale="log",
        xlabel=tr(lang, "hidden layer", "隠れ層"),
        ylabel=tr(lang, "‖δ‖ at initialization", "初期状態の ‖δ‖"),
    )
    three = _deltas(runs, [30, 30, 30])
    run = runs.first(GROUP, hidden_sizes=[30, 30, 30])
    epochs = np.arange(0)
    if run is not None and three:  # an epoch is train_size examples (all of them when 0)
        per_epoch = (run.config["train_size"] or math.inf) / run.config["batch_size"]
        epochs = run.diag("iterations").ravel() / per_epoch
    for layer, color in zip(range(3), colors("viridis", 3), strict=True):
        label = tr(lang, f"hidden layer {layer + 1}", f"隠れ層 {layer + 1}")
        band_curve(ax_time, epochs, [d[:, layer] for d in three], label, color)
    ax_time.set(
        yscale="log", xlabel=tr(lang, "epoch", "エポック"), ylabel="‖δ‖", title="[784,30,30,30,10]"
    )
    return {"nielsen-fig": finish(fig, lang)}
