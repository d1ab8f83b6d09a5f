"""``koubai lessons``: the seed note's four confirmation tests, computed and explained."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from koubai.cli._app import (
    app,
    console,
    err_console,
    example,
    language_option,
    resolve_language,
    say,
    user_errors,
)
from koubai.i18n import t


@app.command(epilog=example("koubai lessons 2 4 --lang ja"))
@user_errors
def lessons(
    numbers: Annotated[
        list[int] | None,
        typer.Argument(
            help="Lessons to run, among 1 2 3 4. Default: all four.", show_default=False
        ),
    ] = None,
    lang: str | None = language_option("Language of the text and figures"),
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder for the figures (PNG + SVG)."),
    ] = Path("koubai-results/lessons"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random number.")] = 0,
) -> None:
    """The note's confirmation tests (確認テスト), computed: chain rule, sigmoid', zero init, BN."""
    from koubai import lessons as api

    lang = resolve_language(lang)

    def start(n: int) -> None:
        console.print(f"[dim]… {t(f'lesson.title.{n}', lang)}[/]", highlight=False)

    def done(result) -> None:
        _show(result)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        api.run(numbers, lang=lang, out=out, seed=seed, on_start=start, on_done=done)
    for message in dict.fromkeys(str(w.message) for w in caught):  # each warning once
        warning = t("lesson.warning", lang)
        err_console.print(f"[yellow]{warning}:[/] {message}", highlight=False, soft_wrap=True)


def _show(result) -> None:
    """Print one lesson: a rule with its title, its tables, the explanation, the figures."""
    console.rule(f"[bold]{result.number}. {result.title()}", align="left")
    # Japanese has no spaces to break lines at: let the terminal wrap it, character by character.
    wrap = {"soft_wrap": result.lang == "ja", "highlight": False}
    for number_table in result.tables():
        console.print(f"[bold]{number_table.title}[/]", **wrap)
        table = Table()
        for i, column in enumerate(number_table.columns):
            numeric = all(_is_number(row[i]) for row in number_table.rows)
            table.add_column(column, justify="right" if numeric else "left")
        for row in number_table.rows:
            table.add_row(*row)
        console.print(table)
    console.print(result.explanation(), **wrap)
    for path in result.figures:
        say(str(path), style="dim")
    console.print()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
