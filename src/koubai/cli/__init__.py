"""The ``koubai`` command line: thin commands over the Python API.

Each command parses its options, calls the library and prints. Every command module registers
itself on :data:`app`, each wrapped in :func:`~koubai.cli._app.user_errors`, which turns user
errors into one-line messages and exit code 1.
"""

from __future__ import annotations

import sys

from koubai.cli._app import app, fail

# Command modules register themselves on `app` when imported.
from koubai.cli import engine as _engine  # noqa: E402,F401  isort: skip
from koubai.cli import datasets as _datasets  # noqa: E402,F401  isort: skip
from koubai.cli import experiments as _experiments  # noqa: E402,F401  isort: skip
from koubai.cli import lessons as _lessons  # noqa: E402,F401  isort: skip
from koubai.cli import playground as _playground  # noqa: E402,F401  isort: skip
from koubai.cli import diagnose as _diagnose  # noqa: E402,F401  isort: skip
from koubai.cli import runs as _runs  # noqa: E402,F401  isort: skip

__all__ = ["app", "fail", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``koubai`` script."""
    app(args=argv, prog_name="koubai", standalone_mode=True)
    sys.exit(0)
