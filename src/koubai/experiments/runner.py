"""Run an experiment: resolve its runs, train them (in parallel processes when cores allow),
and leave a results folder that grows as runs finish (a killed experiment keeps every finished
run)."""

from __future__ import annotations

import json
import multiprocessing as mp
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

import numpy as np

from koubai.errors import ConfigError
from koubai.experiments import results as out
from koubai.experiments.spec import RunSpec, Spec, check_protocol, load_spec
from koubai.report.diagnostics import (
    plot_activation_histograms,
    plot_gradient_flow,
    plot_gradient_profiles,
    plot_health,
    plot_nonlinearity_inputs,
)
from koubai.report.figures import Curves, labels, plot_comparison, plot_run
from koubai.report.html import write_report
from koubai.training.loop import EvalRecord, RunResult, train

Event = Callable[[str, int, Any], None]
"""``on_event(kind, run_index, payload)``: kind is "start" (payload: the RunSpec), "eval"
(an EvalRecord) or "done" (the RunResult)."""


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
        return [out.summary_row(spec.name, spec.group, res) for spec, res in self.runs]

    def by_config(self) -> list[dict[str, object]]:
        """One row per configuration: final accuracies over its seeds (mean, std, min, max)."""
        return out.aggregate(
            (spec.group, spec.config.replace(seed=0, name="").label, res) for spec, res in self.runs
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
    lang: str = "en",
    figures: bool = True,
    on_event: Event | None = None,
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
        lang: figure labels, ``"en"`` or ``"ja"``.
        figures: draw the figures (False writes only the data: faster for large sweeps).
        on_event: progress callback (see :data:`Event`).

    Returns:
        An :class:`ExperimentResult`; its ``status`` is ``"interrupted"`` after Ctrl-C.
    """
    started = time.perf_counter()
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    protocol = check_protocol(protocol or spec.protocol or "course")
    labels(lang)  # check the language before any work
    runs = spec.resolve(protocol=protocol, seeds=seeds, overrides=overrides)
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    data = _load_data(dataset)
    for run in runs:
        if run.config.sampling == "epoch" and run.config.batch_size > data.n_train:
            raise ConfigError(
                f"batch_size {run.config.batch_size} exceeds the {data.n_train} training "
                f"examples of {data.name}"
            )
    folder = _make_folder(Path(out_dir), spec.name)

    result = ExperimentResult(
        name=spec.name,
        title=spec.title,
        folder=folder,
        protocol=protocol,
        dataset=data.name,
        dataset_source=data.source,
        planned=len(runs),
    )
    meta = {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "source": spec.source,
        "protocol": protocol,
        "dataset": data.name,
        "dataset_source": data.source,
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    out.write_text(
        folder / "spec.toml",
        out.spec_toml(meta, [(r.name, r.group, r.config.to_dict()) for r in runs]),
    )

    def finished(index: int, res: RunResult) -> None:
        run = runs[index]
        result.runs.append((run, res))
        result.runs.sort(key=lambda pair: runs.index(pair[0]))
        out.write_text(folder / "summary.csv", out.summary_csv(result.summary()))
        out.write_text(folder / "summary-by-config.csv", out.aggregate_csv(result.by_config()))
        if on_event:
            on_event("done", index, res)

    n_workers = min(workers or os.cpu_count() or 1, len(runs))
    if n_workers <= 1:
        interrupted = _run_serial(runs, data, folder, lang, figures, finished, on_event)
    else:
        interrupted = _run_parallel(
            runs, data, folder, lang, figures, n_workers, finished, on_event
        )

    for group in spec.groups if figures else ():
        members = [(r, res) for r, res in result.runs if r.group == group.name]
        if len(members) > 1:
            _write_comparison(folder, group.name, members, group.title, lang)
    if figures:
        write_report(folder)
    result.status = "interrupted" if interrupted else "finished"
    result.seconds = time.perf_counter() - started
    return result


def _load_data(dataset: Any):
    if hasattr(dataset, "x_train"):
        return dataset
    from koubai.datasets import load

    return load(dataset)


def _make_folder(parent: Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for k in range(1, 1000):
            folder = parent / (f"{name}-{stamp}" if k == 1 else f"{name}-{stamp}-{k}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise ConfigError(
            f"cannot write results to {parent}: {exc.strerror or exc}; choose another --out"
        ) from None
    raise ConfigError(f"cannot find a free folder name for {name} in {parent}")


def _curves(run: RunSpec, res: RunResult, label: str | None = None) -> Curves:
    return Curves(
        label=label or run.config.label,
        iterations=res.column("iteration"),
        train_acc=res.column("train_acc"),
        test_acc=res.column("test_acc"),
        train_kind=run.config.train_accuracy,
        status=res.status,
    )


def write_run(folder: Path, run: RunSpec, res: RunResult, lang: str, figures: bool) -> None:
    """A run's files: metrics.csv, model.npz, diagnostics.npz and its figures."""
    folder.mkdir(parents=True, exist_ok=True)
    out.write_text(folder / "metrics.csv", out.metrics_csv(res))
    out.save_arrays(folder / "model.npz", res.net.state_dict())
    d = _diag(res)
    if d is not None:
        out.save_arrays(folder / "diagnostics.npz", {**d, "meta": np.array(json.dumps(d["meta"]))})
    if not figures:
        return
    if res.records:
        plot_run(_curves(run, res), folder / "accuracy", title=run.name, lang=lang)
    if d is not None:
        plot_gradient_flow(d, folder / "gradient-flow", title=run.name, lang=lang)
        plot_activation_histograms(d, folder / "activations", title=run.name, lang=lang)
        plot_health(d, folder / "saturation-updates", title=run.name, lang=lang)


def _diag(res: RunResult) -> dict | None:
    if res.diagnostics is None or not len(res.diagnostics):
        return None
    arrays = res.diagnostics.arrays()
    return {**arrays, "meta": json.loads(str(arrays["meta"]))}


def _write_comparison(folder: Path, group: str, members, title: str, lang: str) -> None:
    by_config: dict[str, list[tuple[RunSpec, RunResult]]] = {}
    for run, res in members:
        by_config.setdefault(run.config.replace(seed=0, name="").label, []).append((run, res))
    curves = [[_curves(r, res, label=key) for r, res in pairs] for key, pairs in by_config.items()]
    plot_comparison(curves, folder / f"comparison-{group}", title=title, lang=lang)
    firsts = [(key, _diag(pairs[0][1])) for key, pairs in by_config.items()]
    firsts = [(key, d) for key, d in firsts if d is not None]
    if len(firsts) > 1:
        plot_gradient_profiles(firsts, folder / f"gradient-flow-{group}", title=title, lang=lang)
        if len({d["meta"]["batchnorm"] for _, d in firsts}) > 1:  # with vs without batch norm
            plot_nonlinearity_inputs(
                firsts, folder / f"nonlinearity-inputs-{group}", title=title, lang=lang
            )


# -- serial ---------------------------------------------------------------------------------


def _run_serial(runs, data, folder: Path, lang: str, figures: bool, finished, on_event) -> bool:
    for index, run in enumerate(runs):
        if on_event:
            on_event("start", index, run)

        def on_eval(record: EvalRecord, index: int = index) -> None:
            if on_event:
                on_event("eval", index, record)

        res = train(run.config, data, on_eval=on_eval)
        write_run(folder / "runs" / run.name, run, res, lang, figures)
        finished(index, res)
        if res.status == "interrupted":
            return True
    return False


# -- parallel -------------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _worker_init(data, folder: Path, lang: str, figures: bool, events, stop, blas: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us through `stop`
    from threadpoolctl import threadpool_limits

    _W.update(
        data=data,
        folder=folder,
        lang=lang,
        figures=figures,
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
    write_run(_W["folder"] / "runs" / run.name, run, res, _W["lang"], _W["figures"])
    res.net = res.net.copy()  # travels back without gradients or caches
    return res


def _run_parallel(
    runs, data, folder: Path, lang: str, figures: bool, n_workers: int, finished, on_event
) -> bool:
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
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

    with ProcessPoolExecutor(
        n_workers,
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(data, folder, lang, figures, events, stop, blas),
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
    return interrupted
