"""What every lesson shares: the result base class, its tables, languages and figure saving."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from koubai.i18n import t, tr
from koubai.report.fonts import INSTALL_HINT, can_render, check_language
from koubai.report.table import NumberTable
from koubai.results import ResultsFolder, atomic_write

__all__ = ["DATASET", "LessonResult", "NumberTable", "fmt", "save_figure", "t", "tr"]

DATASET = "mnist-5k"


@dataclass(kw_only=True)
class LessonResult:
    """Base of the lessons' results: the numbers (fields of the subclass), tables and text.

    Attributes:
        lang: the language of :meth:`title`, :meth:`tables` and :meth:`explanation`.
        figures: the files written (PNG and SVG), empty when no output folder was given.
    """

    number: ClassVar[int] = 0
    lang: str = "en"
    figures: list[Path] = field(default_factory=list)

    def title(self) -> str:  # pragma: no cover - every lesson overrides it
        raise NotImplementedError

    def tables(self) -> list[NumberTable]:  # pragma: no cover
        raise NotImplementedError

    def explanation(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def to_text(self) -> str:
        """Title, numbers, explanation and figure paths as plain text."""
        parts = [f"{self.number}. {self.title()}", *(t.to_text() for t in self.tables())]
        parts.append(self.explanation())
        if self.figures:
            label = t("lesson.figures", self.lang)
            parts.append(f"{label}: " + ", ".join(str(p) for p in self.figures))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.to_text()


def figure_language(lang: str) -> str:
    """``lang`` if its labels can be drawn here; else ``"en"``, with a warning naming the fix."""
    check_language(lang)
    if can_render(lang):
        return lang
    warnings.warn(
        f"no Japanese font installed: figure labels are drawn in English; {INSTALL_HINT}",
        UserWarning,
        stacklevel=3,
    )
    return "en"


def output_dir(out: str | Path | None) -> Path | None:
    """Create the output folder (and its parents); an unusable path is an ``OSError``."""
    if out is None:
        return None
    path = Path(out).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    probe = path / ".koubai-write-test"
    probe.touch()  # fails early, before any training, if the folder is not writable
    probe.unlink()
    return path


def save_figure(fig, out: Path, stem: str, lang: str = "en") -> list[Path]:
    """Save ``fig`` as ``out/stem.png`` and ``out/stem.svg`` (each atomically); return both.

    Japanese figures are ``stem-ja.png`` / ``.svg``: the two languages never overwrite each
    other (:meth:`koubai.results.ResultsFolder.figure_stem`)."""
    stem = ResultsFolder.figure_stem(stem, lang)
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    for path, dpi in zip(paths, (150, None), strict=True):
        fmt = path.suffix[1:]
        atomic_write(
            path,
            lambda fh, fmt=fmt, dpi=dpi: fig.savefig(
                fh, format=fmt, dpi=dpi or "figure", bbox_inches="tight"
            ),
        )
    return paths


@functools.lru_cache(maxsize=1)
def mnist5k():
    """The offline MNIST subset (4,000 training / 1,000 test digits), loaded once."""
    from koubai import datasets

    return datasets.load(DATASET)


def fmt(value: float, digits: int = 4) -> str:
    """A number for a table: fixed for ordinary sizes, scientific for tiny or huge ones."""
    if value != value:  # NaN
        return "–"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}g}"
    return f"{value:.{max(digits - 2, 1)}e}"


@contextlib.contextmanager
def small_matrices() -> Iterator[None]:
    """Run BLAS on one thread inside the block, when threadpoolctl is installed.

    The lessons multiply small matrices (a batch of 100 by a few dozen units): threads bring
    nothing there, and on a busy machine OpenBLAS's spinning threads make training 5-10 times
    slower. Without threadpoolctl the block runs unchanged.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - an optional speed-up
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
