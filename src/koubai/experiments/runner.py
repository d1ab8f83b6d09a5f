"""Run an experiment: resolve its runs, train them (one after another, in a local pool of
processes, or on a Dask cluster), and leave a results folder that grows as runs finish.

The folder's layout belongs to :class:`koubai.results.ResultsFolder`; where runs execute, to
:mod:`koubai.experiments.executors` (and :mod:`koubai.experiments.cluster` for Dask).

What survives what:

* a run that raises is recorded as ``failed`` with its one-line error; the others go on;
* after every finished run, ``summary.csv`` and ``manifest.json`` are rewritten (atomically),
  so they always list every finished run;
* Ctrl-C and SIGTERM stop the experiment cleanly: finished runs are kept, the folder is marked
  ``interrupted``; ``kill -9`` leaves the manifest saying ``running`` for a process that is
  gone, which readers show as interrupted; the workers die with their parent;
* :func:`resume_experiment` trains only what is missing, failed or interrupted; every run is
  seeded by its configuration, so the folder ends as an uninterrupted run would have left it.
"""

from __future__ import annotations

import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from koubai import limits, papers
from koubai.checks import check_choice, check_int
from koubai.errors import ConfigError, KoubaiError, ResultsError
from koubai.experiments import executors
from koubai.experiments.executors import Failed, _Job
from koubai.experiments.spec import RunSpec, Spec, check_protocol, load_spec
from koubai.i18n import language
from koubai.report.draw import draw_figures
from koubai.report.html import write_report
from koubai.results import (
    DONE_STATES,
    Manifest,
    ResultsFolder,
    aggregate,
    in_language,
    new_manifest,
    run_key,
    summary_row,
)
from koubai.training.config import TrainConfig
from koubai.training.data import check_data
from koubai.training.evaluation import EvalRecord
from koubai.training.loop import RunResult

Event = Callable[[str, int, Any], None]
"""``on_event(kind, run_index, payload)``: kind is "start" (payload: the RunSpec), "eval"
(an EvalRecord), "done" (the RunResult), "failed" (the one-line error) or "figures"
(run_index: figures drawn so far, payload: figures to draw)."""

EXECUTORS = ("local", "dask")


@dataclass
class ExperimentResult:
    """A finished (or interrupted) experiment and where its files are.

    ``status`` is ``"finished"`` (every run finished or diverged), ``"failed"`` (some run
    raised: see ``failures``) or ``"interrupted"``.
    """

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
    failures: list[tuple[RunSpec, str]] = field(default_factory=list)

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


