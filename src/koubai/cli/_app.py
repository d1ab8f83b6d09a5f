"""The shared Typer application and the error helper that every command uses."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

#: The order of ``koubai --help``: the main job first, the engine's tools last.
COMMAND_ORDER = (
    "run",
    "train",
    "show",
    "report",
    "export",
    "lessons",
    "diagnose",
    "datasets",
    "gradcheck",
    "version",
)

#: What an option's value looks like in ``--help``, by the type of its value.
_METAVARS = {"int": "N", "float": "X", "Path": "PATH", "str": "TEXT"}


def _plain_help(command, ctx) -> None:
    """Show ``--seeds N`` and ``--figures`` rather than ``<int>`` and ``<bool>`` tags, and a
    command's summary in the list as one flowing paragraph (not broken where its docstring's
    lines break)."""
    if command.help and not command.short_help:
        command.short_help = " ".join(command.help.split("\n\n")[0].split())
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if getattr(param, "is_flag", False) or param.param_type_name == "argument":
            shown = None
        else:
            kind = param.bare_type().removeprefix("list[").removesuffix("]")
            shown = param.metavar or _METAVARS.get(kind, "VALUE")
        param.display_type_rich = lambda ctx, shown=shown: shown
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub, ctx)


class KoubaiGroup(TyperGroup):
    """The ``koubai`` command group: commands in :data:`COMMAND_ORDER`, help without type tags."""

    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: k for k, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))

    def format_help(self, ctx, formatter) -> None:
        _plain_help(self, ctx)
        return super().format_help(ctx, formatter)

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_help(command, ctx)
        return command


app = typer.Typer(
    name="koubai",
    cls=KoubaiGroup,
    help="koubai (勾配): see, measure and fix the vanishing-gradient problem.",
    epilog="Example: koubai run vanishing batchnorm   (then open the report.html it prints)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from koubai import __version__

        Console().print(f"koubai {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print koubai's version and exit.",
    ),
) -> None:
    """koubai (勾配): see, measure and fix the vanishing-gradient problem."""


def example(*lines: str) -> str:
    """A command's ``--help`` epilog: one example command line (or a few)."""
    return "Example: " + "   ".join(lines)


def language_option(what: str = "Language of the figures, report and tables"):
    """The ``--lang`` option: en or ja; its default is ``KOUBAI_LANG`` or the locale."""
    return typer.Option(
        None,
        "--lang",
        metavar="en|ja",
        help=f"{what}: en or ja.",
        show_default="KOUBAI_LANG, else the locale, else en",
    )


def resolve_language(lang: str | None) -> str:
    """``--lang``'s value, or the default language (:func:`koubai.i18n.language`)."""
    from koubai.i18n import language

    return language(lang)


console = Console()
err_console = Console(stderr=True)


def say(text: str, *, err: bool = False, style: str | None = None) -> None:
    """Print a line that holds the user's values (paths, names, errors) exactly as they are:
    no Rich markup (a folder ``odd[base]`` keeps its ``[base]``), no highlighting, no line
    breaks added inside a path."""
    target = err_console if err else console
    target.print(text, style=style, highlight=False, markup=False, soft_wrap=True)


F = TypeVar("F", bound=Callable[..., object])


#: Exit status of a bug (an exception that is not a user mistake): sysexits' EX_SOFTWARE.
EXIT_BUG = 70
#: Exit status after Ctrl-C, as a shell reports SIGINT.
EXIT_INTERRUPTED = 130
#: Exit status when the reader of stdout went away (``koubai runs list | head``): 128 + SIGPIPE,
#: what the shell reports for ``cat``, ``yes`` or ``grep`` in the same place. Without
#: ``set -o pipefail`` the pipe's status is the reader's (0); with it, the early stop shows.
EXIT_BROKEN_PIPE = 128 + 13


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


def _reader_gone() -> NoReturn:
    """stdout's reader closed the pipe (``| head`` has its lines): stop quietly, as a Unix tool
    killed by SIGPIPE does, with :data:`EXIT_BROKEN_PIPE`. stdout now writes to the null device,
    so that flushing what is left at exit raises nothing more (the Python docs' recipe, "Note
    on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a notebook, a test runner)
        pass
    raise typer.Exit(code=EXIT_BROKEN_PIPE)


def _stdout_closed() -> bool:
    """Whether stdout's reader went away (a pipe with no reader polls as an error), as opposed
    to another pipe breaking while stdout is fine."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # no file descriptor (a test runner): not a closed pipe
        return False
    if not hasattr(select, "poll"):  # Windows: no way to ask; take it as stdout's
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & select.POLLERR for _, event in poller.poll(0))


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename!s}" if getattr(exc, "filename", None) else ""
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


def user_errors(func: F) -> F:
    """Decorator: koubai's own errors, ``OSError`` and ``MemoryError`` become one line and exit
    status 1; Ctrl-C exits 130; a closed stdout pipe exits 141 without a word
    (:func:`_reader_gone`); any other exception is a bug (:func:`_report_bug`)."""
    from koubai.errors import KoubaiError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
            return result
        except typer.Exit:
            raise
        except BrokenPipeError as exc:
            if _stdout_closed():
                _reader_gone()
            fail(_os_message(exc))  # another pipe (a subprocess, a socket): an error like any
        except KoubaiError as exc:
            fail(str(exc))
        except MemoryError:
            fail("not enough memory for this request; choose smaller sizes or fewer runs")
        except OSError as exc:
            fail(_os_message(exc))
        except KeyboardInterrupt:
            fail("interrupted", code=EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - anything else is a bug, reported as one
            _report_bug(exc)

    return wrapper  # type: ignore[return-value]
