"""The papers behind the note, reproduced: each claim computed from a finished results folder.

Four built-in experiments (``koubai run nielsen|glorot|ioffe|he-deep``) rerun a paper's key
figure on real digits. When one finishes, :func:`evaluate` reads its results folder through
:class:`~koubai.results.ResultsFolder`, computes every claim of the paper from what was
measured (each verdict from a value, its spread over seeds and a stated band of values: see
:mod:`koubai.papers._claims`), writes ``claims.csv`` and draws the paper's figure with its
citation. :func:`at_scale` turns a paper's spec into its ``--scale paper`` version (the paper's
own sizes and step counts).

* ``nielsen``: Nielsen 2015, *Neural Networks and Deep Learning*, ch. 5;
* ``glorot``: Glorot & Bengio 2010, figs. 2, 6, 7; and the note's ReLU sparsity claim;
* ``ioffe``: Ioffe & Szegedy 2015, §4.1, fig. 1;
* ``he-deep``: He et al. 2015, §2.2, figs. 2-3 (a fully connected analogue).
"""

from __future__ import annotations

import dataclasses
import os
from types import ModuleType

from koubai.checks import check_choice, check_language
from koubai.errors import ConfigError
from koubai.papers import glorot, he, ioffe, nielsen
from koubai.papers._claims import Band, Claim, claims_table, claims_text, mean_spread
from koubai.papers._runs import RunData, Runs
from koubai.report.figures import save_figure
from koubai.results import ResultsFolder

PAPERS: dict[str, ModuleType] = {m.NAME: m for m in (nielsen, glorot, ioffe, he)}
SCALES = ("default", "paper")

__all__ = [
    "PAPERS",
    "SCALES",
    "Band",
    "Claim",
    "RunData",
    "Runs",
    "at_scale",
    "claims_table",
    "claims_text",
    "compute",
    "evaluate",
    "is_paper",
    "mean_spread",
    "report",
]


def is_paper(name: str) -> bool:
    """Whether ``name`` is one of the paper experiments."""
    return name in PAPERS


def at_scale(spec, scale: str):
    """The :class:`~koubai.experiments.spec.Spec` at ``scale``: ``"default"`` (as written,
    minutes on two cores) or ``"paper"`` (the paper's sizes and step counts: hours)."""
    check_choice(scale, "scale", SCALES)
    if scale == "default":
        return spec
    if not is_paper(spec.name):
        raise ConfigError(
            f"--scale paper applies to the paper experiments {sorted(PAPERS)}, not {spec.name!r}"
        )
    table = PAPERS[spec.name].PAPER_SCALE
    groups = tuple(
        dataclasses.replace(
            g,
            points=tuple(
                {**p, **table.get("points", {}), **table.get("groups", {}).get(g.name, {})}
                for p in g.points
            ),
        )
        for g in spec.groups
    )
    return dataclasses.replace(spec, groups=groups, seeds=table.get("seeds", spec.seeds))


def compute(folder: str | os.PathLike | ResultsFolder, name: str) -> list[Claim]:
    """The claims of paper ``name``, computed from a finished results folder."""
    folder = folder if isinstance(folder, ResultsFolder) else ResultsFolder.open(folder)
    return PAPERS[check_choice(name, "paper experiment", PAPERS)].claims(Runs(folder))


def evaluate(
    folder: ResultsFolder, name: str, *, lang: str = "en", figures: bool = True
) -> list[Claim] | None:
    """The runner's hook: for a paper experiment, write ``claims.csv`` and draw the paper's
    figures into its results folder; for any other experiment, nothing (None)."""
    if not is_paper(name):
        return None
    check_language(lang)
    runs = Runs(folder)
    paper = PAPERS[name]
    claims = paper.claims(runs)
    folder.write_claims([c.row() for c in claims])
    if figures:
        for part, fig in paper.figures(runs, lang).items():
            save_figure(fig, folder.paper_figure(part))
    return claims


def report(folder: str | os.PathLike | ResultsFolder, name: str, lang: str = "en") -> str:
    """The claims of a finished paper experiment as plain text, in English or Japanese."""
    paper = PAPERS[check_choice(name, "paper experiment", PAPERS)]
    title = f"{paper.CITATION}: " + ("主張と測定値" if lang == "ja" else "claims and measurements")
    return claims_text(compute(folder, name), check_language(lang), title, paper.SETUP)
