"""``koubai playground``: the live, in-browser view of training (needs the playground extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from koubai.cli._app import app, console, err_console, example, fail, user_errors


@app.command(epilog=example("koubai playground --lang ja"))
@user_errors
def playground(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; other than loopback: a warning.")
    ] = "127.0.0.1",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open the page in a browser.")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the page: en or ja.")] = "en",
) -> None:
    """Train in the browser: watch per-layer gradients vanish live, and fix them."""
    from koubai.checks import check_int, check_language
    from koubai.playground import missing_extra

    check_language(lang)
    check_int(port, "--port", minimum=1, maximum=65_535)
    if (hint := missing_extra()) is not None:
        fail(hint)
    from koubai.playground.server import is_loopback, serve

    if not is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: any machine that can reach it can use "
            "the playground (and its CPU); the default, 127.0.0.1, admits only this one",
            highlight=False,
            soft_wrap=True,
        )

    def ready(url: str) -> None:
        console.print(f"koubai playground: {url}  (Ctrl-C stops it)", highlight=False)

    try:
        serve(host=host, port=port, lang=lang, open_browser=not no_browser, on_ready=ready)
    except KeyboardInterrupt:
        pass
