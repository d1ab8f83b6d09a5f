"""Draw every figure of a results folder from its files, in parallel, with progress.

The figures are drawn from what the folder holds — ``spec.toml``, ``summary.csv``, each run's
``metrics.csv`` and ``diagnostics.npz`` — never from objects in memory. The runner calls
:func:`draw_figures` once its runs are done, and ``koubai report FOLDER`` calls it to draw the
figures of a folder written with ``--no-figures`` (or in another language): one code path.

Each figure is one job (a run's accuracy plot, a group's comparison, ...), and the jobs are
shared among worker processes started by koubai's fork server (matplotlib draws one figure per
process at a time, so processes are what makes it parallel). English figures keep the plain
names (``accuracy.png``); other languages add a suffix (``accuracy-ja.png``), see
:meth:`~koubai.results.ResultsFolder.figure_stem`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from koubai.checks import check_int, check_language
from koubai.results import ResultsFolder
from koubai.training.config import TrainConfig

Progress = Callable[[int, int], None]
"""``on_progress(done, total)``, called once before the first figure and after each one."""

#: The diagnostics figures of one run, with their plot functions' names in report.diagnostics.
RUN_DIAGNOSTICS = {
    "gradient-flow": "plot_gradient_flow",
    "activations": "plot_activation_histograms",
    "saturation-updates": "plot_health",
}


@dataclass(frozen=True)
class FigureJob:
    """One figure to draw: ``scope`` is "run" or "group", ``name`` the run's or group's name."""

    scope: str
    name: str
    kind: str


def run_configs(folder: ResultsFolder) -> dict[str, tuple[str, TrainConfig]]:
    """Every run of the folder's spec: name -> (group, its :class:`TrainConfig`).

    Folders written by earlier code lost the run names in ``spec.toml`` (a config's empty
    ``name`` hid them); when every run finished, the names are taken from ``summary.csv``, which
    lists the runs in the same order.
    """
    entries = [dict(e) for e in folder.read_spec().get("run", [])]
    if entries and all(not e.get("name") for e in entries):
        rows = folder.read_summary()
        if len(rows) == len(entries):
            return {
                row["run"]: (e["group"], _config(row["run"], {**e, "name": ""}))
                for e, row in zip(entries, rows, strict=True)
            }
    return {name: (group, _config(name, config)) for name, group, config in folder.read_runs()}


def _config(name: str, entry: dict) -> TrainConfig:
    config = {k: v for k, v in entry.items() if k not in ("group", "label")}
    return TrainConfig.from_dict(config, where=f"run {name}")


def config_key(config: TrainConfig) -> str:
    """The label of a run's configuration without its seed: runs with the same key are seeds
    of one configuration."""
    return config.replace(seed=0, name="").label


def figure_jobs(folder: ResultsFolder) -> list[FigureJob]:
    """Every figure the folder's data allow, run figures first, in spec order."""
    configs = run_configs(folder)
    finished = [row["run"] for row in folder.read_summary() if row["run"] in configs]
    jobs = []
    for run in finished:
        jobs.append(FigureJob("run", run, "accuracy"))
        if folder.has_diagnostics(run):
            jobs += [FigureJob("run", run, kind) for kind in RUN_DIAGNOSTICS]
    for group in folder.groups():
        members = [run for run in finished if configs[run][0] == group]
        if len(members) < 2:
            continue
        jobs.append(FigureJob("group", group, "comparison"))
        firsts = _first_of_each_config(members, configs, folder)
        if len(firsts) > 1:
            jobs.append(FigureJob("group", group, "gradient-flow"))
            if len({configs[run][1].batchnorm for _, run in firsts}) > 1:
                jobs.append(FigureJob("group", group, "nonlinearity-inputs"))
    return jobs


def _first_of_each_config(members, configs, folder: ResultsFolder) -> list[tuple[str, str]]:
    """(config key, first run) of each configuration among ``members`` that has diagnostics."""
    seen: dict[str, str] = {}
    for run in members:
        seen.setdefault(config_key(configs[run][1]), run)
    return [(key, run) for key, run in seen.items() if folder.has_diagnostics(run)]


def stem_of(folder: ResultsFolder, job: FigureJob, lang: str) -> Path:
    """Where ``job``'s figure goes (no suffix)."""
    if job.scope == "run":
        return folder.run_figure(job.name, job.kind, lang)
    return folder.group_figure(job.kind, job.name, lang)


