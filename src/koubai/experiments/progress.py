"""Progress bars of an experiment, in a terminal and in a Jupyter notebook.

:class:`RunProgress` takes the runner's events (see :data:`koubai.experiments.runner.Event`):
one bar per running run, one for all runs, then one for the figures. Rich draws it in a
terminal and, in Jupyter, as a live cell output. ``run_experiment(..., progress=True)`` uses it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from koubai.i18n import t

#: Widest run name shown in a progress line: the line fits an 80-column terminal.
NAME_WIDTH = 28


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` cut to ``width`` characters with an ellipsis (progress lines stay one line)."""
    return name if len(name) <= width else name[: width - 1] + "…"


class RunProgress:
    """Progress bars fed by the runner's events: one per running run, one overall, then one
    for the figures. Each line fits 80 columns: name, bar, count, test accuracy, time.

    Nothing is drawn before the first event, so a validation error (raised before any run
    starts) is never preceded by a bar."""

    def __init__(self, total: int, lang: str = "en", *, console: Console | None = None) -> None:
        self.lang = lang
        self.progress = Progress(
            TextColumn(f"{{task.description:<{NAME_WIDTH + 2}}}"),
            BarColumn(bar_width=14),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.total = total
        self.overall: int | None = None
        self.figures: int | None = None
        self.tasks: dict[int, int] = {}

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.overall is not None:
            self.progress.__exit__(*exc)

    def __call__(self, kind: str, index: int, payload: Any) -> None:
        if self.overall is None:  # the first event: every check has passed
            self.progress.__enter__()
            self.overall = self.progress.add_task(
                t("cli.runs", self.lang), total=self.total, info=""
            )
        if kind == "start":
            self.tasks[index] = self.progress.add_task(
                f"  {short_name(payload.name)}", total=payload.config.iterations, info=""
            )
        elif kind == "eval" and index in self.tasks:
            self.progress.update(
                self.tasks[index], completed=payload.iteration, info=f"test {payload.test_acc:.3f}"
            )
        elif kind in ("done", "failed"):
            task = self.tasks.pop(index, None)
            if task is not None:
                self.progress.remove_task(task)
            self.progress.advance(self.overall)
        elif kind == "figures":
            if self.figures is None:
                self.figures = self.progress.add_task(
                    t("cli.figures", self.lang), total=payload, info=""
                )
            self.progress.update(self.figures, completed=index, total=payload)
