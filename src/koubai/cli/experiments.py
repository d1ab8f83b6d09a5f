"""Experiment commands: ``koubai run``, ``koubai train`` and ``koubai show``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from koubai.cli._app import (
    EXIT_INTERRUPTED,
    app,
    console,
    err_console,
    example,
    fail,
    language_option,
    resolve_language,
    say,
    user_errors,
)
from koubai.cli.engine import parse_sizes
from koubai.errors import ConfigError
from koubai.i18n import t
from koubai.results import DONE_STATES, ResultsFolder

OUT_HELP = "Parent folder of the results; each experiment writes <out>/<name>-<time>/."


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["lr=0.05", "hidden_sizes=[40,30]"]`` → ``{"lr": 0.05, "hidden_sizes": [40, 30]}``.

    Values are read as TOML values (numbers, booleans, lists); anything else is a string.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value.strip()
    return out


def print_summary(result, lang: str = "en") -> None:
    """The final table of a finished experiment, and where its files are."""
    title = t(
        "cli.table_title",
        lang,
        title=result.title,
        protocol=result.protocol,
        dataset=result.dataset,
    )
    table = Table(title=title)
    for key in ("cli.run", "cli.train_acc", "cli.test_acc", "cli.status", "cli.seconds"):
        justify = "left" if key == "cli.run" else "right"
        table.add_column(t(key, lang), justify=justify, overflow="fold")
    for row in result.summary():
        status = row["status"]
        style = {"diverged": "red", "interrupted": "yellow"}.get(status, "")
        shown = (
            t(f"report.{status}", lang)
            if status in ("finished", "diverged", "interrupted")
            else status
        )
        table.add_row(
            str(row["run"]),
            f"{row['final_train_acc']:.3f}",
            f"{row['final_test_acc']:.3f}",
            f"[{style}]{shown}[/]" if style else shown,
            f"{row['seconds']:.1f}",
        )
    console.print(table)
    configs = result.by_config()
    if any(row["seeds"] > 1 for row in configs):
        agg = Table(title=t("cli.by_config", lang))
        for key in ("cli.group", "cli.config", "cli.seeds", "cli.mean_std", "cli.min_max"):
            justify = "left" if key in ("cli.group", "cli.config") else "right"
            agg.add_column(t(key, lang), justify=justify, overflow="fold")
        for row in configs:
            agg.add_row(
                str(row["group"]),
                str(row["config"]),
                str(row["seeds"]),
                f"{row['test_acc_mean']:.3f} ± {row['test_acc_std']:.3f}",
                f"{row['test_acc_min']:.3f} – {row['test_acc_max']:.3f}",
            )
        console.print(agg)
    for key, value in (
        ("cli.data", result.dataset_source),
        ("cli.results", result.folder),
    ):
        say(f"{t(key, lang)}: {value}")
    report = ResultsFolder(result.folder).report_path
    if report.exists():
        say(f"{t('cli.report', lang)}: {report}")


def say_fallback(asked: str, data, lang: str) -> None:
    """One line when ``auto`` fell back from MNIST to the offline mnist-5k: why, and the fix."""
    if asked == "auto" and data.name == "mnist-5k":
        err_console.print(t("cli.fallback", lang), highlight=False, soft_wrap=True, style="dim")


def _run_and_report(spec, *, resume: Path | None = None, last: bool = True, **kwargs) -> None:
    """Run (or resume) one experiment and print its table. Ctrl-C ends the command at once;
    failed runs end it after the ``last`` experiment (earlier failures are remembered)."""
    from koubai.experiments import resume_experiment, run_experiment
    from koubai.experiments.progress import RunProgress

    lang = kwargs["lang"]
    if resume is not None:
        manifest = ResultsFolder.open(resume).read_manifest()
        with RunProgress(len(manifest.todo()) if manifest else 0, lang, console=err_console) as bar:
            result = resume_experiment(resume, on_event=bar, **kwargs)
    else:
        keys = ("protocol", "seeds", "overrides", "max_runs")
        total = len(spec.resolve(**{k: kwargs.get(k) for k in keys}))
        with RunProgress(total, lang, console=err_console) as bar:
            result = run_experiment(spec, on_event=bar, **kwargs)
    print_summary(result, lang)
    if result.status == "finished":
        print_claims(result, lang)
    if result.failures:
        _FAILED.append(result)
    _final_status(result, last, lang)


_FAILED: list = []  # experiments of this command with failed runs


def _final_status(result, last: bool = True, lang: str = "en") -> None:
    """Exit 130 after Ctrl-C/SIGTERM, 1 when a run failed (each failure on its own line)."""
    done = sum(res.status in DONE_STATES for _, res in result.runs)
    kept = f"{done} of {result.planned} runs"
    for run, error in result.failures:
        say(f"failed: {run.name}: {error}", err=True)
    if result.status == "interrupted":
        # Counted as the manifest counts (what `koubai report` and `koubai runs` show): runs
        # stopped part-way are kept, but not done.
        message = t(
            "cli.interrupted", lang, done=done, planned=result.planned, folder=result.folder
        )
        partial = len(result.runs) - done
        if partial:
            message += t("cli.interrupted_partial", lang, n=partial)
        fail(message, t("cli.resume_hint", lang, folder=result.folder), code=EXIT_INTERRUPTED)
    if last and _FAILED:
        failed = _FAILED[:]
        _FAILED.clear()
        n, planned = sum(len(r.failures) for r in failed), sum(r.planned for r in failed)
        folders = " ".join(str(r.folder) for r in failed)
        fail(
            f"{n} of {planned} runs failed; {kept} finished in {result.folder}"
            if failed == [result]
            else f"{n} of {planned} runs failed in {folders}",
            f"fix the cause and run koubai run --resume {failed[0].folder}",
        )


def print_claims(result, lang: str) -> None:
    """A paper experiment's claims beside our measurements, with each verdict and its reason."""
    from koubai import papers

    if papers.is_paper(result.name):
        text = papers.report(result.folder, result.name, lang)
        say(text)
        say(f"claims:  {ResultsFolder(result.folder).claims_path}")


