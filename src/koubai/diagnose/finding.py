"""What a rule found: :class:`Finding`, its one-line messages in English and Japanese, and
the names of the fixes it suggests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from koubai.checks import check_language

#: The kinds of finding, exactly these names.
KINDS: tuple[str, ...] = (
    "vanishing_gradient",
    "exploding_gradient",
    "dead_units",
    "saturation",
    "non_finite",
    "update_ratio_low",
    "update_ratio_high",
)

Severity = Literal["problem", "warning"]

#: What each kind is called, in each language.
KIND_NAMES: dict[str, tuple[str, str]] = {
    "vanishing_gradient": ("vanishing gradient", "勾配消失"),
    "exploding_gradient": ("exploding gradient", "勾配爆発"),
    "dead_units": ("dead units", "死んだユニット"),
    "saturation": ("saturation", "飽和"),
    "non_finite": ("non-finite values", "非有限値（NaN/inf）"),
    "update_ratio_low": ("updates too small", "更新が小さすぎる"),
    "update_ratio_high": ("updates too large", "更新が大きすぎる"),
}

#: The fixes a finding may suggest: short name -> (English, Japanese).
FIXES: dict[str, tuple[str, str]] = {
    "relu": ("ReLU", "ReLU"),
    "leaky_relu": ("leaky ReLU", "Leaky ReLU"),
    "he_init": ("He initialization", "He の初期化"),
    "xavier_init": ("Xavier initialization", "Xavier の初期化"),
    "smaller_init": ("smaller initial weights", "初期値の重みを小さく"),
    "batchnorm": ("batch normalization", "バッチ正規化"),
    "residual": ("residual connections", "残差接続"),
    "gradient_clipping": ("gradient clipping", "勾配クリッピング"),
    "lower_lr": ("a lower learning rate", "学習率を下げる"),
    "higher_lr": ("a higher learning rate", "学習率を上げる"),
    "adam": ("Adam", "Adam"),
    "bias_init": ("zero or small positive biases", "バイアスを 0 か小さな正の値に"),
    "stable_loss": (
        "a stable loss (log_softmax / cross_entropy, no log of 0)",
        "安定な損失（log_softmax / cross_entropy、log(0) を避ける）",
    ),
    "check_data": ("checking the data for NaN/inf", "データの NaN/inf を確認"),
    "warmup": ("learning-rate warm-up", "学習率のウォームアップ"),
}


def _number(x: float) -> str:
    """A short, readable number: ``0.00083`` → ``"1/1,200"`` style is used by the caller for
    ratios below 1; here plain ``:.3g`` with thousands separators for large values."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _fraction(x: float) -> str:
    """``0.00083`` → ``"1/1,200"``: a small ratio as one over a round number."""
    if not x > 0:
        return _number(x)
    inv = 1.0 / x
    if inv >= 1e7:
        return f"1/{inv:.1e}"
    digits = max(0, len(str(int(inv))) - 2)
    rounded = round(inv, -digits) if digits else round(inv)
    return f"1/{int(rounded):,}"


