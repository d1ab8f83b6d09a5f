"""Worker processes for an experiment's runs, safe beside threads, sharing the data.

The workers are started by a *fork server* (``forkserver``; ``spawn`` where there is none): a
clean process that has imported the training code (and the main script, see
:mod:`koubai.experiments._preload`) once and forks a worker per request. Unlike a plain
``fork`` of the experiment's own process, no thread of ours (a progress bar's refresh thread,
an evaluation thread) is copied half-way through holding a lock, which can deadlock a child.
The runner starts the fork server (:func:`start`) before it loads the data, so that its
imports take the other core meanwhile; a worker then starts in a few milliseconds.

The data travel once, through shared memory: each array lies in a
:class:`multiprocessing.shared_memory.SharedMemory` block (the runner prepares the dataset
straight into such blocks when it loads it, :func:`data_in_shared_memory`; other data are
copied in), and every worker maps the training inputs read-only and copies the smaller arrays
(:func:`attach`); nothing is pickled per run or re-read from disk.

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

import contextlib
import ctypes
import json
import mmap
import multiprocessing as mp
import os
import select
import signal
import sys
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np

#: Modules the fork server imports once, so that each worker starts in milliseconds; the last
#: one runs this process's main script there too (see :mod:`koubai.experiments._preload`).
PRELOAD = [
    "numpy",
    "koubai.training",
    "koubai.experiments.executors",
    "koubai.experiments._preload",
]

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
#: The arrays a worker maps rather than copies (see :func:`attach`).
MAPPED = ("x_train",)


def context(extra: Sequence[str] = ()) -> mp.context.BaseContext:
    """The multiprocessing context the runs use: ``forkserver`` (preloaded with
    :data:`PRELOAD`, and ``extra`` modules before the last one), else ``spawn``."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([*PRELOAD[:-1], *extra, PRELOAD[-1]])
        return ctx
    return mp.get_context("spawn")


def start(extra: Sequence[str] = ()) -> mp.context.BaseContext:
    """:func:`context`, with its fork server started now: it imports :data:`PRELOAD` (and
    ``extra``) in its own process while this one goes on (loading the data, say), and the first
    worker then starts in milliseconds. Starting it twice, or with threads running, is harmless
    (a fork server that runs already keeps the modules it started with)."""
    ctx = context(extra)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver, spawn

        from koubai.experiments._preload import ENV

        main = spawn.get_preparation_data("koubai").get("init_main_from_path")
        os.environ[ENV] = json.dumps({"path": main, "argv": sys.argv})
        try:  # a fork server that starts now takes it from its environment
            forkserver.ensure_running()
        finally:
            os.environ.pop(ENV, None)
    return ctx


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
    """The parent's side: the data's arrays in shared memory, once, for every worker.

    Arrays that were prepared there already (:func:`data_in_shared_memory`) are used as they
    are; the others are copied into new blocks. ``handle`` is what a worker needs to map them
    (:func:`attach`); :meth:`close` frees the new blocks (call it once the workers are done).
    """

    def __init__(self, data: Any) -> None:
        self._blocks: list[shared_memory.SharedMemory] = []
        arrays = {}
        try:
            for key in ARRAYS:
                a = np.ascontiguousarray(getattr(data, key))
                name = _prepared_block(a)
                if name is None:
                    block = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
                    self._blocks.append(block)
                    _write(block, a)
                    name = block.name
                arrays[key] = (name, a.shape, a.dtype.str)
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


def _write(block: shared_memory.SharedMemory, a: np.ndarray, offset: int = 0) -> None:
    """Copy ``a`` into ``block`` at byte ``offset``: written to its file where there is one
    (the kernel copies into fresh pages: 2-3x faster than storing through the mapping, which
    takes a page fault every few pages), else through the mapping."""
    raw = a.reshape(-1).view(np.uint8)
    fd = getattr(block, "_fd", -1)
    if fd < 0:
        block.buf[offset : offset + raw.nbytes] = raw
        return
    view, done = memoryview(raw), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


# -- data prepared straight into shared memory --------------------------------------------------

#: The arrays :func:`data_in_shared_memory` made, by their mapping: (block name, address, bytes).
_PREPARED: weakref.WeakKeyDictionary[mmap.mmap, tuple[str, int, int]] = weakref.WeakKeyDictionary()
#: Rows of a dataset converted at a time on their way into shared memory (~4 MB of MNIST).
_ROWS = 1024