@app.command(
    epilog=example(
        "koubai run vanishing batchnorm -d mnist-5k --lang ja", "koubai run mine.toml --seeds 3"
    )
)
@user_errors
def run(
    names: list[str] | None = typer.Argument(
        None,
        metavar="NAME|FILE...",
        help="Built-in experiments (vanishing, batchnorm, nielsen, glorot, ioffe, he-deep) "
        "or spec files.",
    ),
    dataset: str = typer.Option(
        "auto", "--dataset", "-d", help="mnist, fashion-mnist, mnist-5k, digits, auto or a .npz."
    ),
    seeds: int | None = typer.Option(
        None,
        help="Runs per configuration (seeds 0..N-1).",
        show_default="the spec's, else 1 (course) or 3 (careful)",
    ),
    protocol: str | None = typer.Option(
        None,
        metavar="course|careful",
        help="course (faithful to the notebooks) or careful (their flaws fixed).",
        show_default="the spec's, else course",
    ),
    out: Path = typer.Option(Path("koubai-results"), "--out", "-o", metavar="DIR", help=OUT_HELP),
    workers: int | None = typer.Option(
        None, help="Parallel processes.", show_default="one per core"
    ),
    set_: list[str] | None = typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Override a field on every run (repeatable), e.g. --set iterations=200.",
    ),
    lang: str | None = language_option(),
    figures: bool = typer.Option(
        True, "--figures/--no-figures", help="Draw the figures (koubai report draws them later)."
    ),
    max_runs: int | None = typer.Option(
        None, help="Refuse an experiment of more runs. Default: 10,000 (KOUBAI_MAX_RUNS)."
    ),
    resume: Path | None = typer.Option(
        None, "--resume", help="Finish an interrupted or failed experiment's FOLDER."
    ),
    executor: str = typer.Option("local", help="local (this machine) or dask."),
    dask_scheduler: str | None = typer.Option(
        None, help="Dask scheduler address tcp://HOST:PORT. Default: a LocalCluster."
    ),
    scale: str = typer.Option(
        "default",
        help="Paper experiments: default (minutes on two cores) or paper (the paper's own "
        "sizes and step counts: hours).",
    ),
) -> None:
    """Run experiments and write their results folders (metrics, figures, summary; for the
    paper experiments, the paper's claims beside our measurements)."""
    from koubai.datasets import load
    from koubai.experiments import load_spec
    from koubai.experiments.executors import loading_for_pool
    from koubai.experiments.runner import check_executor
    from koubai.papers import at_scale

    cluster = {"executor": executor, "scheduler": dask_scheduler}
    lang = resolve_language(lang)
    check_executor(executor, dask_scheduler, workers)  # before any data are loaded
    if resume is not None:
        _resume(names, resume, dataset, seeds, protocol, set_, workers, lang, figures, cluster)
        return
    if not names:
        raise ConfigError("name an experiment or a spec file, or give --resume FOLDER")
    # every name checked before any work
    specs = [at_scale(load_spec(name), scale) for name in names]
    overrides = parse_overrides(set_)
    n_runs = [
        len(spec.resolve(protocol=protocol, seeds=seeds, overrides=overrides, max_runs=max_runs))
        for spec in specs
    ]
    with loading_for_pool(executor, max(n_runs), workers, dask_scheduler):
        data = load(dataset)
    say_fallback(dataset, data, lang)
    _FAILED.clear()
    for k, spec in enumerate(specs):
        _run_and_report(
            spec,
            last=k == len(specs) - 1,
            dataset=data,
            protocol=protocol,
            seeds=seeds,
            overrides=overrides,
            out_dir=out,
            workers=workers,
            lang=lang,
            figures=figures,
            max_runs=max_runs,
            **cluster,
        )


