"""``koubai diagnose FOLDER``: the findings of every run of a results folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from koubai.cli._app import (
    app,
    example,
    language_option,
    resolve_language,
    say,
    user_errors,
)
from koubai.i18n import t


@app.command(epilog=example("koubai diagnose koubai-results/vanishing-20261128-132703 --lang ja"))
@user_errors
def diagnose(
    folder: Path = typer.Argument(..., help="A koubai results folder (or a Monitor's folder)."),
    lang: str | None = language_option("Language of the messages"),
    fmt: str = typer.Option("text", "--format", help="text, or json for programs."),
) -> None:
    """Judge the diagnostics of every run: vanishing or exploding gradients, dead units,
    saturation, non-finite values, update ratios; name the layer and the fix."""
    from koubai.checks import check_choice
    from koubai.diagnose import diagnose_folder, format_findings

    lang = resolve_language(lang)
    check_choice(fmt, "format", ("text", "json"))
    results = diagnose_folder(folder)
    if fmt == "json":
        out = {run: [f.to_dict() for f in findings] for run, findings in results.items()}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not results:
        say(f"{folder}: {t('cli.no_diagnostics', lang)}")
    for run, findings in results.items():
        say(run, style="bold")
        say(format_findings(findings, lang))
