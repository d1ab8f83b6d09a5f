"""Runs on a Dask cluster (``executor="dask"``; ``pip install "koubai[dask]"``).

Without a scheduler address a ``LocalCluster`` is started (one single-threaded worker process
per requested worker); with one (``tcp://host:8786``), the runs go to that cluster. Nothing is
pickled per run: on a real cluster the data are scattered to every worker once
(``broadcast=True``) and each task gets that one future; a LocalCluster's workers map the data
from shared memory, as the local pool's do (:mod:`koubai.experiments.pool`: one copy for all the
workers, and nothing to send). Each run trains with one BLAS thread and measures inline, exactly
as in the local pool, so both give the same numbers. Workers write each run's files into the
results folder, so on a real cluster ``--out`` must be a folder every worker sees at the same
path (a shared file system). Progress comes from the futures; Ctrl-C sets a Dask ``Event`` that
the runs under way read at their next evaluation, and they end as ``interrupted``.

The ``LocalCluster``'s workers come from the fork server of :mod:`koubai.experiments.pool`,
started before the data are loaded (:func:`prepare`) with Dask and the training code imported:
a worker process then starts in milliseconds, where a spawned one imports all of that again
(0.7-0.9 s on two cores, 3 s under load, and 0.2-1.5 s to stop).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from koubai.errors import ConfigError
from koubai.experiments.executors import Failed, Recorder, deferred_interrupts, execute_run
from koubai.experiments.spec import RunSpec
from koubai.training.evaluation import EvalRecord
from koubai.training.loop import RunResult

INSTALL = 'the Dask executor needs Dask: pip install "koubai[dask]"'
#: glibc's allocator settings for the workers. Dask starts its workers with
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off glibc's adaptive mmap threshold: every
#: array over 128 kB (each mini-batch, each evaluation product) is then mapped and unmapped
#: afresh, and a run trained 2-5x slower than in the local pool. These restore glibc's adaptive
#: limits (32 MiB mmap threshold, trim at twice that). Workers forked from koubai's fork server
#: (the LocalCluster's, see :func:`prepare`) keep the fork server's allocator, which glibc set up
#: before any of this: its defaults; these matter where workers are spawned.
MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": "67108864", "MALLOC_MMAP_THRESHOLD_": "33554432"}
#: Dask settings for the LocalCluster started for one experiment, whose every core trains. Its
#: defaults wake each process many times a second for a dashboard that is off here (a
#: statistical profiler every 10 ms, an event-loop watchdog every 20 ms, system and memory
#: monitors every 0.5 s and 0.1 s): idle, that cost 3 % of a core per worker and 4.5 % in this
#: process (scheduler and nannies), against 0.4 % and 1 % with these. A worker holds only the
#: run it trains (``worker-saturation`` 1.0, not 1.1): the next run goes to the first worker
#: free, as in the local pool, rather than queue behind a long one. The memory monitor still
#: checks the workers' memory every second.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.worker-saturation": 1.0,
}
#: How often (seconds) a run under way asks whether the experiment was stopped.
STOP_POLL = 0.5


#: What the fork server imports for a LocalCluster's workers, besides the local pool's modules.
PRELOAD = ["distributed", "koubai.experiments.cluster"]


def require_dask() -> None:
    """A :class:`ConfigError` saying what to install when ``distributed`` is missing (it is
    looked up, not imported: :func:`prepare` imports it)."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise ConfigError(INSTALL)


def prepare(scheduler: str | None) -> None:
    """Before the data are loaded: without a scheduler, start the fork server the
    LocalCluster's workers will come from (its imports run on another core meanwhile); then
    import Dask here."""
    require_dask()
    if scheduler is None:
        from koubai.experiments import pool

        pool.start(PRELOAD)
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{INSTALL} ({exc})") from None


