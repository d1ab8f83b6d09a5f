"""Dataset commands: ``koubai datasets`` (list) and ``koubai datasets fetch NAME``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from koubai.cli._app import app, console, language_option, resolve_language, say, user_errors
from koubai.errors import ConfigError
from koubai.i18n import t

datasets_app = typer.Typer(
    help="List the datasets (no subcommand) or fetch one into the cache.",
    epilog="Example: koubai datasets   (then: koubai datasets fetch mnist)",
    invoke_without_command=True,
    no_args_is_help=False,
)


@datasets_app.callback(invoke_without_command=True)
@user_errors
def datasets_list(ctx: typer.Context, lang: str | None = language_option("Language")) -> None:
    """List the datasets: sizes, image shape, whether each is available here (no network)."""
    if ctx.invoked_subcommand is not None:
        return
    from koubai.datasets import data_dir, list_datasets

    lang = resolve_language(lang)
    infos = list_datasets()
    table = Table(title=t("datasets.title", lang), title_justify="left")
    table.add_column(t("datasets.name", lang), style="bold", no_wrap=True)
    table.add_column(t("datasets.train", lang), justify="right")
    table.add_column(t("datasets.test", lang), justify="right")
    table.add_column(t("datasets.shape", lang))
    table.add_column(t("datasets.here", lang), no_wrap=True)
    table.add_column(t("datasets.description", lang))
    yes, no = t("datasets.yes", lang), t("datasets.no", lang)
    for info in infos:
        kind = info.where.split(":", 1)[0]
        here = f"[green]{yes}[/] ({kind})" if info.available else f"[yellow]{no}[/] ({kind})"
        table.add_row(
            info.name,
            f"{info.n_train:,}",
            f"{info.n_test:,}",
            "×".join(str(d) for d in info.image_shape),
            here,
            escape(info.description),
        )
    console.print(table)
    for info in infos:
        say(f"{info.name}: {info.where}", style="dim")  # a path of the user's (KOUBAI_DATA_DIR)
    cache = t("datasets.cache", lang, folder=str(data_dir()))
    say(cache, style="dim")


@datasets_app.command("fetch", epilog="Example: koubai datasets fetch mnist")
@user_errors
def datasets_fetch(
    name: Annotated[
        str, typer.Argument(help="Dataset name: mnist, fashion-mnist, mnist-5k, digits.")
    ],
    mirror: Annotated[
        list[str] | None,
        typer.Option(help="Base URL to download from instead of the defaults (repeatable)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for a server to accept the connection.")
    ] = 4.0,
) -> None:
    """Download and verify a dataset's files (when needed) and print their paths."""
    from koubai.datasets import SOURCES, fetch
    from koubai.datasets.sources import IdxSource

    options: dict[str, object] = {}
    src = SOURCES.get(name.strip().lower().replace("_", "-"))
    if isinstance(src, IdxSource):
        options["timeout"] = timeout
        if mirror:
            options["mirrors"] = list(mirror)
    elif mirror:
        raise ConfigError(f"--mirror applies to downloaded datasets only, not to {name!r}")
    paths = fetch(name, **options)
    for role, path in paths.items():
        console.print(f"{role}: {escape(str(path))}", highlight=False, soft_wrap=True)


app.add_typer(datasets_app, name="datasets")
