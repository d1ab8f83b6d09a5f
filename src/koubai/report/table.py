"""A small table of formatted numbers, as the lessons and the paper experiments print it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberTable:
    """A small table of formatted numbers: what a lesson prints (plain text or rich)."""

    title: str
    columns: list[str]
    rows: list[list[str]]

    def to_text(self) -> str:
        cells = [self.columns, *self.rows]
        widths = [max(_width(r[i]) for r in cells) for i in range(len(self.columns))]

        def line(row: list[str]) -> str:
            return "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))

        rule = "  ".join("-" * w for w in widths)
        body = "\n".join(line(r).rstrip() for r in self.rows)
        return f"{self.title}\n{line(self.columns).rstrip()}\n{rule}\n{body}"


def _width(text: str) -> int:
    """Terminal columns of ``text``: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
