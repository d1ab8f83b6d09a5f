"""Worker processes for an experiment's runs, safe beside threads, sharing the data.

The workers are started by a *fork server* (``forkserver``; ``spawn`` where there is none): a
clean process that has imported koubai once and forks a worker per request. Unlike a plain
``fork`` of the experiment's own process, no thread of ours (a progress bar's refresh thread,
an evaluation thread) is copied half-way through holding a lock, which can deadlock a child.

The data travel once, through shared memory: the parent copies each array into a
:class:`multiprocessing.shared_memory.SharedMemory` block, and every worker copies them out once
when it starts; nothing is pickled per run or re-read from disk.

No worker outlives the experiment's process (``kill -9``, SIGTERM, the OOM killer), through
two mechanisms (:func:`die_with_parent`, :func:`watch_experiment`):

* a worker asks Linux to kill it when its parent, the fork server, dies (``PR_SET_PDEATHSIG``),
  and it closes its copy of the fork server's "alive" pipe, so the fork server sees that pipe
  close and exits when the experiment's process dies. (A worker inherits that pipe so that it
  could start processes itself; holding it kept the fork server, and so every worker, alive
  after ``kill -9``.)
* a thread in each worker waits on the experiment's process (``pidfd_open``) and kills the
  worker when it ends, whatever became of the fork server.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import select
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np

#: Modules the fork server imports once, so that each worker starts in milliseconds.
PRELOAD = ["numpy", "koubai.training", "koubai.experiments.executors"]

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def context() -> mp.context.BaseContext:
    """The multiprocessing context the runs use: ``forkserver`` (preloaded), else ``spawn``."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return mp.get_context("spawn")


@dataclass
class SharedData:
    """What a worker trains on: the four arrays as views of shared memory, the name and the
    number of classes (all :func:`koubai.training.train` reads)."""

    name: str
    n_classes: int | None
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class SharedArrays:
    """The parent's side: the data's arrays copied into shared memory once, for every worker.

    ``handle`` is what a worker needs to map them (:func:`attach`); :meth:`close` frees the
    memory (call it once the workers are done).
    """

    def __init__(self, data: Any) -> None:
        self._blocks: list[shared_memory.SharedMemory] = []
        arrays = {}
        try:
            for key in ARRAYS:
                a = np.ascontiguousarray(getattr(data, key))
                block = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
                self._blocks.append(block)
                np.ndarray(a.shape, a.dtype, buffer=block.buf)[...] = a
                arrays[key] = (block.name, a.shape, a.dtype.str)
        except BaseException:
            self.close()
            raise
        self.handle = {
            "name": getattr(data, "name", ""),
            "n_classes": getattr(data, "n_classes", None),
            "arrays": arrays,
        }

    def close(self) -> None:
        for block in self._blocks:
            block.close()
            block.unlink()
        self._blocks.clear()


def attach(handle: dict) -> SharedData:
    """The worker's side: map the shared arrays and take a private copy of each, then let the
    mapping go. The copy costs a fraction of a second once per worker; reading a mini-batch's
    random rows from private memory (which the kernel backs with huge pages) is 5-10 % faster
    per step than from the shared mapping, and a run does thousands of steps."""
    arrays = {}
    for key, (name, shape, dtype) in handle["arrays"].items():
        block = _open_block(name)
        try:
            arrays[key] = np.ndarray(shape, np.dtype(dtype), buffer=block.buf).copy()
        finally:
            block.close()
        arrays[key].flags.writeable = False  # the data: nothing in a worker may change them
    return SharedData(name=handle["name"], n_classes=handle["n_classes"], **arrays)


def _open_block(name: str) -> shared_memory.SharedMemory:
    # A worker shares its parent's resource tracker (forkserver and spawn pass it on), which
    # keeps one entry per block: the parent's unlink in SharedArrays.close clears it.
    return shared_memory.SharedMemory(name=name)


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent process dies, and let the fork server exit
    with the experiment's process (Linux; elsewhere a no-op)."""
    _release_fork_server()
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the parent's own clean-up must do
        pass


def _release_fork_server() -> None:
    """Close this worker's copy of the fork server's "alive" pipe (see the module docstring);
    the worker can no longer start processes through the fork server, which it never does."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None and mp.parent_process() is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None


def watch_experiment(pid: int) -> None:
    """Start a daemon thread that kills this worker when process ``pid`` (the experiment) ends
    (Linux ``pidfd_open``; elsewhere, and on old kernels, :func:`die_with_parent` must do)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return

    def wait() -> None:
        select.select([fd], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait, name="koubai-watch-experiment", daemon=True).start()