def _payload(data: Any) -> dict[str, Any]:
    """The data to scatter, with a token that names this experiment's copy on the workers."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    return {
        "token": uuid.uuid4().hex,
        "name": getattr(data, "name", ""),
        "n_classes": getattr(data, "n_classes", None),
        **{k: getattr(data, k) for k in keys},
    }


@dataclass(frozen=True)
class _Mapped:
    """A LocalCluster's data: the handle of the shared-memory blocks its workers map
    (:class:`koubai.experiments.pool.SharedArrays`), a few hundred bytes per task."""

    handle: dict


_DATA: dict[Any, Any] = {}  # on a worker: the data of the experiment under way, made once


def _data(payload: dict | _Mapped):
    """The data as :func:`koubai.training.train` wants it, made once per worker: mapped from
    shared memory (a LocalCluster), or from the scattered arrays, which Dask may hand over in
    unaligned buffers, where NumPy's row gathers (every mini-batch) run some 50x slower: those
    are copied once into aligned ones."""
    import numpy as np

    from koubai.experiments import pool

    # A key that no later experiment can share (an object's id could be reused once freed).
    if isinstance(payload, _Mapped):
        key: Any = tuple(name for name, _, _ in payload.handle["arrays"].values())
    else:
        key = payload["token"]
    if key not in _DATA:
        _DATA.clear()
        if isinstance(payload, _Mapped):
            _DATA[key] = pool.attach(payload.handle)
        else:
            arrays = {
                k: np.require(v, requirements=["C", "A"]) if isinstance(v, np.ndarray) else v
                for k, v in payload.items()
                if k != "token"
            }
            _DATA[key] = pool.SharedData(**arrays)
    return _DATA[key]


def _dask_run(
    run: RunSpec, payload: dict | _Mapped, write, stop_name: str
) -> RunResult | Failed | None:
    """The task: train one run (executes on a Dask worker)."""
    from distributed import Event

    data = _data(payload)
    stop, last = Event(stop_name), [time.monotonic()]
    if stop.is_set():  # queued when the experiment was stopped: not started at all
        return None

    def on_eval(record: EvalRecord) -> None:
        if time.monotonic() - last[0] > STOP_POLL:
            last[0] = time.monotonic()
            if stop.is_set():
                raise KeyboardInterrupt

    outcome = execute_run(run, data, write, on_eval=on_eval, evaluation="inline")
    if isinstance(outcome, RunResult):
        outcome.net = outcome.net.copy()
    return outcome


def _client(workers: int | None, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    import dask

    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **MALLOC_ENV}
    config = {**LOCAL_CLUSTER_CONFIG, "distributed.nanny.pre-spawn-environ": environ}
    if _fork_server():
        config["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(config):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    return Client(cluster), cluster


def _fork_server() -> bool:
    """Start koubai's fork server (if :func:`prepare` did not) for the workers; False where
    there is none (the workers are then spawned, Dask's default)."""
    from koubai.experiments import pool

    if pool.start(PRELOAD).get_start_method() != "forkserver":
        return False
    import distributed.utils

    # Dask would otherwise import pandas and the like here (0.5 s) only to name them as the
    # preload of a fork server that runs already; nothing else reads this flag.
    if hasattr(distributed.utils, "_forkserver_preload_set"):
        distributed.utils._forkserver_preload_set = True
    return True


def run_dask(
    todo: list[tuple[int, RunSpec]],
    data,
    write,
    record: Recorder,
    workers: int | None,
    scheduler: str | None,
) -> bool:
    """Train ``todo`` on a Dask cluster; return True when Ctrl-C stopped it."""
    from distributed import Event

    from koubai.experiments import pool

    n_workers = None if scheduler else min(workers or os.cpu_count() or 1, len(todo))
    with contextlib.ExitStack() as cleanup:  # closed in reverse: client, cluster, then the data
        shared = None if scheduler else pool.SharedArrays(data)
        if shared is not None:
            cleanup.callback(shared.close)
        client, cluster = _client(n_workers, scheduler)
        if cluster is not None:
            cleanup.callback(cluster.close)
        cleanup.callback(client.close)
        if shared is not None:
            payload: Any = _Mapped(shared.handle)
        else:
            (payload,) = client.scatter([_payload(data)], broadcast=True, hash=False)
        stop_name = f"koubai-stop-{uuid.uuid4().hex}"
        stop = Event(stop_name, client=client)
        futures = {
            client.submit(_dask_run, run, payload, write, stop_name, pure=False): index
            for index, run in todo
        }
        return _collect(futures, record, stop)


def _collect(futures: dict, record: Recorder, stop) -> bool:
    """Record each outcome as its future completes. After Ctrl-C the runs under way stop at
    their next evaluation and queued ones do not start; a second Ctrl-C stops waiting."""
    from distributed import as_completed

    interrupted, pending = False, set(futures)
    while pending:
        try:
            for fut in as_completed(list(pending)):
                pending.discard(fut)
                outcome = _outcome(fut)
                if outcome is None:  # queued when the experiment was stopped
                    continue
                with deferred_interrupts():
                    record.finished(futures[fut], outcome)
                interrupted |= isinstance(outcome, RunResult) and outcome.status == "interrupted"
        except KeyboardInterrupt:
            if interrupted and stop.is_set():
                for fut in pending:
                    fut.cancel()
                return True
            interrupted = True
            stop.set()
    return interrupted


def _outcome(fut) -> RunResult | Failed | None:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a dead worker, a lost connection: the run failed
        return Failed.of(exc)