@dataclass(frozen=True)
class Finding:
    """One verdict: a problem (or warning) of one kind, first seen at one layer and iteration.

    Args:
        kind: one of :data:`KINDS`.
        layer: the first affected layer (nearest the input), as the records name it.
        iteration: the first iteration (optimizer step) at which the rule held.
        value: the measured value there (a ratio, a share or a norm; see the rule).
        threshold: the threshold the value crossed.
        severity: ``"problem"`` (it persisted) or ``"warning"`` (it came and went).
        message_en: one line in English; message_ja: the same in Japanese.
        fixes: short names of the suggested fixes (keys of :data:`FIXES`).
    """

    kind: str
    layer: str
    iteration: int
    value: float
    threshold: float
    severity: Severity
    message_en: str
    message_ja: str
    fixes: tuple[str, ...]

    def message(self, lang: str = "en") -> str:
        """The one-line message in ``lang`` (``"en"`` or ``"ja"``)."""
        return self.message_ja if check_language(lang) == "ja" else self.message_en

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (``fixes`` as a list)."""
        out = asdict(self)
        out["fixes"] = list(self.fixes)
        return out


def _detail(kind: str, layer: str, value: float, threshold: float, extra: str) -> tuple[str, str]:
    """The middle of the message: what was measured, against which threshold."""
    name = f"`{layer}`"
    if kind == "vanishing_gradient":
        return (
            f"{name} receives {_fraction(value)} of the output layer's gradient "
            f"(threshold {_fraction(threshold)})",
            f"{name} の勾配は出力層の {_fraction(value)}（しきい値 {_fraction(threshold)}）",
        )
    if kind == "exploding_gradient" and extra == "norm":
        return (
            f"{name}'s gradient norm is {_number(value)} (threshold {_number(threshold)})",
            f"{name} の勾配のノルムが {_number(value)}（しきい値 {_number(threshold)}）",
        )
    if kind == "exploding_gradient":
        return (
            f"{name} receives {_number(value)}× the output layer's gradient "
            f"(threshold {_number(threshold)}×)",
            f"{name} の勾配は出力層の {_number(value)} 倍（しきい値 {_number(threshold)} 倍）",
        )
    if kind == "dead_units":
        return (
            f"{value:.0%} of {name}'s units output 0 on the whole batch "
            f"(threshold {threshold:.0%})",
            f"{name} のユニットの {value:.0%} がバッチ全体で 0 を出力（しきい値 {threshold:.0%}）",
        )
    if kind == "saturation":
        return (
            f"{value:.0%} of {name}'s outputs sit on the flat ends of the curve "
            f"(threshold {threshold:.0%})",
            f"{name} の出力の {value:.0%} が曲線の平らな端にある（しきい値 {threshold:.0%}）",
        )
    if kind == "non_finite":
        return (
            f"{name}: {extra or 'a gradient norm is NaN or inf'}",
            f"{name}：{extra or '勾配のノルムが NaN か inf'}",
        )
    if kind == "update_ratio_low":
        return (
            f"{name}'s step changes its weights by {value:.1e} of their size "
            f"(threshold {threshold:.0e}; about 1e-3 is healthy)",
            f"{name} の 1 回の更新は重みの {value:.1e} 倍（しきい値 {threshold:.0e}、目安は 1e-3）",
        )
    return (
        f"{name}'s step changes its weights by {value:.2g} of their size "
        f"(threshold {threshold:.2g}; about 1e-3 is healthy)",
        f"{name} の 1 回の更新は重みの {value:.2g} 倍（しきい値 {threshold:.2g}、目安は 1e-3）",
    )


def make_finding(
    kind: str,
    layer: str,
    iteration: int,
    value: float,
    threshold: float,
    severity: Severity,
    fixes: tuple[str, ...],
    extra: str = "",
) -> Finding:
    """Build a :class:`Finding` with its two messages, e.g. "iteration 0: vanishing gradient —
    `fc1` receives 1/1,200 of the output layer's gradient (threshold 1/100). Try: ReLU, He
    initialization, batch normalization." """
    en_kind, ja_kind = KIND_NAMES[kind]
    en, ja = _detail(kind, layer, value, threshold, extra)
    en_fix = ", ".join(FIXES[f][0] for f in fixes)
    ja_fix = "、".join(FIXES[f][1] for f in fixes)
    tag_en = "" if severity == "problem" else " (warning: it did not persist)"
    tag_ja = "" if severity == "problem" else "（警告：持続せず）"
    return Finding(
        kind=kind,
        layer=layer,
        iteration=int(iteration),
        value=float(value),
        threshold=float(threshold),
        severity=severity,
        message_en=f"iteration {iteration:,}: {en_kind}{tag_en} — {en}. Try: {en_fix}.",
        message_ja=f"イテレーション {iteration:,}：{ja_kind}{tag_ja} — {ja}。対策：{ja_fix}。",
        fixes=tuple(fixes),
    )