def _resume(names, folder, dataset, seeds, protocol, set_, workers, lang, figures, cluster):
    """``koubai run --resume FOLDER``: the folder's own spec and runs; no other choice."""
    if names or seeds is not None or protocol is not None or set_:
        raise ConfigError(
            "--resume takes the runs from the folder: give no names, --seeds, --protocol or --set"
        )
    data = None if dataset == "auto" else dataset
    _run_and_report(
        None,
        resume=folder,
        dataset=data,
        workers=workers,
        lang=lang,
        figures=figures,
        **cluster,
    )


@app.command(
    epilog=example(
        "koubai train --activation relu --init he --hidden 100,100,100 --iterations 1000"
    )
)
@user_errors
def train(
    hidden: str = typer.Option("40,20", metavar="SIZES", help="Hidden sizes, comma separated."),
    activation: str = typer.Option("sigmoid", help="sigmoid, tanh, relu or leaky_relu."),
    init: str = typer.Option("xavier", help="gauss, xavier, he, glorot_normal, ..."),
    init_std: float = typer.Option(0.01, help="Std of the gauss initializer."),
    batchnorm: bool = typer.Option(False, "--batchnorm/--no-batchnorm", help="Batch norm."),
    bn_convention: str = typer.Option("course", help="course, torch or keras."),
    optimizer: str = typer.Option("sgd", help="sgd, momentum, nesterov, adagrad, rmsprop, adam."),
    lr: float = typer.Option(0.1, help="Learning rate."),
    batch_size: int = typer.Option(100, help="Mini-batch size."),
    iterations: int = typer.Option(
        2000, "--iterations", help="Iterations (parameter updates), the spec key iterations."
    ),
    iters: int | None = typer.Option(
        None, "--iters", hidden=True, help="Old name of --iterations."
    ),
    eval_every: int = typer.Option(10, help="Evaluate every N iterations."),
    dropout: float = typer.Option(0.0, help="Dropout probability after each hidden layer."),
    weight_decay: float = typer.Option(0.0, help="L2 coefficient on the weights."),
    dtype: str = typer.Option("float32", help="float32 or float64."),
    seed: int = typer.Option(0, help="Random seed."),
    protocol: str = typer.Option("course", help="course (faithful) or careful (fixed)."),
    dataset: str = typer.Option("auto", "--dataset", "-d", help="Dataset name or .npz path."),
    out: Path = typer.Option(Path("koubai-results"), "--out", "-o", metavar="DIR", help=OUT_HELP),
    name: str = typer.Option("train", help="Name of the results folder."),
    lang: str | None = language_option(),
    diagnostics: bool = typer.Option(
        True, "--diagnostics/--no-diagnostics", help="Record per-layer diagnostics."
    ),
    diagnostics_every: int = typer.Option(10, help="Diagnostics interval in iterations."),
) -> None:
    """Train one network from flags and write its results folder."""
    from koubai.datasets import load
    from koubai.experiments.spec import Group, Spec
    from koubai.training import TrainConfig

    config = TrainConfig(
        hidden_sizes=tuple(parse_sizes(hidden)),
        activation=activation,
        init=init,
        init_std=init_std,
        batchnorm=batchnorm,
        bn_convention=bn_convention,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        iterations=iters if iters is not None else iterations,
        eval_every=eval_every,
        dropout=dropout,
        weight_decay=weight_decay,
        dtype=dtype,
        seed=seed,
        diagnostics_every=diagnostics_every if diagnostics else 0,
    )
    base = config.to_dict()
    for key in ("train_accuracy", "sampling", "bn_affine_trainable", "name"):
        base.pop(key)  # left to the protocol
    spec = Spec(
        name=name,
        title=f"koubai train: {config.label}",
        description="",
        base=base,
        groups=(Group("run", config.label, ({},)),),
        source="command line",
    )
    spec.resolve(protocol=protocol, seeds=1)
    lang = resolve_language(lang)
    data = load(dataset)
    say_fallback(dataset, data, lang)
    _run_and_report(spec, dataset=data, protocol=protocol, seeds=1, out_dir=out, lang=lang)