@contextlib.contextmanager
def data_in_shared_memory() -> Iterator[None]:
    """Datasets loaded in this block (:func:`koubai.datasets.load`) have their inputs prepared
    straight into shared memory, read-only, where the workers map them: the pool then copies
    nothing (a copy of Fashion-MNIST's 220 MB took 75-120 ms, mostly the kernel handing out
    fresh pages, which the load pays once either way). A block is freed with its array."""
    from koubai.datasets._dataset import MAKE_INPUTS

    if os.name != "posix":  # no file to map read-only (Windows): copied in, as other data
        yield
        return
    token = MAKE_INPUTS.set(_make_shared)
    try:
        yield
    finally:
        MAKE_INPUTS.reset(token)


def _make_shared(x: np.ndarray, dtype: np.dtype, scale: float | None) -> np.ndarray:
    """``x`` converted to ``dtype`` (and divided by ``scale``) as :func:`~koubai.datasets.
    _dataset.in_memory` does, a few rows at a time, into a new shared block; a read-only view
    of it."""
    from koubai.datasets._dataset import in_memory

    block = shared_memory.SharedMemory(create=True, size=max(x.size * dtype.itemsize, 1))
    try:
        offset = 0
        for start in range(0, len(x), _ROWS):
            rows = in_memory(x[start : start + _ROWS], dtype, scale)
            _write(block, rows, offset)
            offset += rows.nbytes
        mapping = mmap.mmap(block._fd, block.size, prot=mmap.PROT_READ)
    except BaseException:
        block.close()
        block.unlink()
        raise
    out = np.frombuffer(mapping, dtype, count=x.size).reshape(x.shape)
    _PREPARED[mapping] = (block.name, out.__array_interface__["data"][0], out.nbytes)
    weakref.finalize(mapping, _free, block)
    return out


def _free(block: shared_memory.SharedMemory) -> None:
    block.close()
    block.unlink()


def _prepared_block(a: np.ndarray) -> str | None:
    """The block's name when ``a`` is exactly an array :func:`_make_shared` made, else None."""
    base = a
    while isinstance(base, np.ndarray):
        base = base.base
    base = base.obj if isinstance(base, memoryview) else base  # np.frombuffer's
    entry = _PREPARED.get(base) if isinstance(base, mmap.mmap) else None
    if entry is None or entry[1:] != (a.__array_interface__["data"][0], a.nbytes):
        return None
    return entry[0]


def attach(handle: dict) -> SharedData:
    """The worker's side: the training inputs mapped read-only where they lie (the workers
    share one physical copy), the other arrays copied into private memory, read-only too.

    Private memory is backed by huge pages, shared memory (here) by 4 kB pages, so reading
    from private memory is faster where many pages are read: the test inputs, read whole at
    every evaluation (a measurement's largest product, 3-7 % faster; Fashion-MNIST's 31 MB
    copy takes 12-15 ms), but not enough for the training inputs, of which a step reads a
    mini-batch's rows (7-10 µs faster per step, 1-2 %; copying Fashion-MNIST's 188 MB took
    each worker 75-120 ms, more than its runs win back unless it makes well over 10,000
    steps).
    """
    arrays = {}
    for key, (name, shape, dtype) in handle["arrays"].items():
        a = _map(name, tuple(shape), np.dtype(dtype))
        if key not in MAPPED:
            a = a.copy()
            a.flags.writeable = False
        arrays[key] = a
    return SharedData(name=handle["name"], n_classes=handle["n_classes"], **arrays)


#: Blocks a worker maps through :class:`SharedMemory` itself (no file to map read-only).
_KEEP: list[shared_memory.SharedMemory] = []


def _map(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """One shared array in this process, read-only: nothing in a worker may change the data
    that every worker reads."""
    count = int(np.prod(shape))
    block = _open_block(name)
    fd = getattr(block, "_fd", -1)
    if fd < 0:  # no file to map (Windows): the block's own mapping, marked read-only
        _KEEP.append(block)
        a = np.ndarray(shape, dtype, buffer=block.buf)
        a.flags.writeable = False
        return a
    try:
        mapping = mmap.mmap(fd, max(count * dtype.itemsize, 1), prot=mmap.PROT_READ)
    finally:
        block.close()  # the new mapping holds the memory
    return np.frombuffer(mapping, dtype, count=count).reshape(shape)


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