@dataclass
class _Plan:
    """Everything an execution needs: the runs, what is done, where and how to run the rest."""

    runs: list[RunSpec]
    data: Any
    folder: ResultsFolder
    manifest: Manifest
    result: ExperimentResult
    lang: str = "en"
    figures: bool = True
    workers: int | None = None
    executor: str = "local"
    scheduler: str | None = None


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
    executor: str = "local",
    scheduler: str | None = None,
    max_runs: int | None = None,
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
        workers: parallel processes (Dask: LocalCluster workers). Default: one per core, ≤ runs.
        lang: the language of the figures and the report, ``"en"`` or ``"ja"``. Default:
            ``KOUBAI_LANG`` or the locale (:func:`koubai.i18n.default_language`).
        figures: draw the figures (False writes only the data: faster for large sweeps).
        on_event: progress callback (see :data:`Event`).
        executor: ``"local"`` (this machine's processes) or ``"dask"`` (needs ``koubai[dask]``).
        scheduler: with ``executor="dask"``, the address of a running scheduler
            (``"tcp://host:8786"``). Default: None, a ``LocalCluster`` is started.
        max_runs: refuse an experiment of more runs (counted before any grid is expanded).
            Default: the ``runs`` limit of :mod:`koubai.limits` (10,000).
        progress: show progress bars (in a terminal or a Jupyter notebook). Default: False.

    Returns: an :class:`ExperimentResult` (``status``: finished, failed or interrupted).
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    protocol = check_protocol(protocol or spec.protocol or "course")
    lang = language(lang)
    runs = spec.resolve(protocol=protocol, seeds=seeds, overrides=overrides, max_runs=max_runs)
    check_executor(executor, scheduler, workers)
    with executors.loading_for_pool(executor, len(runs), workers, scheduler):
        data = _load_data(dataset)
    _check_runs(runs, data)
    folder = ResultsFolder.create(out_dir, spec.name)
    configs = [(r.name, r.group, r.config.to_dict()) for r in runs]
    folder.write_spec(_meta(spec, protocol, data), configs)
    plan = _Plan(
        runs=runs,
        data=data,
        folder=folder,
        manifest=new_manifest(spec.name, data.name, protocol, configs),
        result=_result(spec.name, spec.title_in(lang), folder, protocol, data, len(runs)),
        lang=lang,
        figures=figures,
        workers=workers,
        executor=executor,
        scheduler=scheduler,
    )
    if not progress:
        return _execute(plan, on_event)
    with _progress_bars(len(runs), lang) as bars:
        return _execute(plan, _both(bars, on_event))


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


def resume_experiment(
    folder: str | Path,
    *,
    dataset: Any = None,
    workers: int | None = None,
    lang: str | None = None,
    figures: bool = True,
    on_event: Event | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> ExperimentResult:
    """Finish an interrupted (or failed) experiment in its own folder: train only the runs that
    are missing, failed or were interrupted, with the configurations in its ``spec.toml``.

    Every run is seeded by its configuration, so the finished folder holds the same results as
    an uninterrupted run (bit for bit on the same machine).

    Args:
        folder: the experiment's results folder.
        dataset: the dataset, as for :func:`run_experiment`. Default: the one the folder names;
            another one is an error (the runs' keys would change).
        workers, lang, figures, on_event, executor, scheduler: as for :func:`run_experiment`.
    """
    results = ResultsFolder.open(folder)
    doc, manifest = results.read_spec(), results.read_manifest()
    if manifest is None:
        raise ResultsError(f"{results.path} has no manifest (written before koubai 0.2)")
    if manifest.live_state() == "running":
        raise ResultsError(f"{results.path} is being run by process {manifest.pid}")
    lang = language(lang)
    check_executor(executor, scheduler, workers)
    runs = _runs_of(results)
    with executors.loading_for_pool(executor, len(manifest.todo()), workers, scheduler):
        data = _resume_data(dataset, str(doc.get("dataset", "auto")), results)
    _check_same_runs(runs, manifest, data.name, results)
    _check_runs(runs, data)
    name = str(doc.get("name", manifest.experiment))
    title = in_language(doc, "title", lang, default=name)
    result = _result(name, title, results, manifest.protocol, data, len(runs))
    rows = {row["run"]: row for row in results.read_summary()}
    done = [r for r in runs if manifest.run(r.name)["state"] in DONE_STATES]
    result.runs = [(r, _stored_run(results, r, rows, data.name)) for r in done]
    manifest.claim()
    plan = _Plan(runs, data, results, manifest, result, lang, figures, workers)
    plan.executor, plan.scheduler = executor, scheduler
    return _execute(plan, on_event)


def _execute(plan: _Plan, on_event: Event | None) -> ExperimentResult:
    """Train what is not done, record every outcome, then draw the group figures and report."""
    started = time.perf_counter()
    record = _Recorder(plan, on_event)
    todo = [(i, r) for i, r in enumerate(plan.runs) if not _is_done(plan.manifest, r.name)]
    job = _Job(plan.folder, plan.lang, plan.figures)
    interrupted = False
    record.save()
    try:
        with _sigterm_as_ctrl_c():
            if todo:
                interrupted = _dispatch(plan, todo, job, record)
    except KeyboardInterrupt:
        interrupted = True
    state = plan.manifest.finish(interrupted)
    for entry in plan.manifest.runs:  # a run that was under way when it stopped
        if entry["state"] == "running":
            entry["state"] = "interrupted"
    record.save()
    if state == "complete":  # a paper experiment's claims, from the finished folder
        papers.evaluate(plan.folder, plan.result.name, lang=plan.lang, figures=plan.figures)
    _finish_outputs(plan, on_event)
    plan.result.status = {"complete": "finished"}.get(state, state)
    plan.result.seconds = time.perf_counter() - started
    return plan.result


def _dispatch(plan: _Plan, todo, job, record) -> bool:
    if plan.executor == "dask":
        from koubai.experiments.cluster import run_dask

        return run_dask(todo, plan.data, job, record, plan.workers, plan.scheduler)
    n_workers = executors.default_workers(len(todo), plan.workers)
    if n_workers <= 1:
        return executors.run_serial(todo, plan.data, job, record)
    return executors.run_pool(todo, plan.data, job, record, n_workers)


def _finish_outputs(plan: _Plan, on_event: Event | None) -> None:
    """Every figure, drawn from the folder's files (in parallel, with progress), and the
    report; skipped quietly after a second Ctrl-C."""

    def drawn(done: int, total: int) -> None:
        if on_event:
            on_event("figures", done, total)

    try:
        if plan.figures:
            draw_figures(plan.folder, lang=plan.lang, workers=plan.workers, on_progress=drawn)
            write_report(plan.folder.path, lang=plan.lang, data=plan.data)
    except KeyboardInterrupt:
        pass


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def check_executor(executor: str, scheduler: str | None, workers: int | None) -> None:
    """The executor, its scheduler and the number of workers, checked before any work (the
    CLI calls it before it loads the data)."""
    check_choice(executor, "executor", EXECUTORS)
    if workers is not None:
        check_int(workers, "workers", minimum=1)
    if scheduler is not None and executor != "dask":
        raise ConfigError("a Dask scheduler address needs executor 'dask'")
    if executor == "dask":
        from koubai.experiments.cluster import require_dask

        require_dask()


def _result(name, title, folder: ResultsFolder, protocol, data, planned) -> ExperimentResult:
    return ExperimentResult(
        name=name,
        title=title,
        folder=folder.path,
        protocol=protocol,
        dataset=data.name,
        dataset_source=getattr(data, "source", ""),
        planned=planned,
    )


def _check_runs(runs: list[RunSpec], data) -> None:
    """Every run against the data (shapes, batch sizes, the memory it needs) before the
    folder exists: a run that cannot start never leaves a half-made folder behind."""
    n_classes = getattr(data, "n_classes", None) or 10
    seen = set()
    for run in runs:
        check_data(data, run.config)
        c = run.config
        key = (c.hidden_sizes, c.batch_size, c.dtype, c.optimizer, c.batchnorm)
        if key not in seen:
            seen.add(key)
            limits.check_config_memory(c, np.shape(data.x_train)[1], n_classes)


def _meta(spec: Spec, protocol: str, data) -> dict[str, object]:
    return {
        "name": spec.name,
        "title": spec.title,
        "title_ja": spec.title_ja,
        "description": spec.description,
        "description_ja": spec.description_ja,
        "source": spec.source,
        "protocol": protocol,
        "dataset": data.name,
        "dataset_source": getattr(data, "source", ""),
        "created": datetime.now().isoformat(timespec="seconds"),
        "groups": [{"name": g.name, "title": g.title, "title_ja": g.title_ja} for g in spec.groups],
    }


# -- resuming -----------------------------------------------------------------------------------


def _runs_of(folder: ResultsFolder) -> list[RunSpec]:
    return [
        RunSpec(group, name, TrainConfig.from_dict(config, where=f"run {name!r}"))
        for name, group, config in folder.read_runs()
    ]


def _resume_data(dataset: Any, name: str, folder: ResultsFolder):
    if dataset is not None:
        return _load_data(dataset)
    try:
        return _load_data(name)
    except KoubaiError as exc:
        raise ConfigError(
            f"cannot load dataset {name!r} that {folder.path} was run on ({exc}); "
            "give it with --dataset"
        ) from None


def _check_same_runs(runs: list[RunSpec], manifest: Manifest, dataset: str, folder) -> None:
    if dataset != manifest.dataset:
        raise ConfigError(
            f"{folder.path} was run on dataset {manifest.dataset!r}, not {dataset!r}; "
            "resume it with the same dataset"
        )
    keys = [run_key(r.config.to_dict(), dataset, manifest.protocol) for r in runs]
    if keys != [entry["key"] for entry in manifest.runs]:
        raise ResultsError(f"{folder.path}: spec.toml and manifest.json disagree on the runs")


def _is_done(manifest: Manifest, name: str) -> bool:
    return manifest.run(name)["state"] in (*DONE_STATES, "removed")


def _stored_run(folder: ResultsFolder, run: RunSpec, rows: dict, dataset: str) -> RunResult:
    """A finished run read back from its files (for the summaries and the group figures)."""
    import numpy as np

    from koubai.io import load_mlp

    row = rows.get(run.name)
    if row is None:
        raise ResultsError(f"{folder.path}: run {run.name!r} is done but not in summary.csv")
    m = folder.read_metrics(run.name)
    records = [
        EvalRecord(int(i), float(loss), float(tr), float(te))
        for i, loss, tr, te in zip(*(m[c] for c in m), strict=True)
    ]
    return RunResult(
        config=run.config,
        records=records,
        batch_loss=np.empty(0),
        status=row["status"],
        stopped_at=int(row["stopped_at"]),
        seconds=float(row["seconds"]),
        net=load_mlp(folder.run_dir(run.name) / folder.MODEL),
        dataset=dataset,
    )


# -- recording ----------------------------------------------------------------------------------


class _Recorder:
    """Takes each run's outcome: keeps finished runs in run order, rewrites the summaries and
    the manifest, indexes the folder in the run store, and tells ``on_event``."""

    def __init__(self, plan: _Plan, on_event: Event | None) -> None:
        self.plan, self.on_event = plan, on_event
        self.order = {r.name: i for i, r in enumerate(plan.runs)}

    def save(self) -> None:
        self.plan.folder.write_manifest(self.plan.manifest)
        _index(self.plan.folder)

    def started(self, index: int) -> None:
        run = self.plan.runs[index]
        self.plan.manifest.set_run(run.name, "running")
        self.plan.folder.write_manifest(self.plan.manifest)
        if self.on_event:
            self.on_event("start", index, run)

    def eval(self, index: int, record: EvalRecord) -> None:
        if self.on_event:
            self.on_event("eval", index, record)

    def finished(self, index: int, outcome: RunResult | Failed) -> None:
        run, result = self.plan.runs[index], self.plan.result
        if isinstance(outcome, Failed):
            result.failures.append((run, outcome.error))
            self.plan.manifest.set_run(run.name, "failed", outcome.error)
        else:
            result.runs = [(r, res) for r, res in result.runs if r.name != run.name]
            result.runs.append((run, outcome))
            result.runs.sort(key=lambda pair: self.order[pair[0].name])
            self.plan.folder.write_summary(result.summary())
            self.plan.folder.write_by_config(result.by_config())
            self.plan.manifest.set_run(run.name, outcome.status)
        self.save()
        if self.on_event:
            kind = "failed" if isinstance(outcome, Failed) else "done"
            self.on_event(kind, index, outcome.error if kind == "failed" else outcome)


def _index(folder: ResultsFolder) -> None:
    """Index the folder in the run store; a store that cannot be written is a warning only
    (the folder is the truth: ``koubai runs reindex`` rebuilds the index from it)."""
    from koubai.store import Store

    try:
        with Store.open_default() as store:
            store.index_folder(folder.path)
    except (KoubaiError, OSError) as exc:
        warnings.warn(f"run store not updated: {exc}", RuntimeWarning, stacklevel=2)


def _load_data(dataset: Any):
    if hasattr(dataset, "x_train"):
        return dataset
    from koubai.datasets import load

    return load(dataset)
