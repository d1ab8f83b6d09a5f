"""Confirmation test 3: what goes wrong when every weight starts at zero.

Two copies of the same small sigmoid net are trained on the same mini-batches, one from all-zero
weights, one from the course's Xavier weights. With zero weights every hidden unit of a layer
computes the same output, receives the same gradient and so gets the same update: the units
stay identical forever (the symmetry is never broken) and a layer of 20 units works like one.
The lesson measures it: the largest difference between any two units of each hidden layer
(their incoming weights and bias), the number of distinct units, and the accuracies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from koubai.checks import check_seed
from koubai.lessons._base import (
    LessonResult,
    NumberTable,
    figure_language,
    fmt,
    mnist5k,
    output_dir,
    save_figure,
    small_matrices,
    t,
    tr,
)
from koubai.report.fonts import check_language, language_context
from koubai.training import RunResult, TrainConfig, train


@dataclass(kw_only=True)
class ZeroInitResult(LessonResult):
    """Lesson 3's numbers, per arm ("zeros" and the random "xavier").

    Attributes:
        config: the zero-init run's configuration (the random arm differs only in ``init``).
        dataset: the data trained on.
        unit_spread_zero: per hidden layer, the largest difference between two units' incoming
            weights and bias, ``max_i (max_j U[i, j] − min_j U[i, j])`` with ``U = [W; b]``.
        unit_spread_random: the same for the random initialization.
        weight_scale_zero / weight_scale_random: per hidden layer, ``max |W|`` (for scale).
        distinct_zero / distinct_random: per hidden layer, the number of distinct units.
        test_acc_zero / test_acc_random: final test accuracy.
        train_acc_zero / train_acc_random: final accuracy on the whole training set.
        iterations / curve_zero / curve_random: the test-accuracy curves.
        first_layer_zero / first_layer_random: the trained first-layer weights ``(D, H1)``.
    """

    number = 3
    config: TrainConfig
    dataset: str
    unit_spread_zero: tuple[float, ...]
    unit_spread_random: tuple[float, ...]
    weight_scale_zero: tuple[float, ...]
    weight_scale_random: tuple[float, ...]
    distinct_zero: tuple[int, ...]
    distinct_random: tuple[int, ...]
    test_acc_zero: float
    test_acc_random: float
    train_acc_zero: float
    train_acc_random: float
    iterations: np.ndarray
    curve_zero: np.ndarray
    curve_random: np.ndarray
    first_layer_zero: np.ndarray
    first_layer_random: np.ndarray

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.config.hidden_sizes)

    def title(self) -> str:
        return t("lesson.zero_init.zero_initialization_the_hidden", self.lang)

    def tables(self) -> list[NumberTable]:
        lang, c = self.lang, self.config
        zero, rand = (
            t("lesson.zero_init.all_zeros_2", lang),
            t("lesson.zero_init.random_xavier_2", lang),
        )
        units = NumberTable(
            tr(lang, f"Hidden units after {c.iterations} iterations "
               f"(net {c.hidden_sizes}, sigmoid, lr {c.lr:g}, {self.dataset})",
               f"{c.iterations} イテレーション学習後の隠れユニット"
               f"（ネット {c.hidden_sizes}、シグモイド、学習率 {c.lr:g}、{self.dataset}）"),
            [t("lesson.zero_init.layer", lang), t("lesson.zero_init.init", lang),
             t("lesson.zero_init.max_difference_between_units", lang),
             "max |W|", t("lesson.zero_init.distinct_units", lang)],
            [
                row
                for k, h in enumerate(self.hidden_sizes)
                for row in (
                    [str(k + 1), zero, fmt(self.unit_spread_zero[k]),
                     fmt(self.weight_scale_zero[k]), f"{self.distinct_zero[k]} / {h}"],
                    [str(k + 1), rand, fmt(self.unit_spread_random[k]),
                     fmt(self.weight_scale_random[k]), f"{self.distinct_random[k]} / {h}"],
                )
            ],
        )  # fmt: skip
        acc = NumberTable(
            t("lesson.zero_init.accuracy", lang),
            [t("lesson.zero_init.init_2", lang), t("lesson.zero_init.training_set", lang),
             t("lesson.zero_init.test_set", lang)],
            [[zero, f"{self.train_acc_zero:.3f}", f"{self.test_acc_zero:.3f}"],
             [rand, f"{self.train_acc_random:.3f}", f"{self.test_acc_random:.3f}"]],
        )  # fmt: skip
        return [units, acc]

    def explanation(self) -> str:
        c = self.config
        spread = max(self.unit_spread_zero)
        widths = " → ".join(str(d) for d in self.distinct_zero)
        sizes = " → ".join(str(h) for h in self.hidden_sizes)
        moved = ", ".join(fmt(w) for w in self.weight_scale_zero)
        if self.lang == "ja":
            return (
                "重みをすべて 0 にすると、同じ層の隠れユニットはどれも同じ入力から同じ値を出力し、"
                "逆伝播でも同じ勾配を受け取るので、更新量もまったく同じになります。"
                f"実際 {c.iterations} イテレーション学習した後も、各隠れ層のユニット間の最大差は "
                f"{fmt(spread)} で、異なるユニットは {sizes} 個中 {widths} 個だけでした"
                f"（重み自体は動いています：max |W| = {moved}）。"
                "対称性が崩れないため、何個ユニットを並べても 1 個分の働きしかせず、"
                "ネットワークはうまく学習できません（テスト正解率 "
                f"{self.test_acc_zero:.3f}、乱数で初期化した同じネットは "
                f"{self.test_acc_random:.3f}）。だから重みは乱数で初期化します。"
            )
        return (
            "With all weights at zero, every hidden unit of a layer computes the same output "
            "from the same inputs, receives the same gradient in the backward pass and so gets "
            f"exactly the same update. After {c.iterations} iterations the largest difference "
            f"between two units of any hidden layer is {fmt(spread)}: of {sizes} units, only "
            f"{widths} are distinct, although the weights did move (max |W| = {moved}). "
            "The symmetry is never broken, so however many units a layer "
            "has, it works like a single one and the network cannot learn properly (test "
            f"accuracy {self.test_acc_zero:.3f}, against {self.test_acc_random:.3f} for the same "
            "net started from random weights). That is why weights start random."
        )


def unit_spread(W: np.ndarray, b: np.ndarray) -> float:
    """Largest difference between any two units (columns of ``[W; b]``) of a layer."""
    units = np.vstack([W, b[None, :]]).astype(np.float64)
    return float(np.max(np.ptp(units, axis=1)))


def distinct_units(W: np.ndarray, b: np.ndarray, rtol: float = 1e-6) -> int:
    """How many units of a layer differ from each other by more than ``rtol · max|W|``."""
    units = np.vstack([W, b[None, :]]).astype(np.float64)
    tol = rtol * max(float(np.max(np.abs(units))), 1e-30)
    kept: list[np.ndarray] = []
    for j in range(units.shape[1]):
        if all(np.max(np.abs(units[:, j] - k)) > tol for k in kept):
            kept.append(units[:, j])
    return len(kept)


def _hidden_stats(run: RunResult) -> tuple[list[float], list[float], list[int]]:
    net = run.net
    spreads, scales, distinct = [], [], []
    for i in net.affine_indices[:-1]:  # the hidden layers; the last affine is the output
        W, b = net.layers[i].params["W"], net.layers[i].params["b"]
        spreads.append(unit_spread(W, b))
        scales.append(float(np.max(np.abs(W))))
        distinct.append(distinct_units(W, b))
    return spreads, scales, distinct


def zero_init(
    *,
    lang: str = "en",
    out: str | Path | None = None,
    seed: int = 0,
    hidden_sizes: tuple[int, ...] = (20, 10),
    iterations: int = 600,
    lr: float = 0.5,
    data=None,
) -> ZeroInitResult:
    """Run confirmation test 3: train from all-zero and from random weights, compare the units.

    Args:
        lang: ``"en"`` or ``"ja"``. Default: "en".
        out: folder for the figure (``lesson3_zero_init.png`` and ``.svg``); None draws none.
        seed: seed of the random weights and of the mini-batches (the same for both). Default: 0.
        hidden_sizes: the hidden layers. Default: (20, 10).
        iterations: SGD updates, mini-batches of 100. Default: 600.
        lr: learning rate; 0.5 lets the random net learn in few iterations. Default: 0.5.
        data: train/test arrays. Default: the offline MNIST subset ``mnist-5k``.
    """
    check_language(lang)
    check_seed(seed)
    folder = output_dir(out)
    data = mnist5k() if data is None else data
    zero_cfg = TrainConfig(
        hidden_sizes=tuple(hidden_sizes),
        activation="sigmoid",
        init="zeros",
        lr=lr,
        iterations=iterations,
        eval_every=max(1, iterations // 30),
        seed=seed,
    )
    with small_matrices():
        zero_run = train(zero_cfg, data).raise_if_interrupted()
        rand_run = train(zero_cfg.replace(init="xavier"), data).raise_if_interrupted()
    z_spread, z_scale, z_distinct = _hidden_stats(zero_run)
    r_spread, r_scale, r_distinct = _hidden_stats(rand_run)
    x_tr, y_tr = data.x_train, data.y_train
    first = zero_run.net.affine_indices[0]
    result = ZeroInitResult(
        lang=lang,
        config=zero_cfg,
        dataset=getattr(data, "name", "") or "data",
        unit_spread_zero=tuple(z_spread),
        unit_spread_random=tuple(r_spread),
        weight_scale_zero=tuple(z_scale),
        weight_scale_random=tuple(r_scale),
        distinct_zero=tuple(z_distinct),
        distinct_random=tuple(r_distinct),
        test_acc_zero=zero_run.net.accuracy(data.x_test, data.y_test),
        test_acc_random=rand_run.net.accuracy(data.x_test, data.y_test),
        train_acc_zero=zero_run.net.accuracy(x_tr, y_tr),
        train_acc_random=rand_run.net.accuracy(x_tr, y_tr),
        iterations=zero_run.column("iteration"),
        curve_zero=zero_run.column("test_acc"),
        curve_random=rand_run.column("test_acc"),
        first_layer_zero=zero_run.net.layers[first].params["W"].copy(),
        first_layer_random=rand_run.net.layers[first].params["W"].copy(),
    )
    if folder is not None:
        result.figures = _figure(result, folder)
    return result


def _figure(r: ZeroInitResult, folder: Path) -> list[Path]:
    from matplotlib.figure import Figure

    lang = figure_language(r.lang)
    n_show = min(6, r.first_layer_zero.shape[1])
    side = int(round(np.sqrt(r.first_layer_zero.shape[0])))
    images = side * side == r.first_layer_zero.shape[0]
    zero, rand = t("lesson.zero_init.all_zeros", lang), t("lesson.zero_init.random_xavier", lang)
    with language_context(lang):
        fig = Figure(figsize=(11, 4.2))
        cols = n_show + 3 if images else 1
        grid = fig.add_gridspec(2, cols, width_ratios=[3, 3, 3 * 0.15] + [1] * (cols - 3))
        ax = fig.add_subplot(grid[:, :2] if images else grid[:, 0])
        ax.plot(r.iterations, r.curve_random, color="tab:blue", lw=2, label=rand)
        ax.plot(r.iterations, r.curve_zero, color="tab:red", lw=2, label=zero)
        chance = t("lesson.zero_init.chance_10_classes", lang)
        ax.axhline(0.1, color="0.6", ls=":", lw=1, label=chance)
        ax.set_ylim(0, 1)
        ax.set_xlabel(t("lesson.zero_init.iteration", lang))
        ax.set_ylabel(t("lesson.zero_init.test_accuracy", lang))
        ax.set_title(t("lesson.zero_init.test_accuracy_2", lang))
        ax.legend(loc="center right", fontsize=9)
        ax.grid(alpha=0.3)
        if images:
            for row, (W, name) in enumerate(
                [(r.first_layer_zero, zero), (r.first_layer_random, rand)]
            ):
                lim = max(float(np.max(np.abs(W[:, :n_show]))), 1e-30)
                for j in range(n_show):
                    im_ax = fig.add_subplot(grid[row, 3 + j])
                    im_ax.imshow(W[:, j].reshape(side, side), cmap="RdBu_r", vmin=-lim, vmax=lim)
                    im_ax.set_xticks([])
                    im_ax.set_yticks([])
                    if j == 0:
                        im_ax.set_ylabel(name, fontsize=9)
                    if row == 0:
                        im_ax.set_title(tr(lang, f"unit {j + 1}", f"ユニット {j + 1}"), fontsize=9)
            fig.text(0.73, 0.97, t("lesson.zero_init.incoming_weights_of_firstlayer", lang),
                     ha="center", va="top", fontsize=10)  # fmt: skip
        return save_figure(fig, folder, "lesson3_zero_init", lang)