def draw_figures(
    folder: str | os.PathLike | ResultsFolder,
    *,
    lang: str = "en",
    workers: int | None = None,
    missing_only: bool = False,
    on_progress: Progress | None = None,
) -> list[Path]:
    """Draw the figures of a results folder; return the PNG paths written.

    Args:
        folder: the results folder (a path or a :class:`ResultsFolder`).
        lang: the labels' language, "en" or "ja". Default: "en".
        workers: processes drawing at once. Default: one per core, at most one per figure
            (1 draws in this process).
        missing_only: draw only the figures that have no PNG in ``lang`` yet. Default: False.
        on_progress: called with (figures done, figures to draw).
    """
    folder = folder if isinstance(folder, ResultsFolder) else ResultsFolder.open(folder)
    check_language(lang)
    jobs = figure_jobs(folder)
    if missing_only:
        jobs = [j for j in jobs if folder.figure(stem_of(folder, j, lang)) is None]
    n = min(check_int(workers, "workers", minimum=1) if workers else os.cpu_count() or 1, len(jobs))
    if on_progress:
        on_progress(0, len(jobs))
    if n <= 1:
        written = []
        for k, job in enumerate(jobs, 1):
            written.append(draw_one(str(folder.path), job, lang))
            if on_progress:
                on_progress(k, len(jobs))
        return written
    from koubai.experiments.pool import start

    written = []
    with ProcessPoolExecutor(n, mp_context=start()) as pool:
        futures = [pool.submit(draw_one, str(folder.path), job, lang) for job in jobs]
        for k, fut in enumerate(as_completed(futures), 1):
            written.append(fut.result())
            if on_progress:
                on_progress(k, len(jobs))
    return written


def draw_one(path: str, job: FigureJob, lang: str) -> Path:
    """Draw and save one figure (PNG; SVG too for the accuracy and group figures)."""
    from koubai.report.figures import save_figure

    folder = ResultsFolder(path)
    stem = stem_of(folder, job, lang)
    if job.scope == "run":
        fig = _run_figure(folder, job, lang)
        formats = ("png", "svg") if job.kind == "accuracy" else ("png",)
    else:
        fig = _group_figure(folder, job, lang)
        formats = ("png", "svg")
    save_figure(fig, stem, formats)
    return stem.with_name(stem.name + ".png")


def curves_of(folder: ResultsFolder, run: str, config: TrainConfig, label: str | None = None):
    """A run's :class:`~koubai.report.figures.Curves`, read from its ``metrics.csv``."""
    from koubai.report.figures import Curves

    m = folder.read_metrics(run)
    status = folder.run_status(run)
    return Curves(
        label=label or config.label,
        iterations=m["iteration"],
        train_acc=m["train_acc"],
        test_acc=m["test_acc"],
        train_kind=config.train_accuracy,
        status=status,
        classes=folder.classes(),
    )


def _run_figure(folder: ResultsFolder, job: FigureJob, lang: str):
    from koubai.report import diagnostics as D
    from koubai.report.figures import plot_run

    group, config = run_configs(folder)[job.name]
    if job.kind == "accuracy":
        return plot_run(curves_of(folder, job.name, config), title=job.name, lang=lang)
    plot = getattr(D, RUN_DIAGNOSTICS[job.kind])
    return plot(folder.read_diagnostics(job.name), title=job.name, lang=lang)


def _group_figure(folder: ResultsFolder, job: FigureJob, lang: str):
    from koubai.report import diagnostics as D
    from koubai.report.figures import plot_comparison

    configs = run_configs(folder)
    finished = {row["run"] for row in folder.read_summary()}
    members = [r for r, (g, _) in configs.items() if g == job.name and r in finished]
    title = folder.group_title(job.name, lang)
    if job.kind == "comparison":
        by_config: dict[str, list] = {}
        for run in members:
            key = config_key(configs[run][1])
            by_config.setdefault(key, []).append(curves_of(folder, run, configs[run][1], key))
        return plot_comparison(list(by_config.values()), title=title, lang=lang)
    firsts = [
        (key, folder.read_diagnostics(run))
        for key, run in _first_of_each_config(members, configs, folder)
    ]
    plot = D.plot_gradient_profiles if job.kind == "gradient-flow" else D.plot_nonlinearity_inputs
    return plot(firsts, title=title, lang=lang)
