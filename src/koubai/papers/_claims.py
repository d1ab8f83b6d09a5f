"""A claim, its verdict rule, and how claims are printed and written.

A verdict is computed from a measured value and its spread over seeds, against the range of
values the paper's claim allows (a :class:`Band`): the claim is *reproduced* when the whole
interval ``value ± spread`` lies inside the band, *not reproduced here* when the interval lies
wholly outside it, and *inconclusive* when it straddles an edge (or the value could not be
measured). No verdict is ever written by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from koubai.i18n import tr
from koubai.report.table import NumberTable

Verdict = Literal["true", "false", "inconclusive"]

VERDICT_WORDS = {
    "true": ("reproduced", "再現できた"),
    "false": ("not reproduced here", "ここでは再現できなかった"),
    "inconclusive": ("inconclusive", "判定できない"),
}


@dataclass(frozen=True)
class Band:
    """The values a claim allows: ``lo <= value <= hi`` (either end may be infinite)."""

    lo: float = -math.inf
    hi: float = math.inf

    def judge(self, value: float, spread: float = 0.0) -> Verdict:
        """``"true"`` when ``[value - spread, value + spread]`` lies inside the band, ``"false"``
        when it lies wholly outside, ``"inconclusive"`` when it straddles an edge or the value
        is NaN (not measured). An infinite value (never reached) is judged like any other; an
        unknown spread (NaN) counts as 0."""
        if value is None or math.isnan(value):
            return "inconclusive"
        spread = spread if math.isfinite(spread) else 0.0
        low, high = value - abs(spread), value + abs(spread)
        if self.lo <= low and high <= self.hi:
            return "true"
        if high < self.lo or low > self.hi:
            return "false"
        return "inconclusive"

    def text(self) -> str:
        if math.isinf(self.lo):
            return f"≤ {self.hi:.3g}"
        if math.isinf(self.hi):
            return f"≥ {self.lo:.3g}"
        return f"{self.lo:.3g} – {self.hi:.3g}"


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard deviation (ddof 1) over seeds, NaNs left out; the spread of one seed
    is NaN, and so is that of values with an infinity (whose mean is that infinity)."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    if not np.all(np.isfinite(v)):
        return float(v.mean()), math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def ratio(a: float, b: float) -> float:
    """``a / b`` for step counts: NaN when both are 0 or both infinite (nothing to compare),
    infinite when only ``b`` is 0."""
    if (a == 0 and b == 0) or (math.isinf(a) and math.isinf(b)):
        return math.nan
    return math.inf if b == 0 else a / b


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, with the paper's value, ours, and the verdict.

    Attributes:
        claim: what the paper says, (English, Japanese).
        paper_value: the paper's number or statement, as text; (English, Japanese) where it
            is words.
        measured: our value (a number; NaN when it could not be measured).
        spread: its standard deviation over seeds (NaN with one seed).
        band: the values that reproduce the claim; :attr:`reproduced` follows from it.
        note: how it was measured, how our setup differs, and why the verdict, (en, ja).
        override: a verdict forced to "inconclusive" with its reason (en, ja), e.g. when the
            accuracies a comparison needs to be equal are not.
    """

    claim: tuple[str, str]
    paper_value: str | tuple[str, str]
    measured: float
    spread: float
    band: Band
    note: tuple[str, str]
    override: tuple[str, str] | None = None

    @property
    def reproduced(self) -> Verdict:
        if self.override is not None:
            return "inconclusive"
        return self.band.judge(self.measured, self.spread)

    def paper(self, lang: str) -> str:
        """The paper's value in ``lang``."""
        value = self.paper_value
        return value if isinstance(value, str) else tr(lang, *value)

    def row(self, lang: str = "en") -> dict[str, str]:
        """The ``claims.csv`` row (English; ``lang="ja"``: the texts in Japanese, the verdict
        in words, as the Japanese report shows them)."""
        inconclusive = tr(lang, " Inconclusive: ", "判定できない：")
        note = tr(lang, *self.note)
        note += f"{inconclusive}{tr(lang, *self.override)}" if self.override else ""
        band = tr(
            lang,
            f" Reproduced when the value ± spread lies in {self.band.text()}.",
            f"値 ± ばらつきが {self.band.text()} に収まれば再現とする。",
        )
        return {
            "claim": tr(lang, *self.claim),
            "paper_value": self.paper(lang),
            "measured": _num(self.measured),
            "spread": _num(self.spread),
            "reproduced": tr(lang, self.reproduced, VERDICT_WORDS[self.reproduced][1]),
            "note": f"{note}{band}",
        }

    def reason(self, lang: str) -> str:
        """One plain sentence: the verdict and why."""
        i = 1 if lang == "ja" else 0
        word = VERDICT_WORDS[self.reproduced][i]
        value = f"{_num(self.measured)} ± {_num(self.spread)}"
        sep = "：" if lang == "ja" else ": "
        if self.override is not None:
            return f"{word}{sep}{self.override[i]}"
        if math.isnan(self.measured):
            missing = tr(
                lang,
                "it could not be measured: no finished run of this setup, or the quantity is "
                "undefined for these runs (a ratio of two step counts that are both 0, say).",
                "測定できない：この設定の実行が完了していないか、この実行では値が定まらない"
                "（たとえば両方 0 のステップ数の比）。",
            )
            return f"{word}{sep}{missing} {self.note[i]}"
        where = tr(lang, "inside", "の内側") if self.reproduced == "true" else ""
        if self.reproduced == "false":
            where = tr(lang, "outside", "の外側")
        elif self.reproduced == "inconclusive":
            where = tr(lang, "across the edge of", "の境界をまたぐ")
        if lang == "ja":
            return f"{word}：{value} は {self.band.text()} {where}。{self.note[1]}"
        return f"{word}: {value} lies {where} {self.band.text()}. {self.note[0]}"


def _num(x: float) -> str:
    if x is None or math.isnan(x):
        return ""
    return f"{x:.4g}" if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def claims_table(claims: Sequence[Claim], lang: str, title: str) -> NumberTable:
    """The claims side by side: the paper's value, ours, the spread, the verdict."""
    cols = [
        tr(lang, "claim", "主張"),
        tr(lang, "paper", "論文"),
        tr(lang, "measured", "測定値"),
        tr(lang, "± spread", "± ばらつき"),
        tr(lang, "verdict", "判定"),
    ]
    rows = [
        [
            tr(lang, *c.claim),
            c.paper(lang),
            _num(c.measured),
            _num(c.spread) or "-",
            tr(lang, *VERDICT_WORDS[c.reproduced]),
        ]
        for c in claims
    ]
    return NumberTable(title, cols, rows)


def claims_text(claims: Sequence[Claim], lang: str, title: str, setup: tuple[str, str]) -> str:
    """The plain-text report of ``koubai run``: the table, then one line per verdict."""
    lines = [claims_table(claims, lang, title).to_text(), ""]
    lines += [f"{k + 1}. {c.reason(lang)}" for k, c in enumerate(claims)]
    lines += ["", setup[1 if lang == "ja" else 0]]
    return "\n".join(lines)
