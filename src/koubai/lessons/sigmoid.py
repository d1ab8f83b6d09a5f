r"""Confirmation test 2: the sigmoid's derivative is largest at 0, where it is 0.25.

The derivative is taken from the engine's own :class:`~koubai.engine.Sigmoid` layer (its
``backward`` with an upstream gradient of ones gives :math:`\sigma'(x) = \sigma(x)(1-\sigma(x))`)
on a fine grid; the maximum is *found*, not assumed, and refined by golden-section search.
Then :math:`\max\sigma'^{\,n}` for ``n`` layers: the most a chain of ``n`` sigmoids can pass
back (before the weights scale it), the root of the vanishing gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from koubai.engine.layers import Sigmoid
from koubai.errors import ConfigError
from koubai.lessons._base import (
    LessonResult,
    NumberTable,
    figure_language,
    fmt,
    output_dir,
    save_figure,
    t,
    tr,
)
from koubai.report.fonts import check_language, language_context

DEPTHS = (1, 2, 5, 10, 20)


@dataclass(kw_only=True)
class SigmoidResult(LessonResult):
    """Lesson 2's numbers.

    Attributes:
        argmax: the x where σ' is largest (grid, then golden-section refinement).
        max_derivative: σ'(argmax), ≈ 0.25.
        grid_step: spacing of the grid searched, over ``[-grid_limit, grid_limit]``.
        grid_limit: half-width of that grid.
        depths: the numbers of layers n of the table.
        factors: ``max_derivative ** n`` for each n.
    """

    number = 2
    argmax: float
    max_derivative: float
    grid_step: float
    grid_limit: float
    depths: tuple[int, ...]
    factors: tuple[float, ...]

    def title(self) -> str:
        return t("lesson.sigmoid.the_sigmoids_derivative_its", self.lang)

    def tables(self) -> list[NumberTable]:
        lang = self.lang
        found = NumberTable(
            t("lesson.sigmoid.maximum_of_x_x1", lang),
            [t("lesson.sigmoid.quantity", lang), t("lesson.sigmoid.value", lang)],
            [
                [t("lesson.sigmoid.argmax_x", lang), f"{self.argmax:.2g}"],
                [t("lesson.sigmoid.max_x", lang), f"{self.max_derivative:.6g}"],
                [t("lesson.sigmoid.grid_searched", lang),
                 f"[-{self.grid_limit:g}, {self.grid_limit:g}], h = {self.grid_step:g}"],
            ],
        )  # fmt: skip
        chain = NumberTable(
            tr(lang, f"Upper bound on the gradient after n sigmoid layers: "
               f"{self.max_derivative:.4g}ⁿ",
               f"シグモイド層を n 層通過した後の勾配の上限：{self.max_derivative:.4g}ⁿ"),
            ["n", f"{self.max_derivative:.4g}ⁿ", f"1 / {self.max_derivative:.4g}ⁿ"],
            [[str(n), fmt(f), fmt(1 / f)]
             for n, f in zip(self.depths, self.factors, strict=True)],
        )  # fmt: skip
        return [found, chain]

    def factor(self, n: int) -> float:
        """``max_derivative ** n``."""
        return self.max_derivative**n

    def explanation(self) -> str:
        deep = dict(zip(self.depths, self.factors, strict=True))
        n_big = max(self.depths)
        if self.lang == "ja":
            text = (
                f"σ'(x) は x = {self.argmax:.2g} ≈ {_near_zero(self.argmax)} で"
                f"最大値 {self.max_derivative:.4g} をとります"
                "（σ(0) = 0.5 なので 0.5 × 0.5 = 0.25）。|x| が大きいと σ は飽和し、"
                "σ' はほぼ 0 になります。誤差逆伝播ではシグモイド層を通るたびに勾配に σ' "
                f"が掛かるので、最良の場合でも n 層で {self.max_derivative:.4g}ⁿ 倍に縮みます"
            )
            if 10 in deep:
                text += f"（10 層で {deep[10]:.3g}、{n_big} 層で {deep[n_big]:.3g}）"
            return text + (
                "。これが入力側の層ほど勾配が小さくなる勾配消失の原因で、"
                "重みの初期値（Xavier）、ReLU、バッチ正規化はこれを防ぐための工夫です。"
            )
        text = (
            f"σ'(x) is largest at x = {self.argmax:.2g} ≈ {_near_zero(self.argmax)}, "
            "where it equals "
            f"{self.max_derivative:.4g} (σ(0) = 0.5, so 0.5 × 0.5 = 0.25); for large |x| the "
            "sigmoid saturates and σ' is almost 0. Back-propagation multiplies the gradient by "
            "σ' at every sigmoid layer, so even in the best case n layers shrink it by "
            f"{self.max_derivative:.4g}ⁿ"
        )
        if 10 in deep:
            text += f" ({deep[10]:.3g} after 10 layers, {deep[n_big]:.3g} after {n_big})"
        return text + (
            ": the layers near the input barely learn. That is the vanishing gradient; "
            "Xavier initialization, ReLU and batch normalization are the remedies."
        )


def _near_zero(x: float) -> str:
    """``"0"`` for a value within float64's reach of zero on σ's flat top, else ``x``."""
    return "0" if abs(x) < 1e-6 else f"{x:.2g}"


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    """σ'(x) from the engine's Sigmoid layer: backward of an upstream gradient of ones."""
    layer = Sigmoid()
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    layer.forward(x, train=False)
    return layer.backward(np.ones_like(x)).reshape(-1)


def _golden_max(f, lo: float, hi: float, tol: float = 1e-10) -> float:
    """The maximizer of a unimodal ``f`` on ``[lo, hi]`` by golden-section search."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2.0


