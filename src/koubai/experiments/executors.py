"""Where an experiment's runs execute: one after another in this process, or in a local pool of
worker processes (:mod:`koubai.experiments.pool`); :mod:`koubai.experiments.cluster` adds Dask.

Every executor does the same for each run: train it with one BLAS thread (so a run gives the
same numbers wherever it runs), write its files, and hand the outcome to the recorder — a
:class:`~koubai.training.RunResult`, or a :class:`Failed` with the one-line error of a run that
raised. A failing run never stops the others. An executor returns True when Ctrl-C (or SIGTERM,
which the runner turns into Ctrl-C) stopped it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from koubai.experiments import pool as pools
from koubai.experiments.spec import RunSpec
from koubai.results import ResultsFolder
from koubai.training.loop import EvalRecord, RunResult, train

#: How often a worker that died (OOM killer, a crash) lets the runs it had not started be
#: tried in a fresh pool.
POOL_RESTARTS = 2


@dataclass(frozen=True)
class Failed:
    """A run that raised: its error as one line (``"ConfigError: lr must be > 0"``)."""

    error: str

    @classmethod
    def of(cls, exc: BaseException) -> Failed:
        text = " ".join(str(exc).split())
        return cls(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


class Recorder(Protocol):
    """What executors report to (the runner's recorder)."""

    def started(self, index: int) -> None: ...

    def finished(self, index: int, outcome: RunResult | Failed) -> None: ...

    def eval(self, index: int, record: EvalRecord) -> None: ...


def execute_run(
    run: RunSpec,
    data: Any,
    write: Callable[[RunSpec, RunResult], None],
    *,
    on_eval: Callable[[EvalRecord], None] | None = None,
    evaluation: str = "inline",
) -> RunResult | Failed:
    """Train one run with one BLAS thread and write its files; an exception becomes
    :class:`Failed` (Ctrl-C still ends the run as ``interrupted``, see :func:`train`)."""
    return write_outcome(run, train_run(run, data, on_eval, evaluation), write)


def train_run(run: RunSpec, data, on_eval=None, evaluation: str = "inline") -> RunResult | Failed:
    """Train one run with one BLAS thread; an exception becomes :class:`Failed`."""
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(1, user_api="blas"):
            return train(run.config, data, on_eval=on_eval, evaluation=evaluation)
    except Exception as exc:  # noqa: BLE001 - any error of one run is that run's failure
        return Failed.of(exc)


def write_outcome(run: RunSpec, outcome: RunResult | Failed, write) -> RunResult | Failed:
    """Write a trained run's files; an error while writing (a full disk) fails the run."""
    if isinstance(outcome, Failed):
        return outcome
    try:
        write(run, outcome)
    except Exception as exc:  # noqa: BLE001
        return Failed.of(exc)
    return outcome


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a finished run is written and recorded, then raise
    ``KeyboardInterrupt`` if one came: a run is never half-recorded. (Main thread only;
    elsewhere a no-op.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    old = {
        sig: signal.signal(sig, lambda signum, frame: came.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if came:
        raise KeyboardInterrupt


# -- one after another, in this process ----------------------------------------------------------


def run_serial(todo: list[tuple[int, RunSpec]], data, write, record: Recorder) -> bool:
    """Train the runs here, in order (evaluation on a helper thread where cores allow)."""
    for index, run in todo:
        record.started(index)

        def on_eval(r: EvalRecord, index: int = index) -> None:
            record.eval(index, r)

        outcome = train_run(run, data, on_eval, evaluation="auto")
        with deferred_interrupts():  # a trained run is written and recorded whole
            outcome = write_outcome(run, outcome, write)
            record.finished(index, outcome)
        if _interrupted(outcome):
            return True
    return False


def _interrupted(outcome) -> bool:
    return isinstance(outcome, RunResult) and outcome.status == "interrupted"


# -- a local pool of worker processes ------------------------------------------------------------

_W: dict[str, Any] = {}


def _worker_init(handle: dict, write, events, stop, experiment_pid: int) -> None:
    pools.die_with_parent()
    pools.watch_experiment(experiment_pid)
    # The parent stops us through `stop`; a signal sent to the whole process group (Ctrl-C in
    # a terminal, `kill -TERM -PGID`) is the parent's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _W.update(data=pools.attach(handle), write=write, events=events, stop=stop)


def _worker_run(index: int, run: RunSpec) -> RunResult | Failed | None:
    events, stop = _W["events"], _W["stop"]
    if stop.is_set():  # queued before Ctrl-C (the pool queues ahead): not started at all
        return None
    events.put(("start", index, None))

    def on_eval(record: EvalRecord) -> None:
        events.put(("eval", index, record))
        if stop.is_set():
            raise KeyboardInterrupt

    # Every core has a worker: evaluating on background threads would only take turns with them.
    outcome = execute_run(run, _W["data"], _W["write"], on_eval=on_eval, evaluation="inline")
    if isinstance(outcome, RunResult):
        outcome.net = outcome.net.copy()  # travels back without gradients or caches
    return outcome


class _Pool:
    """One pool's worth of runs: submit, collect outcomes, stop on Ctrl-C."""

    def __init__(self, shared, write, n_workers: int, record: Recorder) -> None:
        ctx = pools.start()
        self.events, self.stop = ctx.Queue(), ctx.Event()
        self.record, self.started, self.idle = record, set(), False
        self.executor = ProcessPoolExecutor(
            n_workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(shared.handle, write, self.events, self.stop, os.getpid()),
        )

    def drain(self) -> None:
        while True:
            try:
                kind, index, payload = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                self.started.add(index)
                self.record.started(index)
            else:
                self.record.eval(index, payload)

    def run(self, todo: list[tuple[int, RunSpec]]) -> tuple[bool, list[tuple[int, RunSpec]]]:
        """Run ``todo``; return (interrupted, the runs a dead worker kept from starting)."""
        runs = dict(todo)
        pending = {self.executor.submit(_worker_run, i, r): i for i, r in todo}
        interrupted, retry = False, []
        while pending:
            try:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                self.drain()
                for fut in done:
                    index = pending.pop(fut)
                    outcome = self._outcome(fut, index)
                    if outcome is None:
                        if index not in self.started and not interrupted:
                            retry.append((index, runs[index]))
                        continue
                    with deferred_interrupts():
                        self.record.finished(index, outcome)
                    interrupted |= _interrupted(outcome)
            except KeyboardInterrupt:
                interrupted = True
                self.stop.set()
                for fut in list(pending):
                    if fut.cancel():
                        pending.pop(fut)
        self.drain()
        self.idle = True
        return interrupted, retry

    def _outcome(self, fut, index: int) -> RunResult | Failed | None:
        try:
            return fut.result()
        except BrokenProcessPool:
            self.drain()
            if index in self.started:
                return Failed("worker process died (killed, or out of memory)")
            return None  # never started: tried again in a fresh pool

    def close(self) -> None:
        """Stop the workers. Once every run is back they have nothing left to do, and they exit
        in the background (unmapping the data takes them ~25 ms) while the runner goes on;
        otherwise (an error in the parent) wait for them."""
        self.executor.shutdown(wait=not self.idle, cancel_futures=True)


def run_pool(todo: list[tuple[int, RunSpec]], data, write, record, n_workers: int) -> bool:
    """Train the runs in ``n_workers`` processes that map the data from shared memory."""
    shared = pools.SharedArrays(data)
    try:
        for _ in range(POOL_RESTARTS + 1):
            pool = _Pool(shared, write, min(n_workers, len(todo)), record)
            try:
                interrupted, todo = pool.run(todo)
            finally:
                pool.close()
            if interrupted or not todo:
                return interrupted
        for index, _run in todo:
            record.finished(index, Failed("worker processes kept dying; run not started"))
        return False
    finally:
        shared.close()


def default_workers(n_runs: int, workers: int | None) -> int:
    """One worker per core, at most one per run."""
    return max(1, min(workers or os.cpu_count() or 1, n_runs))


@contextlib.contextmanager
def loading_for_pool(
    executor: str, n_runs: int, workers: int | None, scheduler: str | None = None
) -> Iterator[None]:
    """Wrap the loading of the data when worker processes on this machine will train the runs
    (the local pool, or a Dask ``LocalCluster``): the fork server they come from starts now (it
    imports the training code on the other core meanwhile: ~0.2 s off the pool's start; for
    Dask, :func:`koubai.experiments.cluster.prepare`), and datasets loaded in the block are
    prepared straight into shared memory, where the workers map them (nothing left to copy).
    Elsewhere, nothing changes."""
    if executor == "dask":
        from koubai.experiments.cluster import prepare

        prepare(scheduler)
        local = scheduler is None
    else:
        local = executor == "local" and default_workers(n_runs, workers) > 1
        if local:
            pools.start()
    if not local:
        yield
        return
    with pools.data_in_shared_memory():
        yield


# -- what a worker writes (kept here, light to import: no figures in the workers) -------------


@dataclass(frozen=True)
class _Job:
    """Where and how a run's files are written (what a worker needs besides the data)."""

    folder: ResultsFolder
    lang: str
    figures: bool

    def __call__(self, run: RunSpec, res: RunResult) -> None:
        write_run(self, run, res)


def write_run(job: _Job, run: RunSpec, res: RunResult) -> None:
    """A run's data files: metrics, model, diagnostics (figures are drawn from them at the end,
    by :func:`koubai.report.draw.draw_figures`)."""
    job.folder.write_run(run.name, res, _diag(res))


def _diag(res: RunResult) -> dict | None:
    if res.diagnostics is None or not len(res.diagnostics):
        return None
    from koubai.training.probes import decode_meta

    return decode_meta(res.diagnostics.arrays())
