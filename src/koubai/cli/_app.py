"""The shared Typer application and the error helper that every command uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

app = typer.Typer(
    name="koubai",
    help="koubai (勾配): see, measure and fix the vanishing-gradient problem.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., object])


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Print ``error: message`` (and an optional hint) on stderr and exit with status 1."""
    line = f"[bold red]error:[/] {message}"
    if hint:
        line += f"  [dim]({hint})[/]"
    err_console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def user_errors(func: F) -> F:
    """Decorator: turn koubai's errors, ``ValueError`` and ``OSError`` into :func:`fail`."""
    from koubai.errors import KoubaiError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (KoubaiError, ValueError) as exc:
            fail(str(exc))
        except OSError as exc:
            where = f" {exc.filename!s}" if getattr(exc, "filename", None) else ""
            fail(f"{exc.strerror or exc}{':' if where else ''}{where}")

    return wrapper  # type: ignore[return-value]
