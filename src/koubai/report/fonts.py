"""Fonts for figures in English or Japanese: Japanese labels in a CJK font, never as tofu.

matplotlib's default font, DejaVu Sans, has no Japanese glyphs: a label such as ``"勾配"``
comes out as empty boxes ("tofu") with the warning ``Glyph 21246 ... missing from font(s)
DejaVu Sans``. :func:`use_language` puts an installed CJK font (Noto Sans CJK JP from Debian's
``fonts-noto-cjk`` package, or another known Japanese font) first in ``font.family``, with
DejaVu Sans behind it for any glyph the CJK font lacks (matplotlib falls back glyph by glyph).
When no CJK font is installed it says so, with the package to install, instead of drawing boxes.

>>> from koubai.report.fonts import language_context
>>> with language_context("ja"):          # doctest: +SKIP
...     fig, ax = plt.subplots(); ax.set_xlabel("イテレーション")

SVG files keep text as paths (matplotlib's default ``svg.fonttype = "path"``), so they show the
same glyphs on machines without the font; PDF and PS embed the font as TrueType (Type 42).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import matplotlib
from matplotlib import font_manager

from koubai.checks import LANGUAGES as LANGUAGES  # re-exported: the languages figures know
from koubai.checks import check_language
from koubai.errors import FontError

Language = Literal["en", "ja"]

#: Japanese-capable font families, best first: Debian's fonts-noto-cjk, then other common ones.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "Source Han Sans",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Serif CJK JP",
)
#: Behind the CJK font, for the glyphs it lacks; matplotlib ships it, so it is always there.
LATIN_FALLBACK = "DejaVu Sans"
INSTALL_HINT = "install a Japanese font, e.g. apt install fonts-noto-cjk (Debian/Ubuntu)"

# Substrings of font file names worth registering when matplotlib's font cache predates them.
_CJK_FILE_HINTS = ("cjk", "ipaex", "ipag", "takao", "vl-gothic", "sourcehansans", "notosansjp")
_scanned = False


class MissingFontWarning(UserWarning):
    """Japanese labels were asked for, but no CJK font is installed: they would be tofu."""


def _installed_families() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


def _register_system_cjk_fonts() -> None:
    """Add CJK font files the cached font list does not know (installed after the cache)."""
    known = {os.path.realpath(entry.fname) for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        name = os.path.basename(path).lower().replace(" ", "")
        if any(h in name for h in _CJK_FILE_HINTS) and os.path.realpath(path) not in known:
            with contextlib.suppress(Exception):  # an unreadable font file is simply skipped
                font_manager.fontManager.addfont(path)


def cjk_font(*, refresh: bool = False) -> str | None:
    """The family name of the best installed Japanese-capable font, or None if there is none.

    Looks in matplotlib's font list first; if nothing is found there, scans the system font
    folders once (a font installed after matplotlib built its cache is found this way).

    Args:
        refresh: scan the system font folders again. Default: False.
    """
    global _scanned
    for _ in range(2):
        installed = _installed_families()
        for family in CJK_FAMILIES:
            if family in installed:
                return family
        if _scanned and not refresh:
            return None
        _register_system_cjk_fonts()
        _scanned, refresh = True, False
    return None


def can_render(lang: str) -> bool:
    """Whether labels in ``lang`` can be drawn without missing glyphs on this machine."""
    return check_language(lang) == "en" or cjk_font() is not None


def rc_params(lang: str, *, strict: bool = False) -> dict[str, Any]:
    """The matplotlib settings that draw labels in ``lang``, without applying them.

    Args:
        lang: ``"en"`` or ``"ja"``.
        strict: raise :class:`FontError` when ``lang`` needs a font that is not installed;
            otherwise warn (:class:`MissingFontWarning`) and return the default settings.
            Default: False.

    Raises:
        ConfigError: ``lang`` is not a known language.
    """
    check_language(lang)
    defaults = matplotlib.rcParamsDefault
    if lang == "en":
        return {"font.family": list(defaults["font.family"])}
    family = cjk_font()
    if family is None:
        message = f"no Japanese (CJK) font found, labels would show as empty boxes; {INSTALL_HINT}"
        if strict:
            raise FontError(message)
        warnings.warn(message, MissingFontWarning, stacklevel=3)
        return {"font.family": list(defaults["font.family"])}
    return {
        "font.family": [family, LATIN_FALLBACK],
        "pdf.fonttype": 42,  # embed TrueType: Type 3 CJK fonts are huge and often unreadable
        "ps.fonttype": 42,
    }


def use_language(lang: str, *, strict: bool = False) -> list[str]:
    """Configure matplotlib (globally) to draw labels in ``lang``; returns ``font.family``.

    For ``"ja"`` the font family becomes e.g. ``["Noto Sans CJK JP", "DejaVu Sans"]``; for
    ``"en"`` matplotlib's default. Prefer :func:`language_context` to keep the change local.

    Args:
        lang: ``"en"`` or ``"ja"``.
        strict: raise :class:`FontError` instead of warning when no CJK font is installed.
            Default: False.

    Example:
        >>> use_language("ja")          # doctest: +SKIP
        ['Noto Sans CJK JP', 'DejaVu Sans']
    """
    matplotlib.rcParams.update(rc_params(lang, strict=strict))
    return list(matplotlib.rcParams["font.family"])


@contextlib.contextmanager
def language_context(lang: str, *, strict: bool = False) -> Iterator[list[str]]:
    """Within the ``with`` block, matplotlib draws labels in ``lang`` (see :func:`use_language`).

    Yields the font family list in force. Draw *and save* the figure inside the block: the font
    is looked up when the text is rendered.
    """
    with matplotlib.rc_context(rc_params(lang, strict=strict)):
        yield list(matplotlib.rcParams["font.family"])
