r"""Confirmation test 1: the chain rule for :math:`z = t^2,\ t = x + y`.

The note's answer is :math:`dz/dx = dz/dt \cdot dt/dx = 2t \cdot 1 = 2(x + y)`. This lesson
computes the derivative three ways at random points and compares them:

* analytic: :math:`2(x + y)`;
* numerical: central differences :math:`(z(x + h) - z(x - h)) / 2h`
  (:func:`koubai.engine.gradcheck.numerical_gradient`);
* back-propagation through engine layers: an :class:`~koubai.engine.Affine` layer with fixed
  weights ``W = [[1], [1]]`` computes ``t = x + y``, a :class:`Square` layer computes
  ``z = t²``; ``backward`` multiplies the upstream gradient by each local derivative in turn,
  which *is* the chain rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from koubai.checks import check_seed
from koubai.engine.gradcheck import numerical_gradient
from koubai.engine.layers import Affine, Layer
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


class Square(Layer):
    r"""Element-wise square :math:`z = t^2`; backward :math:`\delta \cdot 2t` (local derivative 2t).

    Shape: ``(N, D) -> (N, D)``.
    """

    def forward(self, x: np.ndarray, *, train: bool = False) -> np.ndarray:
        self._t = x
        return x * x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (2.0 * self._t)


@dataclass(kw_only=True)
class ChainRuleResult(LessonResult):
    """Lesson 1's numbers: dz/dx at ``n`` random points, three ways.

    Attributes:
        x, y: the points ``(n,)``.
        analytic: ``2 (x + y)``.
        numeric: central differences with step ``step``.
        engine: back-propagation through ``Affine`` (t = x + y) and ``Square`` (z = t²).
        max_abs_numeric: ``max |numeric − analytic|``.
        max_abs_engine: ``max |engine − analytic|``.
    """

    number = 1
    x: np.ndarray
    y: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    engine: np.ndarray
    step: float
    max_abs_numeric: float
    max_abs_engine: float

    def title(self) -> str:
        return t("lesson.chain_rule.chain_rule_dzdx_for", self.lang)

    def tables(self) -> list[NumberTable]:
        lang = self.lang
        rows = [
            [fmt(a), fmt(b), fmt(c), fmt(d), fmt(e)]
            for a, b, c, d, e in zip(
                self.x, self.y, self.analytic, self.numeric, self.engine, strict=True
            )
        ]
        points = NumberTable(
            t("lesson.chain_rule.dzdx_at_random_points", lang),
            ["x", "y", t("lesson.chain_rule.2xy", lang), t("lesson.chain_rule.numerical", lang),
             t("lesson.chain_rule.backprop", lang)],
            rows,
        )  # fmt: skip
        summary = NumberTable(
            t("lesson.chain_rule.largest_discrepancy_from_2x", lang),
            [t("lesson.chain_rule.method", lang), "max |Δ|"],
            [
                [tr(lang, f"central difference (h = {self.step:g})",
                    f"中心差分 (h = {self.step:g})"), f"{_err(self.max_abs_numeric)}"],
                [t("lesson.chain_rule.engine_backward_affine_square", lang),
                 f"{_err(self.max_abs_engine)}"],
            ],
        )  # fmt: skip
        return [points, summary]

    def explanation(self) -> str:
        n = len(self.x)
        if self.lang == "ja":
            return (
                "連鎖律より dz/dx = dz/dt · dt/dx = 2t · 1 = 2(x + y)。"
                f"{n} 個のランダムな点で、この解析解と中心差分による数値微分の差は最大 "
                f"{_err(self.max_abs_numeric)}、エンジンの層（t = x + y を計算する重み固定の "
                f"Affine 層と z = t² の Square 層）の backward による値との差は最大 "
                f"{_err(self.max_abs_engine)} でした。逆伝播は上流の勾配に各層の局所的な微分"
                "（Square は 2t、Affine は Wᵀ = [1, 1]）を順に掛けていくもので、"
                "連鎖律そのものです。"
            )
        return (
            "By the chain rule dz/dx = dz/dt · dt/dx = 2t · 1 = 2(x + y). "
            f"At {n} random points this analytic answer differs from the central-difference "
            f"derivative by at most {_err(self.max_abs_numeric)}, and from back-propagation "
            "through the engine's layers (an Affine layer with fixed weights computing "
            "t = x + y, then a Square layer computing z = t²) by at most "
            f"{_err(self.max_abs_engine)}. Back-propagation multiplies the upstream gradient by "
            "each layer's local derivative in turn (2t for Square, Wᵀ = [1, 1] for Affine): "
            "it is the chain rule, applied mechanically."
        )


def _err(value: float) -> str:
    """A discrepancy: ``0`` when exact, else two significant digits in scientific notation."""
    return "0" if value == 0 else f"{value:.1e}"


def _numeric(points: np.ndarray, step: float) -> np.ndarray:
    """Central differences of z = (x + y)² with respect to every coordinate of ``points``."""
    work = points.copy()

    def z_sum() -> float:  # the points are independent: d(sum z)/dx_i = dz_i/dx_i
        return float(np.sum((work[:, 0] + work[:, 1]) ** 2))

    return numerical_gradient(z_sum, work, eps=step)


def _engine(points: np.ndarray) -> np.ndarray:
    """dz/d(x, y) by back-propagation through Affine (t = x + y) and Square (z = t²)."""
    add = Affine(2, 1, init="zeros", dtype=np.float64)
    add.params["W"][:] = [[1.0], [1.0]]  # t = 1·x + 1·y + 0
    square = Square()
    square.forward(add.forward(points, train=False))
    dz_dt = square.backward(np.ones((len(points), 1)))  # dz/dz = 1, times 2t
    return add.backward(dz_dt)  # times dt/d(x, y) = Wᵀ = [1, 1]


def chain_rule(
    *, lang: str = "en", out: str | Path | None = None, seed: int = 0, n_points: int = 8
) -> ChainRuleResult:
    """Run confirmation test 1: dz/dx for z = t², t = x + y, analytic vs numeric vs engine.

    Args:
        lang: ``"en"`` or ``"ja"``. Default: "en".
        out: folder for the figure (``lesson1_chain_rule.png`` and ``.svg``); None draws none.
        seed: seed of the random points, drawn uniformly from [-3, 3]². Default: 0.
        n_points: how many points. Default: 8.
    """
    check_language(lang)
    rng = np.random.default_rng(check_seed(seed))
    if n_points < 1:
        raise ConfigError(f"n_points must be at least 1, got {n_points}")
    folder = output_dir(out)
    points = rng.uniform(-3.0, 3.0, size=(n_points, 2))
    x, y = points[:, 0], points[:, 1]
    step = 1e-6
    analytic = 2.0 * (x + y)
    numeric = _numeric(points, step)[:, 0]
    engine = _engine(points)[:, 0]
    result = ChainRuleResult(
        lang=lang,
        x=x,
        y=y,
        analytic=analytic,
        numeric=numeric,
        engine=engine,
        step=step,
        max_abs_numeric=float(np.max(np.abs(numeric - analytic))),
        max_abs_engine=float(np.max(np.abs(engine - analytic))),
    )
    if folder is not None:
        result.figures = _figure(result, folder)
    return result


def _figure(r: ChainRuleResult, folder: Path) -> list[Path]:
    from matplotlib.figure import Figure

    lang = figure_language(r.lang)
    with language_context(lang):
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        s = np.linspace(-6, 6, 200)
        ax.plot(s, 2 * s, color="0.3", lw=1.5, label=t("lesson.chain_rule.analytic_2x_y", lang))
        ax.plot(
            r.x + r.y,
            r.numeric,
            "o",
            ms=9,
            mfc="none",
            mew=1.6,
            color="tab:blue",
            label=tr(
                lang,
                f"central difference (max |Δ| {_err(r.max_abs_numeric)})",
                f"中心差分（最大誤差 {_err(r.max_abs_numeric)}）",
            ),
        )
        ax.plot(r.x + r.y, r.engine, "x", ms=7, mew=1.6, color="tab:red",
                label=tr(lang, f"engine backward (max |Δ| {_err(r.max_abs_engine)})",
                         f"エンジンの逆伝播（最大誤差 {_err(r.max_abs_engine)}）"))  # fmt: skip
        ax.set_xlabel("t = x + y")
        ax.set_ylabel("dz/dx")
        ax.set_title(t("lesson.chain_rule.chain_rule_z_t", lang))  # fmt: skip
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.legend(loc="upper left", fontsize=9)
        return save_figure(fig, folder, "lesson1_chain_rule", lang)
