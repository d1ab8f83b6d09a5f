"""The last module the fork server of :mod:`koubai.experiments.pool` imports (never imported
elsewhere). When :func:`koubai.experiments.pool.start` started that fork server, this module
runs the experiment's main script there once, then freezes the garbage collector's objects:

* Every process that :mod:`multiprocessing` starts runs its parent's main script again (it may
  define the functions a worker is asked to run). The fork server was meant to do that once for
  all its workers, but before Python 3.13.8 it never did (CPython gh-126631): each worker ran
  the script again, 40-70 ms of imports for ``koubai run`` (typer, rich). Run here, the script's
  module is already loaded in every worker, which then skips it.
* ``gc.freeze()`` leaves the fork server's objects out of the workers' collections, so that a
  worker does not touch (and copy) every page it shares with the fork server.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from multiprocessing import process, spawn

#: Set by :func:`koubai.experiments.pool.start` while it starts the fork server: the main
#: script's path (None without one: ``python -c``, ``-m``, a notebook) and ``sys.argv``.
ENV = "KOUBAI_FORK_SERVER_MAIN"


def _run_main(path: str, argv: list[str]) -> None:
    """Run the main script as a worker would (``__mp_main__``, no process may start)."""
    saved = sys.argv
    sys.argv = argv
    process.current_process()._inheriting = True
    try:
        spawn.import_main_path(path)
    except (Exception, SystemExit):  # noqa: BLE001 - each worker then runs it, as it always did
        pass
    finally:
        del process.current_process()._inheriting
        sys.argv = saved


def _prepare() -> None:
    info = json.loads(os.environ.pop(ENV))
    if info.get("path"):
        _run_main(info["path"], list(info.get("argv") or []))
    gc.freeze()


if ENV in os.environ:
    _prepare()