@app.command(epilog=example("koubai show vanishing > mine.toml"))
@user_errors
def show(
    name: str | None = typer.Argument(None, help="A built-in experiment; omit to list them."),
    lang: str | None = language_option("Language of the list's titles"),
) -> None:
    """Print a built-in experiment's spec (TOML), ready to copy and edit."""
    from koubai.experiments import builtin_names, builtin_text, load_spec

    if name is None:
        lang = resolve_language(lang)
        table = Table(title=t("cli.builtins", lang))
        table.add_column(t("cli.builtins.name", lang))
        table.add_column(t("cli.builtins.runs", lang), justify="right")
        table.add_column(t("cli.builtins.title", lang))
        for n in builtin_names():
            spec = load_spec(n)
            table.add_row(n, str(len(spec.resolve())), spec.title_in(lang))
        console.print(table)
        return
    typer.echo(builtin_text(name), nl=False)


@app.command(epilog=example("koubai report koubai-results/vanishing-20261128-132703 --lang ja"))
@user_errors
def report(
    folder: Path = typer.Argument(..., metavar="FOLDER", help="An experiment's results folder."),
    lang: str | None = language_option("Language of the report and of the figures it draws"),
    redraw: bool = typer.Option(
        False, "--redraw", help="Draw every figure again, not only the missing ones."
    ),
    workers: int | None = typer.Option(
        None, help="Processes drawing figures.", show_default="one per core"
    ),
) -> None:
    """Draw a results folder's missing figures (from metrics.csv and diagnostics.npz) and
    (re)write its report.html."""
    from rich.progress import Progress as Bar

    from koubai.report.draw import draw_figures
    from koubai.report.html import write_report

    lang = resolve_language(lang)
    results = ResultsFolder.open(folder)
    with Bar(console=err_console, transient=True) as bar:
        task = bar.add_task(t("cli.figures", lang), total=None)
        draw_figures(
            results,
            lang=lang,
            workers=workers,
            missing_only=not redraw,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    path = write_report(results.path, lang=lang)
    say(f"{t('cli.report', lang)}: {path}")
    incomplete = results.completeness()
    if incomplete:
        say(f"incomplete: {incomplete}")
