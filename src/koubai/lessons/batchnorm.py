"""Confirmation test 4: batch normalization's two expected effects, measured.

The note names two effects: (a) the middle layers' inputs and updates become stable (a-1)
and learning gets faster (a-2); (b) overfitting is suppressed. This lesson trains the course's
net (784 → [40, 20] → 10, sigmoid, Xavier, SGD with learning rate 0.01, mini-batches of
100) with and without batch norm on the same data, seeds and mini-batches, and measures:

* **stability** — at checkpoints during training, the pre-activations (the inputs to each hidden
  layer's sigmoid) of a fixed set of training images, in inference mode. Per unit, how far
  their mean moves between checkpoints (its standard deviation over the checkpoints), in units
  of their typical spread; the average over the layer's units is the layer's *drift*.
  Checkpoints start once the running averages of batch norm have settled.
* **speed** — iterations until the test accuracy first reaches a target (0.6).
* **overfitting** — the final gap between training and test accuracy.

Each verdict is computed from the numbers; where the data do not show an effect, it says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from koubai.checks import check_seed
from koubai.engine.mlp import ACTIVATIONS
from koubai.errors import ConfigError
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
from koubai.training import TrainConfig, train

#: A gap (or a difference of gaps) smaller than this is not called an effect: about twice the
#: standard error of an accuracy near 0.8 measured on 1,000 test images.
GAP_MARGIN = 0.03


class PreActivationProbe:
    """Records, at checkpoints, the inputs to every hidden activation for a fixed batch.

    Used as the ``probe`` of :func:`koubai.training.train`: ``record`` runs the network in
    inference mode (it changes nothing) on ``x`` and keeps, per hidden layer, each unit's mean and
    standard deviation over the batch.

    Args:
        x: the fixed batch ``(N, D)``.
        start: first iteration to record (earlier calls are ignored).
    """

    def __init__(self, x: np.ndarray, start: int = 0) -> None:
        self.x, self.start = x, start
        self.iterations: list[int] = []
        self.means: list[list[np.ndarray]] = []
        self.stds: list[list[np.ndarray]] = []

    def record(self, iteration: int, net, *_: object) -> None:
        """Record checkpoint ``iteration`` (the training loop's own batch data are not used)."""
        if iteration < self.start:
            return
        trace: list[np.ndarray] = []
        net.predict(self.x, train=False, trace=trace)
        activations = tuple(ACTIVATIONS.values())
        pre = [
            trace[i - 1].astype(np.float64)
            for i, layer in enumerate(net.layers)
            if isinstance(layer, activations)
        ]
        self.iterations.append(iteration)
        self.means.append([p.mean(axis=0) for p in pre])
        self.stds.append([p.std(axis=0) for p in pre])

    def record_update(self, iteration: int, net, before) -> None:
        """Part of the probe protocol; updates are not needed here."""

    def drift(self) -> tuple[np.ndarray, np.ndarray]:
        """Per hidden layer: (mean drift, spread drift), each averaged over the layer's units.

        Mean drift of a unit: the standard deviation over checkpoints of its mean
        pre-activation, divided by its average standard deviation; spread drift: the same for
        its standard deviation.
        """
        mean_drift, spread_drift = [], []
        for k in range(len(self.means[0])):
            m = np.array([c[k] for c in self.means])  # (checkpoints, units)
            s = np.array([c[k] for c in self.stds])
            scale = np.maximum(s.mean(axis=0), 1e-12)
            mean_drift.append(float(np.mean(m.std(axis=0) / scale)))
            spread_drift.append(float(np.mean(s.std(axis=0) / scale)))
        return np.array(mean_drift), np.array(spread_drift)

    def shift(self) -> np.ndarray:
        """``(checkpoints, hidden layers)``: how far the units' mean pre-activations have moved
        since the first checkpoint, in units of their spread (averaged over the units)."""
        out = []
        for k in range(len(self.means[0])):
            m = np.array([c[k] for c in self.means])
            scale = np.maximum(np.array([c[k] for c in self.stds]).mean(axis=0), 1e-12)
            out.append(np.mean(np.abs(m - m[0]) / scale, axis=1))
        return np.array(out).T


@dataclass(kw_only=True)
class Arm:
    """One arm of the comparison (with or without batch norm), over several seeds.

    Attributes:
        batchnorm: whether this arm uses batch norm.
        seeds: the seeds run.
        mean_drift: ``(seeds, hidden layers)``, see :meth:`PreActivationProbe.drift`.
        spread_drift: the same for the spread.
        reached: iterations until the test accuracy first reached the target, per seed
            (None: not within the run).
        train_acc: final accuracy on the whole training set, per seed.
        test_acc: final test accuracy, per seed.
        curves: test accuracy at the evaluation points ``(seeds, points)``.
        checkpoints: iterations of the probe's checkpoints.
        shift: ``(checkpoints, hidden layers)``: distance of the mean pre-activations from
            their value at the first checkpoint, in units of their spread; seed average.
    """

    batchnorm: bool
    seeds: tuple[int, ...]
    mean_drift: np.ndarray
    spread_drift: np.ndarray
    reached: tuple[int | None, ...]
    train_acc: tuple[float, ...]
    test_acc: tuple[float, ...]
    curves: np.ndarray
    checkpoints: np.ndarray
    shift: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """Training minus test accuracy, per seed."""
        return np.array(self.train_acc) - np.array(self.test_acc)

    @property
    def layer_drift(self) -> np.ndarray:
        """Mean drift per hidden layer, averaged over the seeds."""
        return self.mean_drift.mean(axis=0)

    @property
    def mean_reached(self) -> float | None:
        """Mean iterations to the target over the seeds that reached it (None: none did)."""
        hit = [r for r in self.reached if r is not None]
        return float(np.mean(hit)) if hit else None


@dataclass(kw_only=True)
class BatchNormResult(LessonResult):
    """Lesson 4's numbers: the two arms and the verdicts drawn from them.

    Attributes:
        config: the configuration of the arm without batch norm (the other sets
            ``batchnorm=True``); ``seed`` is the first seed.
        dataset: the data trained on.
        target: the test accuracy that defines "reached".
        probe_size: number of training images whose pre-activations are followed.
        eval_iterations: the iterations of the accuracy curves.
        plain: the arm without batch norm.
        bn: the arm with batch norm.
    """

    number = 4
    config: TrainConfig
    dataset: str
    target: float
    probe_size: int
    eval_iterations: np.ndarray
    plain: Arm
    bn: Arm
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    # -- verdicts --------------------------------------------------------------------------
    @property
    def steadier(self) -> bool:
        """Batch norm's pre-activations drifted less in every hidden layer (seed average)."""
        return bool(np.all(self.bn.layer_drift < self.plain.layer_drift))

    @property
    def faster(self) -> bool | None:
        """Batch norm reached the target sooner (None: neither arm reached it)."""
        p, b = self.plain.mean_reached, self.bn.mean_reached
        if p is None and b is None:
            return None
        if b is None:
            return False
        # Seeds of the plain arm that never reached the target count as "after the run".
        p_all = [r if r is not None else self.config.iterations + 1 for r in self.plain.reached]
        return b < float(np.mean(p_all))

    @property
    def gap_difference(self) -> float:
        """Mean gap without batch norm minus mean gap with it (> 0: batch norm's is smaller)."""
        return float(self.plain.gap.mean() - self.bn.gap.mean())

    @property
    def less_overfitting(self) -> bool:
        """The net without batch norm overfits (gap > :data:`GAP_MARGIN`) and batch norm's gap
        is smaller by more than :data:`GAP_MARGIN` and twice the seeds' standard error."""
        if self.plain.gap.mean() <= GAP_MARGIN:
            return False  # nothing to reduce
        d = self.gap_difference
        n = len(self.plain.seeds)
        if n > 1:
            se = np.sqrt(self.plain.gap.var(ddof=1) / n + self.bn.gap.var(ddof=1) / n)
            return bool(d > max(GAP_MARGIN, 2 * se))
        return d > GAP_MARGIN

    # -- text ------------------------------------------------------------------------------
    def title(self) -> str:
        return t("lesson.batchnorm.batch_normalization_stability_speed", self.lang)

    def _reach_text(self, arm: Arm) -> str:
        never = tr(self.lang, f"> {self.config.iterations}", f"{self.config.iterations} 超")
        return ", ".join(never if r is None else str(r) for r in arm.reached)

    def tables(self) -> list[NumberTable]:
        lang, c = self.lang, self.config
        no, yes = t("lesson.batchnorm.without_bn_2", lang), t("lesson.batchnorm.with_bn_2", lang)
        setup = tr(
            lang,
            f"{self.dataset}, net {list(c.hidden_sizes)}, {c.activation} + {c.init}, SGD lr "
            f"{c.lr:g}, batch {c.batch_size}, {c.iterations} iterations, "
            f"seeds {list(self.bn.seeds)}",
            f"{self.dataset}、ネット {list(c.hidden_sizes)}、{c.activation} + {c.init}、SGD 学習率 "
            f"{c.lr:g}、バッチ {c.batch_size}、{c.iterations} イテレーション、シード "
            f"{list(self.bn.seeds)}",
        )
        stab_rows = []
        for k in range(self.plain.mean_drift.shape[1]):
            p, b = self.plain.layer_drift[k], self.bn.layer_drift[k]
            stab_rows.append([
                str(k + 1), fmt(p, 3), fmt(b, 3), f"{p / b:.1f}×" if b > 0 else "–",
                fmt(float(self.plain.spread_drift[:, k].mean()), 3),
                fmt(float(self.bn.spread_drift[:, k].mean()), 3),
            ])  # fmt: skip
        stability = NumberTable(
            tr(lang, f"(a-1) Stability: drift of each hidden layer's sigmoid inputs ({setup})",
               f"(a-1) 安定性：各隠れ層のシグモイドへの入力の変動（{setup}）"),
            [t("lesson.batchnorm.layer", lang), t("lesson.batchnorm.mean_drift_no_bn", lang),
             t("lesson.batchnorm.with_bn_3", lang), t("lesson.batchnorm.ratio", lang),
             t("lesson.batchnorm.spread_drift_no_bn", lang),
             t("lesson.batchnorm.with_bn_4", lang)],
            stab_rows,
        )  # fmt: skip
        arms = []
        for name, arm in ((no, self.plain), (yes, self.bn)):
            arms.append([
                name, self._reach_text(arm),
                f"{np.mean(arm.train_acc):.3f}", f"{np.mean(arm.test_acc):.3f}",
                f"{arm.gap.mean():+.3f}",
            ])  # fmt: skip
        speed = NumberTable(
            t("lesson.batchnorm.a2_speed_and_b", lang),
            ["", tr(lang, f"iterations to test acc {self.target:g}",
                    f"テスト正解率 {self.target:g} までのイテレーション"),
             t("lesson.batchnorm.train_acc", lang), t("lesson.batchnorm.test_acc", lang),
             t("lesson.batchnorm.gap_train_test", lang)],
            arms,
        )  # fmt: skip
        return [stability, speed]

    def explanation(self) -> str:
        c = self.config
        pd, bd = self.plain.layer_drift, self.bn.layer_drift
        layers = ", ".join(f"{p:.3f} → {b:.3f}" for p, b in zip(pd, bd, strict=True))
        parts = []
        if self.steadier:
            parts.append(tr(self.lang,
                f"(a-1) Stability — shown: with batch norm the inputs to every hidden sigmoid "
                f"drift less during training (mean drift per layer without → with BN: {layers}).",
                f"(a-1) 安定性：効果あり。BN を入れると学習中の各隠れ層のシグモイドへの入力の変動が"
                f"小さくなりました（層ごとの平均の変動 BN なし → あり：{layers}）。"))  # fmt: skip
        else:
            parts.append(tr(self.lang,
                f"(a-1) Stability — not shown in every layer here (mean drift per layer without → "
                f"with BN: {layers}).",
                f"(a-1) 安定性：すべての層では効果が見られませんでした（層ごとの平均の変動 "
                f"BN なし → あり：{layers}）。"))  # fmt: skip
        pr, br = self.plain.mean_reached, self.bn.mean_reached
        tgt, its = self.target, c.iterations
        if self.faster is None:
            parts.append(tr(self.lang,
                f"(a-2) Speed — neither arm reached test accuracy {tgt:g} within {its} iterations.",
                f"(a-2) 学習速度：どちらも {its} イテレーション以内にテスト正解率 {tgt:g} "
                "に届きませんでした。"))  # fmt: skip
        elif self.faster and pr is None:
            parts.append(tr(self.lang,
                f"(a-2) Speed — shown: with BN the test accuracy reached {tgt:g} after {br:.0f} "
                f"iterations on average; without BN it did not within {its}.",
                f"(a-2) 学習速度：効果あり。BN ありは平均 {br:.0f} イテレーションでテスト正解率 "
                f"{tgt:g} に達しましたが、BN なしは {its} イテレーション以内に"
                "届きませんでした。"))  # fmt: skip
        elif self.faster:
            parts.append(tr(self.lang,
                f"(a-2) Speed — shown: test accuracy {tgt:g} after {br:.0f} iterations with BN, "
                f"{pr:.0f} without (means over the seeds that reached it).",
                f"(a-2) 学習速度：効果あり。テスト正解率 {tgt:g} まで BN ありは {br:.0f}、"
                f"BN なしは {pr:.0f} イテレーションでした。"))  # fmt: skip
        else:
            parts.append(tr(self.lang,
                f"(a-2) Speed — not shown here: BN did not reach test accuracy {tgt:g} sooner.",
                f"(a-2) 学習速度：ここでは効果が見られませんでした（BN ありの方が早くテスト正解率 "
                f"{tgt:g} に達したわけではありません）。"))  # fmt: skip
        gp, gb = self.plain.gap.mean(), self.bn.gap.mean()
        if self.less_overfitting:
            parts.append(tr(self.lang,
                f"(b) Overfitting — shown: the gap between training and test accuracy is "
                f"{gb:+.3f} with BN against {gp:+.3f} without.",
                f"(b) 過学習：効果あり。訓練とテストの正解率の差は BN ありで {gb:+.3f}、"
                f"BN なしで {gp:+.3f} でした。"))  # fmt: skip
        else:
            why_en, why_ja = "", ""
            train_p = float(np.mean(self.plain.train_acc))
            if max(abs(gp), abs(gb)) < 0.05:
                why_en = " Neither net overfits in this short run: training and test accuracy agree"
                why_ja = (
                    "この短い学習ではどちらのネットも過学習しておらず、"
                    "訓練とテストの正解率がほぼ同じ"
                )
                if train_p < 0.9:
                    why_en += f", and the net without BN still underfits (train acc {train_p:.3f})"
                    why_ja += f"で、BN なしのネットはまだ学習不足です（訓練正解率 {train_p:.3f}）"
                why_en += "; a reduction of overfitting cannot show until there is overfitting."
                why_ja += "。過学習が起きていなければ、それが抑えられる効果も見えません。"
            parts.append(tr(self.lang,
                f"(b) Overfitting — no clear reduction of overfitting here: gap {gb:+.3f} with BN "
                f"vs {gp:+.3f} without.{why_en}",
                f"(b) 過学習：ここでは過学習の抑制ははっきりしません（差は BN ありで {gb:+.3f}、"
                f"BN なしで {gp:+.3f}）。{why_ja}"))  # fmt: skip
        method = tr(self.lang,
            f"Drift = per unit, the standard deviation over checkpoints (every "
            f"{self._every()} iterations from {self._start()}) of the mean pre-activation of "
            f"{self.probe_size} fixed training images, in units of its spread; inference mode.",
            f"変動 = ユニットごとに、固定した訓練画像 {self.probe_size} 枚に対する"
            f"活性化関数への入力の平均が、チェックポイント（{self._start()} イテレーション目から "
            f"{self._every()} ごと）の間でどれだけ動いたか（標準偏差）を、"
            "入力の広がりを単位として測ったもの（推論モード）。")  # fmt: skip
        parts.append(method)
        return "\n".join(parts)

    def _start(self) -> int:
        return int(self.plain.checkpoints[0]) if len(self.plain.checkpoints) else 0

    def _every(self) -> int:
        cp = self.plain.checkpoints
        return int(cp[1] - cp[0]) if len(cp) > 1 else 0


def _reached(iterations: np.ndarray, acc: np.ndarray, target: float) -> int | None:
    hit = np.flatnonzero(acc >= target)
    return int(iterations[hit[0]]) if hit.size else None


def _run_arm(
    config: TrainConfig, data, seeds, x_probe, start, target
) -> tuple[Arm, np.ndarray, float]:
    drifts, spreads, reached, train_acc, test_acc, curves = [], [], [], [], [], []
    shifts, checkpoints, its, seconds = [], None, None, 0.0
    for s in seeds:
        probe = PreActivationProbe(x_probe, start=start)
        run = train(config.replace(seed=s), data, probe=probe).raise_if_interrupted()
        seconds += run.seconds
        md, sd = probe.drift()
        drifts.append(md)
        spreads.append(sd)
        its, acc = run.column("iteration"), run.column("test_acc")
        curves.append(acc)
        reached.append(_reached(its, acc, target))
        train_acc.append(run.net.accuracy(data.x_train, data.y_train))
        test_acc.append(run.net.accuracy(data.x_test, data.y_test))
        shifts.append(probe.shift())
        checkpoints = np.array(probe.iterations)
    arm = Arm(
        batchnorm=config.batchnorm,
        seeds=tuple(seeds),
        mean_drift=np.array(drifts),
        spread_drift=np.array(spreads),
        reached=tuple(reached),
        train_acc=tuple(train_acc),
        test_acc=tuple(test_acc),
        curves=np.array(curves),
        checkpoints=checkpoints,
        shift=np.mean(shifts, axis=0),
    )
    return arm, its, seconds


def batchnorm_lesson(
    *,
    lang: str = "en",
    out: str | Path | None = None,
    seed: int = 0,
    n_seeds: int = 3,
    iterations: int = 600,
    lr: float = 0.01,
    target: float = 0.6,
    checkpoint_every: int = 25,
    checkpoint_start: int = 50,
    probe_size: int = 500,
    data=None,
) -> BatchNormResult:
    """Run confirmation test 4: the course's net with and without batch norm, measured.

    Both arms use the same data, the same seeds (so the same mini-batches) and the same
    hyper-parameters; only ``batchnorm`` differs.

    Args:
        lang: ``"en"`` or ``"ja"``. Default: "en".
        out: folder for the figure (``lesson4_batchnorm.png`` and ``.svg``); None draws none.
        seed: the first seed; the arms run seeds ``seed … seed + n_seeds − 1``. Default: 0.
        n_seeds: how many seeds per arm. Default: 3.
        iterations: SGD updates per run (mini-batches of 100). Default: 600.
        lr: learning rate (the course's batch-norm notebook uses 0.01). Default: 0.01.
        target: the test accuracy whose first crossing measures speed. Default: 0.6.
        checkpoint_every: iterations between the stability checkpoints. Default: 25.
        checkpoint_start: first checkpoint; batch norm's running averages (the course's start
            at 0 with momentum 0.9) have settled by iteration 50. Default: 50.
        probe_size: training images whose pre-activations are followed. Default: 500.
        data: train/test arrays. Default: the offline MNIST subset ``mnist-5k``.
    """
    check_language(lang)
    check_seed(seed)
    if n_seeds < 1:
        raise ConfigError(f"n_seeds must be at least 1, got {n_seeds}")
    if not 0 < target <= 1:
        raise ConfigError(f"target accuracy must lie in (0, 1], got {target!r}")
    if checkpoint_every < 1 or checkpoint_start + checkpoint_every > iterations:
        raise ConfigError(
            f"need two checkpoints or more: checkpoint_start ({checkpoint_start}) + "
            f"checkpoint_every ({checkpoint_every}) must not exceed iterations ({iterations})"
        )
    folder = output_dir(out)
    data = mnist5k() if data is None else data
    base = TrainConfig(
        hidden_sizes=(40, 20),
        activation="sigmoid",
        init="xavier",
        optimizer="sgd",
        lr=lr,
        batch_size=100,
        iterations=iterations,
        eval_every=10,
        seed=seed,
        diagnostics_every=checkpoint_every,
    )
    pick = np.random.default_rng([seed, 4]).choice(len(data.x_train), probe_size, replace=False)
    x_probe = np.asarray(data.x_train[np.sort(pick)])
    seeds = tuple(range(seed, seed + n_seeds))
    with small_matrices():
        plain, its, t1 = _run_arm(base, data, seeds, x_probe, checkpoint_start, target)
        bn_cfg = base.replace(batchnorm=True)
        bn, _, t2 = _run_arm(bn_cfg, data, seeds, x_probe, checkpoint_start, target)
    result = BatchNormResult(
        lang=lang,
        config=base,
        dataset=getattr(data, "name", "") or "data",
        target=target,
        probe_size=probe_size,
        eval_iterations=its,
        plain=plain,
        bn=bn,
        seconds=t1 + t2,
    )
    if folder is not None:
        result.figures = _figure(result, folder)
    return result


def _figure(r: BatchNormResult, folder: Path) -> list[Path]:
    from matplotlib.figure import Figure

    lang = figure_language(r.lang)
    no, yes = t("lesson.batchnorm.without_bn", lang), t("lesson.batchnorm.with_bn", lang)
    colors = {False: "tab:red", True: "tab:blue"}
    with language_context(lang):
        fig = Figure(figsize=(14, 4.3))
        (ax, bx, cx) = fig.subplots(
            1,
            3,
        )
        for name, arm in ((no, r.plain), (yes, r.bn)):
            c = colors[arm.batchnorm]
            for curve in arm.curves:
                ax.plot(r.eval_iterations, curve, color=c, lw=0.6, alpha=0.35)
            ax.plot(r.eval_iterations, arm.curves.mean(axis=0), color=c, lw=2, label=name)
        ax.axhline(r.target, color="0.5", ls="--", lw=1,
                   label=tr(lang, f"target {r.target:g}", f"目標 {r.target:g}"))  # fmt: skip
        ax.set_ylim(0, 1)
        ax.set_xlabel(t("lesson.batchnorm.iteration", lang))
        ax.set_ylabel(t("lesson.batchnorm.test_accuracy", lang))
        ax.set_title(tr(lang, f"Speed: test accuracy ({len(r.bn.seeds)} seeds, mean bold)",
                        f"学習速度：テスト正解率（{len(r.bn.seeds)} シード、太線は平均）"),
                     fontsize=10)  # fmt: skip
        ax.legend(loc="lower right", fontsize=9)
        ax.grid(alpha=0.3)

        styles = ["-", "--", ":", "-."]
        for name, arm in ((no, r.plain), (yes, r.bn)):
            for k in range(arm.shift.shape[1]):
                layer = tr(lang, f"layer {k + 1}", f"第 {k + 1} 層")
                label = f"{name}{t('lesson.batchnorm.list_separator', lang)}{layer}"
                bx.plot(arm.checkpoints, arm.shift[:, k], color=colors[arm.batchnorm], lw=2,
                        ls=styles[k % len(styles)], label=label)  # fmt: skip
        bx.set_xlabel(t("lesson.batchnorm.iteration_2", lang))
        bx.set_ylabel(t("lesson.batchnorm.shift_of_the_mean", lang))  # fmt: skip
        bx.set_title(tr(lang, f"Stability: sigmoid inputs' shift since iteration {r._start()}",
                        f"安定性：{r._start()} イテレーション目からのシグモイドへの入力の移動"),
                     fontsize=10)  # fmt: skip
        bx.legend(loc="upper left", fontsize=8)
        bx.grid(alpha=0.3)

        n_layers = r.plain.mean_drift.shape[1]
        xs = np.arange(n_layers)
        for off, (name, arm) in zip((-0.18, 0.18), ((no, r.plain), (yes, r.bn)), strict=True):
            d = arm.mean_drift
            mean = d.mean(axis=0)
            err = np.vstack([mean - d.min(axis=0), d.max(axis=0) - mean])
            cx.bar(xs + off, mean, width=0.36, color=colors[arm.batchnorm], label=name,
                   yerr=err, capsize=3)  # fmt: skip
        cx.set_xticks(xs, [tr(lang, f"layer {k + 1}", f"第 {k + 1} 層") for k in xs])
        cx.set_ylabel(t("lesson.batchnorm.mean_drift_in_units", lang))
        cx.set_title(t("lesson.batchnorm.stability_drift_of_the", lang), fontsize=10)  # fmt: skip
        cx.legend(fontsize=9)
        cx.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        return save_figure(fig, folder, "lesson4_batchnorm", lang)
