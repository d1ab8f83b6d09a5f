"""One catalog holds every English and Japanese text; the default language comes from
KOUBAI_LANG or the locale; --lang overrides it."""

import re
import string
from pathlib import Path

import pytest

from koubai.errors import ConfigError
from koubai.i18n import CATALOG, default_language, labels, t

SRC = Path(__file__).resolve().parents[1] / "src" / "koubai"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_text_has_both_languages_with_the_same_fields(key):
    en, ja = CATALOG[key]
    assert en.strip() and ja.strip()
    assert _fields(en) == _fields(ja)


def test_japanese_texts_are_japanese():
    kana_or_kanji = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    words = [k for k, (en, _) in CATALOG.items() if re.search(r"[A-Za-z]{3}", en)]
    same = [
        k
        for k in words
        if CATALOG[k][0] != CATALOG[k][1] and not kana_or_kanji.search(CATALOG[k][1])
    ]
    assert same == []


def test_lookup_fills_fields_and_names_a_missing_key():
    assert t("fig.hidden", "ja", k=3) == "隠れ層 3"
    assert labels("fig", "en")["iteration"] == "iteration"
    with pytest.raises(ConfigError, match="no text 'nope'"):
        t("nope", "en")
    with pytest.raises(ConfigError, match="unknown language 'fr'"):
        t("fig.layer", "fr")


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "C"}, "ja"),
        ({"KOUBAI_LANG": "en", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"KOUBAI_LANG": "ja"}, "ja"),
    ],
)
def test_default_language_from_koubai_lang_or_the_locale(env, expected):
    assert default_language(env) == expected


def test_a_bad_koubai_lang_is_a_clear_error():
    with pytest.raises(ConfigError, match="KOUBAI_LANG must be one of"):
        default_language({"KOUBAI_LANG": "fr"})


def test_one_mechanism_no_label_dicts_or_local_tr_left():
    figures = (SRC / "report" / "figures.py").read_text("utf-8")
    assert "LABELS = {" not in figures
    for path in (SRC / "lessons").glob("*.py"):
        assert "def tr(" not in path.read_text("utf-8"), path
