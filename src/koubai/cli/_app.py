"""The shared Typer application and the error helper that every command uses."""

from __future__ import annotations

import functools
import os
import tempfile
import traceback
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

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


#: Exit status of a bug (an exception that is not a user mistake): sysexits' EX_SOFTWARE.
EXIT_BUG = 70
#: Exit status after Ctrl-C, as a shell reports SIGINT.
EXIT_INTERRUPTED = 130


def fail(message: str, hint: str | None = None, *, code: int = 1) -> NoReturn:
    """Print ``error: message`` (and an optional hint) on stderr as one line; exit ``code``.

    The message is printed as plain text, never as Rich markup: a user's ``[base]`` or
    ``[/x]`` appears as written.
    """
    line = Text("error: ", style="bold red")
    line.append(" ".join(str(message).split()))  # one line, whatever the message holds
    if hint:
        line.append(f"  ({hint})", style="dim")
    err_console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _report_bug(exc: BaseException) -> NoReturn:
    """An exception that is not a user mistake: say so, keep the traceback in a file."""
    fd, path = tempfile.mkstemp(prefix="koubai-traceback-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        traceback.print_exception(exc, file=fh)
    fail(
        f"internal error ({type(exc).__name__}: {exc}); this is a bug in koubai",
        f"the traceback is in {path}; please report it",
        code=EXIT_BUG,
    )


def user_errors(func: F) -> F:
    """Decorator: koubai's own errors, ``OSError`` and ``MemoryError`` become one line and exit
    status 1; Ctrl-C exits 130; any other exception is a bug (:func:`_report_bug`)."""
    from koubai.errors import KoubaiError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except KoubaiError as exc:
            fail(str(exc))
        except MemoryError:
            fail("not enough memory for this request; choose smaller sizes or fewer runs")
        except OSError as exc:
            where = f" {exc.filename!s}" if getattr(exc, "filename", None) else ""
            fail(f"{exc.strerror or exc}{':' if where else ''}{where}")
        except KeyboardInterrupt:
            fail("interrupted", code=EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - anything else is a bug, reported as one
            _report_bug(exc)

    return wrapper  # type: ignore[return-value]
