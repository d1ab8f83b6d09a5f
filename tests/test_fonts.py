"""koubai.report.fonts: Japanese labels render with a CJK font, never as tofu boxes."""

from __future__ import annotations

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from koubai.errors import ConfigError  # noqa: E402
from koubai.report import fonts  # noqa: E402

JAPANESE = "勾配消失：シグモイド関数の導関数 σ′(x) ≤ 0.25、イテレーション −10"
CJK = fonts.cjk_font()
needs_cjk = pytest.mark.skipif(
    CJK is None, reason=f"no CJK font installed here; {fonts.INSTALL_HINT}"
)


@pytest.fixture(autouse=True)
def _restore_rcparams():
    """use_language changes matplotlib globally: give every test a clean slate."""
    with matplotlib.rc_context():
        yield
    plt.close("all")


def missing_glyph_warnings(text: str) -> list[str]:
    """Draw a figure labelled ``text`` and return matplotlib's missing-glyph warnings."""
    fig, ax = plt.subplots()
    ax.set_title(text)
    ax.set_xlabel(text)
    ax.plot([-1, 1], [-1, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_check_language_lists_the_valid_ones():
    assert fonts.check_language("ja") == "ja"
    with pytest.raises(ConfigError, match=r"unknown language 'fr'; choose one of \['en', 'ja'\]"):
        fonts.check_language("fr")
    with pytest.raises(ConfigError):
        fonts.use_language("EN")


def test_the_default_font_draws_japanese_as_tofu():
    # The control: without use_language, DejaVu Sans lacks the glyphs and matplotlib says so.
    # (If this ever stops warning, the no-warning test below proves nothing.)
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    assert missing_glyph_warnings(JAPANESE)


@needs_cjk
def test_use_language_ja_renders_japanese_without_missing_glyphs():
    families = fonts.use_language("ja")
    assert families[0] == CJK and families[-1] == fonts.LATIN_FALLBACK
    assert list(matplotlib.rcParams["font.family"]) == families
    assert missing_glyph_warnings(JAPANESE) == []


@needs_cjk
def test_language_context_is_local_and_english_restores_the_default():
    before = list(matplotlib.rcParams["font.family"])
    with fonts.language_context("ja") as families:
        assert families[0] == CJK
        assert missing_glyph_warnings(JAPANESE) == []
    assert list(matplotlib.rcParams["font.family"]) == before
    fonts.use_language("ja")
    assert fonts.use_language("en") == list(matplotlib.rcParamsDefault["font.family"])


@needs_cjk
def test_japanese_svg_keeps_glyphs_as_paths(tmp_path):
    # SVG text is drawn as paths, so the file shows the glyphs on machines without the font.
    with fonts.language_context("ja"):
        fig, ax = plt.subplots()
        ax.set_title("勾配")
        fig.savefig(tmp_path / "ja.svg")
        plt.close(fig)
    svg = (tmp_path / "ja.svg").read_text(encoding="utf-8")
    assert "<path" in svg and "<text" not in svg


def test_no_cjk_font_warns_with_the_package_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda **_: None)
    with pytest.warns(fonts.MissingFontWarning, match="fonts-noto-cjk"):
        families = fonts.use_language("ja")
    assert families == list(matplotlib.rcParamsDefault["font.family"])
    with pytest.raises(fonts.FontError, match="fonts-noto-cjk"):
        fonts.use_language("ja", strict=True)
    assert not fonts.can_render("ja") and fonts.can_render("en")


def test_cjk_font_is_none_when_nothing_is_installed(monkeypatch):
    monkeypatch.setattr(fonts, "_installed_families", lambda: {"DejaVu Sans"})
    monkeypatch.setattr(fonts.font_manager, "findSystemFonts", lambda *a, **k: [])
    assert fonts.cjk_font(refresh=True) is None
