"""Run an experiment: resolve its runs, train them (in parallel processes when cores allow),
and leave a results folder that grows as runs finish (a killed experiment keeps every finished
run). The folder's layout belongs to :class:`koubai.results.ResultsFolder`; the worker processes
to :mod:`koubai.experiments.pool`."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from koubai.checks import check_int, check_language
from koubai.experiments import pool as pools
from koubai.experiments.spec import RunSpec, Spec, check_protocol, load_spec
from koubai.i18n import default_language
from koubai.report.draw import draw_figures
from koubai.report.html import write_report
from koubai.results import ResultsFolder, aggregate, check_component, summary_row
from koubai.training.data import check_data
from koubai.training.loop import EvalRecord, RunResult, train

Event = Callable[[str, int, Any], None]
"""``on_event(kind, run_index, payload)``: kind is "start" (payload: the RunSpec), "eval"
(an EvalRecord), "done" (the RunResult) or "figures" (run_index: figures drawn so far,
payload: figures to draw)."""


@dataclass
class ExperimentResult:
    """A finished (or interrupted) experiment and where its files are."""

    name: str
    title: str
    folder: Path
    protocol: str
    dataset: str
    dataset_source: str
    runs: list[tuple[RunSpec, RunResult]] = field(default_factory=list)
    planned: int = 0
    status: str = "finished"
    seconds: float = 0.0

    def summary(self) -> list[dict[str, object]]:
        """One row per finished run, as in ``summary.csv``."""
        return [summary_row(spec.name, spec.group, res) for spec, res in self.runs]

    def by_config(self) -> list[dict[str, object]]:
        """One row per configuration: final accuracies over its seeds (mean, std, min, max)."""
        return aggregate(
            (spec.group, spec.config.replace(seed=0, name="").label, res) for spec, res in self.runs
        )

    def _repr_html_(self) -> str:
        """The experiment in a notebook: its runs' final accuracies and where its report is."""
        from koubai.report.html import result_table

        report = ResultsFolder(self.folder).report_path
        link = f"<p>report: <code>{report}</code></p>" if report.exists() else ""
        return (
            result_table(self.title, self.summary(), self.protocol, self.dataset)
            + f"<p>results: <code>{self.folder}</code> ({self.status})</p>{link}"
        )


def run_experiment(
    spec: str | Path | Spec,
    *,
    dataset: Any = "auto",
    protocol: str | None = None,
    seeds: int | None = None,
    overrides: dict[str, Any] | None = None,
    out_dir: str | Path = "koubai-results",
    workers: int | None = None,
    lang: str | None = None,
    figures: bool = True,
    on_event: Event | None = None,
    progress: bool = False,
) -> ExperimentResult:
    """Run every run of an experiment and write its results folder.

    Args:
        spec: a built-in name (``"vanishing"``, ``"batchnorm"``), a spec file, or a :class:`Spec`.
        dataset: a dataset name or ``.npz`` path for :func:`koubai.datasets.load`, or a loaded
            dataset. Default: ``"auto"`` (MNIST when it can be had, else the offline mnist-5k).
        protocol: ``"course"`` or ``"careful"``. Default: the spec's, else ``"course"``.
        seeds: runs per configuration. Default: the spec's, else 1 (course) or 3 (careful).
        overrides: TrainConfig fields set on every run (e.g. ``{"iterations": 200}``).
        out_dir: the parent folder; the experiment writes ``<out_dir>/<name>-<time>/``.
        workers: parallel processes. Default: one per core, at most one per run.
        lang: the language of the figures and the report, ``"en"`` or ``"ja"``. Default:
            ``KOUBAI_LANG`` or the locale (:func:`koubai.i18n.default_language`).
        figures: draw the figures (False writes only the data: faster for large sweeps).
        on_event: progress callback (see :data:`Event`).
        progress: show progress bars (in a terminal or a Jupyter notebook). Default: False.

    Returns:
        An :class:`ExperimentResult`; its ``status`` is ``"interrupted"`` after Ctrl-C.
    """
    started = time.perf_counter()
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    protocol = check_protocol(protocol or spec.protocol or "course")
    lang = check_language(lang) if lang is not None else default_language()
    runs = spec.resolve(protocol=protocol, seeds=seeds, overrides=overrides)
    if workers is not None:
        check_int(workers, "workers", minimum=1)
    data = _load_data(dataset)
    for run in runs:  # every run checked against the data before the folder exists
        check_data(data, run.config)
        check_component(run.group, "group name")  # names a shell can type unquoted
        check_component(run.name, "run name")
    folder = ResultsFolder.create(out_dir, spec.name)
    result = ExperimentResult(
        name=spec.name,
        title=spec.title,
        folder=folder.path,
        protocol=protocol,
        dataset=data.name,
        dataset_source=data.source,
        planned=len(runs),
    )
    folder.write_spec(
        _meta(spec, protocol, data), [(r.name, r.group, r.config.to_dict()) for r in runs]
    )
    bars = _progress_bars(len(runs), lang) if progress else contextlib.nullcontext()
    with bars:
        if progress:
            on_event = _both(bars, on_event)
        record = _Recorder(folder, runs, result, on_event)
        n_workers = min(workers or os.cpu_count() or 1, len(runs))
        job = _Job(folder, lang, figures)
        if n_workers <= 1:
            interrupted = _run_serial(runs, data, job, record, on_event)
        else:
            interrupted = _run_parallel(runs, data, job, n_workers, record, on_event)
        if figures:

            def drawn(done: int, total: int) -> None:
                if on_event:
                    on_event("figures", done, total)

            draw_figures(folder, lang=lang, workers=workers, on_progress=drawn)
            write_report(folder.path, lang=lang, data=data)
    result.status = "interrupted" if interrupted else "finished"
    result.seconds = time.perf_counter() - started
    return result