def sigmoid_lesson(
    *,
    lang: str = "en",
    out: str | Path | None = None,
    grid_limit: float = 10.0,
    grid_step: float = 1e-3,
    depths: tuple[int, ...] = DEPTHS,
) -> SigmoidResult:
    """Run confirmation test 2: find the maximum of σ' and tabulate its n-th powers.

    Args:
        lang: ``"en"`` or ``"ja"``. Default: "en".
        out: folder for the figure (``lesson2_sigmoid.png`` and ``.svg``); None draws none.
        grid_limit: search σ' on ``[-grid_limit, grid_limit]``. Default: 10.
        grid_step: spacing of that grid. Default: 1e-3.
        depths: the layer counts n of the table. Default: 1, 2, 5, 10, 20.
    """
    check_language(lang)
    if not (grid_limit > 0 and 0 < grid_step < grid_limit):
        raise ConfigError(f"need 0 < grid_step < grid_limit, got {grid_step!r}, {grid_limit!r}")
    folder = output_dir(out)
    n = int(round(2 * grid_limit / grid_step)) + 1
    grid = np.linspace(-grid_limit, grid_limit, n)
    grid = grid + 0.37 * grid_step  # off-centre: the grid does not contain 0 by construction
    dsig = sigmoid_derivative(grid)
    i = int(np.argmax(dsig))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n - 1)]
    argmax = _golden_max(lambda v: float(sigmoid_derivative(np.array([v]))[0]), lo, hi)
    best = float(sigmoid_derivative(np.array([argmax]))[0])
    depths = tuple(int(d) for d in depths)
    result = SigmoidResult(
        lang=lang,
        argmax=argmax,
        max_derivative=best,
        grid_step=grid_step,
        grid_limit=grid_limit,
        depths=depths,
        factors=tuple(best**d for d in depths),
    )
    if folder is not None:
        result.figures = _figure(result, folder)
    return result


def _figure(r: SigmoidResult, folder: Path) -> list[Path]:
    from matplotlib.figure import Figure

    from koubai.engine.functions import sigmoid

    lang = figure_language(r.lang)
    with language_context(lang):
        fig = Figure(figsize=(10, 4))
        (ax, bx) = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        x = np.linspace(-8, 8, 801)
        ax.plot(x, sigmoid(x), color="tab:blue", lw=2, label="σ(x)")
        ax.plot(x, sigmoid_derivative(x), color="tab:orange", lw=2, label="σ'(x) = σ(x)(1 − σ(x))")
        ax.plot([r.argmax], [r.max_derivative], "o", color="tab:red", zorder=3)
        ax.annotate(
            tr(lang, f"max σ' = {r.max_derivative:.4g} at x ≈ {_near_zero(r.argmax)}",
               f"σ' の最大値 {r.max_derivative:.4g}（x ≈ {_near_zero(r.argmax)}）"),
            (r.argmax, r.max_derivative), xytext=(1.2, 0.42), fontsize=9,
            arrowprops={"arrowstyle": "->", "color": "0.3"},
        )  # fmt: skip
        ax.axhline(0.25, color="0.8", lw=0.8, ls="--", zorder=0)
        ax.set_xlabel("x")
        ax.set_ylim(-0.03, 1.05)
        ax.set_title(t("lesson.sigmoid.sigmoid_and_its_derivative", lang))
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(alpha=0.3)

        n = np.arange(1, max(r.depths) + 1)
        bx.semilogy(n, r.max_derivative**n, "-", color="tab:orange", lw=1.5)
        bx.semilogy(r.depths, r.factors, "o", color="tab:red")
        for d, f in zip(r.depths, r.factors, strict=True):
            bx.annotate(f"{f:.2g}", (d, f), xytext=(5, 4), textcoords="offset points", fontsize=8)
        bx.set_xlabel(t("lesson.sigmoid.number_of_sigmoid_layers", lang))
        m = f"{r.max_derivative:.3g}ⁿ"
        bx.set_ylabel(tr(lang, f"largest gradient factor {m}", f"勾配の倍率の上限 {m}"))
        bx.set_title(tr(lang, f"Through n sigmoid layers: {m}", f"n 層を通過すると {m}"))
        bx.set_ylim(top=3.0)  # room for the first label
        bx.grid(alpha=0.3, which="both")
        fig.tight_layout()
        return save_figure(fig, folder, "lesson2_sigmoid", lang)
