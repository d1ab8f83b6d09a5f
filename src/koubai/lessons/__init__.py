"""The seed note's four confirmation tests (確認テスト), computed rather than recited.

1. :func:`chain_rule` — dz/dx for z = t², t = x + y: analytic, numerical and back-propagated.
2. :func:`sigmoid_lesson` — the maximum of σ' (0.25 at x = 0), found numerically, and 0.25ⁿ.
3. :func:`zero_init` — all-zero weights: the hidden units stay identical; random ones do not.
4. :func:`batchnorm_lesson` — batch norm's effects on stability, speed and overfitting.

Each returns a :class:`LessonResult` dataclass holding its numbers, with ``tables()`` and
``explanation()`` in English (``lang="en"``) or Japanese (``lang="ja"``); given an output
folder it writes its figure as PNG and SVG.

>>> from koubai import lessons
>>> r = lessons.run([2], lang="ja", out="koubai-results/lessons")[0]   # doctest: +SKIP
>>> round(r.max_derivative, 6), r.argmax                               # doctest: +SKIP
(0.25, 0.0)
>>> print(r)                                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from koubai.checks import LANGUAGES, check_language, check_seed
from koubai.errors import ConfigError
from koubai.lessons._base import LessonResult, NumberTable, output_dir
from koubai.lessons.batchnorm import Arm, BatchNormResult, PreActivationProbe, batchnorm_lesson
from koubai.lessons.chain_rule import ChainRuleResult, Square, chain_rule
from koubai.lessons.sigmoid import SigmoidResult, sigmoid_derivative, sigmoid_lesson
from koubai.lessons.zero_init import ZeroInitResult, distinct_units, unit_spread, zero_init

__all__ = [
    "DEFAULT_OUT",
    "LANGUAGES",
    "LESSONS",
    "Arm",
    "BatchNormResult",
    "ChainRuleResult",
    "LessonResult",
    "NumberTable",
    "PreActivationProbe",
    "SigmoidResult",
    "Square",
    "ZeroInitResult",
    "batchnorm_lesson",
    "chain_rule",
    "check_lessons",
    "distinct_units",
    "run",
    "sigmoid_derivative",
    "sigmoid_lesson",
    "unit_spread",
    "zero_init",
]

#: Where the command line writes the figures unless told otherwise.
DEFAULT_OUT = Path("koubai-results") / "lessons"


def _lesson4(*, lang: str, out, seed: int) -> LessonResult:
    return batchnorm_lesson(lang=lang, out=out, seed=seed)


def _lesson2(*, lang: str, out, seed: int) -> LessonResult:
    return sigmoid_lesson(lang=lang, out=out)  # nothing random to seed


#: Lesson number -> runner taking ``lang``, ``out`` and ``seed``.
LESSONS: dict[int, Callable[..., LessonResult]] = {
    1: chain_rule,
    2: _lesson2,
    3: zero_init,
    4: _lesson4,
}


def check_lessons(numbers: Iterable[int] | None) -> list[int]:
    """The lesson numbers to run, in the order given without repeats; all when empty/None."""
    if numbers is None:
        return sorted(LESSONS)
    chosen: list[int] = []
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int) or n not in LESSONS:
            raise ConfigError(f"unknown lesson {n!r}; choose from {sorted(LESSONS)}")
        if n not in chosen:
            chosen.append(n)
    return chosen or sorted(LESSONS)


def run(
    numbers: Iterable[int] | None = None,
    *,
    lang: str = "en",
    out: str | Path | None = None,
    seed: int = 0,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[LessonResult], None] | None = None,
) -> list[LessonResult]:
    """Run confirmation tests ``numbers`` (default: all four) and return their results.

    Every argument is checked (and the output folder created) before any lesson runs.

    Args:
        numbers: lesson numbers among 1–4. Default: all.
        lang: ``"en"`` or ``"ja"``. Default: "en".
        out: folder for the figures (PNG + SVG); None writes none. Default: None.
        seed: seed of every random number of the lessons. Default: 0.
        on_start: called with each lesson's number before it runs (e.g. a spinner).
        on_done: called with each result as soon as it is ready (e.g. to print it).

    Raises:
        ConfigError: an unknown lesson number or language, or a bad seed.
        OSError: the output folder cannot be created or written.
    """
    chosen = check_lessons(numbers)
    check_language(lang)
    check_seed(seed)
    folder = output_dir(out)
    results = []
    for n in chosen:
        if on_start is not None:
            on_start(n)
        result = LESSONS[n](lang=lang, out=folder, seed=seed)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