def _progress_bars(total: int, lang: str):
    from rich.console import Console

    from koubai.experiments.progress import RunProgress

    return RunProgress(total, lang, console=Console())  # a live cell output in Jupyter


def _both(first: Event, second: Event | None) -> Event:
    def both(kind: str, index: int, payload: Any) -> None:
        first(kind, index, payload)
        if second is not None:
            second(kind, index, payload)

    return both


def _meta(spec: Spec, protocol: str, data) -> dict[str, object]:
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "source": spec.source,
        "protocol": protocol,
        "dataset": data.name,
        "dataset_source": data.source,
        ResultsFolder.CLASSES_KEY: int(data.n_classes or 10),
        ResultsFolder.GROUPS_KEY: [{"name": g.name, "title": g.title} for g in spec.groups],
        "created": datetime.now().isoformat(timespec="seconds"),
    }


class _Recorder:
    """Takes each finished run: keeps it in run order and rewrites the summaries."""

    def __init__(self, folder: ResultsFolder, runs, result: ExperimentResult, on_event) -> None:
        self.folder, self.runs, self.result, self.on_event = folder, runs, result, on_event

    def __call__(self, index: int, res: RunResult) -> None:
        self.result.runs.append((self.runs[index], res))
        self.result.runs.sort(key=lambda pair: self.runs.index(pair[0]))
        self.folder.write_summary(self.result.summary())
        self.folder.write_by_config(self.result.by_config())
        if self.on_event:
            self.on_event("done", index, res)


def _load_data(dataset: Any):
    if hasattr(dataset, "x_train"):
        return dataset
    from koubai.datasets import load

    return load(dataset)


@dataclass(frozen=True)
class _Job:
    """Where and how a run's files are written (what a worker needs besides the data)."""

    folder: ResultsFolder
    lang: str
    figures: bool


def write_run(job: _Job, run: RunSpec, res: RunResult) -> None:
    """A run's data files: metrics, model, diagnostics (figures are drawn from them at the end,
    by :func:`koubai.report.draw.draw_figures`)."""
    job.folder.write_run(run.name, res, _diag(res))


def _diag(res: RunResult) -> dict | None:
    if res.diagnostics is None or not len(res.diagnostics):
        return None
    from koubai.training.probes import decode_meta

    return decode_meta(res.diagnostics.arrays())


# -- serial ---------------------------------------------------------------------------------


def _run_serial(runs, data, job: _Job, finished, on_event) -> bool:
    for index, run in enumerate(runs):
        if on_event:
            on_event("start", index, run)

        def on_eval(record: EvalRecord, index: int = index) -> None:
            if on_event:
                on_event("eval", index, record)

        res = train(run.config, data, on_eval=on_eval)
        write_run(job, run, res)
        finished(index, res)
        if res.status == "interrupted":
            return True
    return False


# -- parallel -------------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _worker_init(handle: dict, job: _Job, events, stop, blas: int) -> None:
    pools.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us through `stop`
    from threadpoolctl import threadpool_limits

    _W.update(
        data=pools.attach(handle),
        job=job,
        events=events,
        stop=stop,
        limits=threadpool_limits(blas),
    )


def _worker_run(index: int, run: RunSpec) -> RunResult | None:
    events, stop = _W["events"], _W["stop"]
    if stop.is_set():  # queued before Ctrl-C (the pool queues ahead): not started at all
        return None
    events.put(("start", index, None))

    def on_eval(record: EvalRecord) -> None:
        events.put(("eval", index, record))
        if stop.is_set():
            raise KeyboardInterrupt

    # Every core has a worker: evaluating on background threads would only take turns with them.
    res = train(run.config, _W["data"], on_eval=on_eval, evaluation="inline")
    write_run(_W["job"], run, res)
    res.net = res.net.copy()  # travels back without gradients or caches
    return res


def _run_parallel(runs, data, job: _Job, n_workers: int, finished, on_event) -> bool:
    ctx = pools.context()
    events, stop = ctx.Queue(), ctx.Event()
    blas = max(1, (os.cpu_count() or 1) // n_workers)
    interrupted = False

    def drain() -> None:
        while True:
            try:
                kind, index, payload = events.get_nowait()
            except queue.Empty:
                return
            if on_event:
                on_event(kind, index, runs[index] if kind == "start" else payload)

    shared = pools.SharedArrays(data)
    try:
        with ProcessPoolExecutor(
            n_workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(shared.handle, job, events, stop, blas),
        ) as pool:
            pending = {pool.submit(_worker_run, i, r): i for i, r in enumerate(runs)}
            while pending:
                try:
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    drain()
                    for fut in done:
                        index = pending.pop(fut)
                        res = fut.result()
                        if res is None:  # never started
                            continue
                        finished(index, res)
                        if res.status == "interrupted":
                            interrupted = True
                except KeyboardInterrupt:
                    interrupted = True
                    stop.set()
                    for fut in list(pending):
                        if fut.cancel():
                            pending.pop(fut)
            drain()
    finally:
        shared.close()
    return interrupted
