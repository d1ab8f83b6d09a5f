"""A self-contained HTML report of an experiment's results folder (figures embedded).

It reads what the runner wrote (the spec, the summaries and the PNG figures) through
:class:`~koubai.results.ResultsFolder` and writes the report beside them: one file to open or
send.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from koubai.results import AGGREGATE_COLUMNS, ResultsFolder

FIGURE_NOTES = {
    "comparison": "Test accuracy of every configuration of the group.",
    "gradient-flow": "‖∂L/∂W‖ per layer at iteration 0: a line falling toward layer 1 is the "
    "vanishing gradient.",
    "nonlinearity-inputs": "15/50/85th percentiles of the last hidden layer's input to its "
    "nonlinearity over training (Ioffe & Szegedy 2015, fig. 1).",
}


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _table(rows: list[dict[str, str]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
.diverged { color: #b00; } .note { color: #555; font-size: 0.9em; }
.incomplete { color: #8a4b00; background: #fff4e0; padding: 0.4em 0.6em; }
"""


# -- completeness (issue 12): one line from the manifest, kept apart from the page's layout ------


def completeness_html(results: ResultsFolder) -> str:
    """A warning paragraph ``6 of 12 runs (interrupted)`` for an incomplete experiment (from its
    manifest), or ``""`` when it is complete or predates manifests."""
    line = results.completeness()
    if line is None:
        return ""
    resume = f"koubai run --resume {results.path}"
    return (
        f"<p class='incomplete' data-testid='completeness'><b>Incomplete: "
        f"{html.escape(line)}.</b> Finish it with <code>{html.escape(resume)}</code>.</p>"
    )


def write_report(folder: str | os.PathLike) -> Path:
    """Write ``report.html`` into an experiment's results folder and return its path."""
    results = ResultsFolder.open(folder)
    spec = results.read_spec()
    summary = results.read_summary()
    by_config = results.read_by_config()
    parts = [
        f"<h1>{html.escape(str(spec.get('title', spec.get('name', 'experiment'))))}</h1>",
        f"<p class='meta'>{html.escape(str(spec.get('description', '')))}</p>",
        "<p class='meta'>"
        f"protocol <b>{html.escape(str(spec.get('protocol', '')))}</b> · data "
        f"<b>{html.escape(str(spec.get('dataset', '')))}</b> "
        f"({html.escape(str(spec.get('dataset_source', '')))}) · "
        f"{html.escape(str(spec.get('created', '')))}</p>",
        completeness_html(results),
        "<h2>Final accuracies</h2>",
        _table(
            summary, ["run", "final_train_acc", "final_test_acc", "status", "stopped_at", "seconds"]
        ),
    ]
    claims = results.read_claims()
    if claims:
        from koubai.results import CLAIM_COLUMNS

        parts += ["<h2 data-testid='claims'>The paper's claims, checked</h2>"]
        parts.append(_table(claims, CLAIM_COLUMNS))
        parts += [_img(path, path.stem) for path in results.paper_figures()]
    if any(row.get("seeds", "1") != "1" for row in by_config):
        parts += [
            "<h2>By configuration (over seeds)</h2>",
            _table(
                by_config, [c for c in AGGREGATE_COLUMNS if c.startswith(("g", "c", "s", "test"))]
            ),
        ]
    for group in results.groups():
        figs = [(kind, results.figure(results.group_figure(kind, group))) for kind in FIGURE_NOTES]
        figs = [(kind, path) for kind, path in figs if path is not None]
        if figs:
            parts.append(f"<h2>Group {html.escape(str(group))}</h2>")
        for kind, path in figs:
            parts.append(f"<p class='note'>{html.escape(FIGURE_NOTES[kind])}</p>")
            parts.append(_img(path, f"{kind} {group}"))
    parts.append("<h2>Runs</h2>")
    for row in summary:
        stems = [(kind, results.run_figure(row["run"], kind)) for kind in results.RUN_FIGURES]
        images = [
            _img(path, kind) for kind, stem in stems if (path := results.figure(stem)) is not None
        ]
        css = " class='diverged'" if row.get("status") == "diverged" else ""
        parts.append(
            f"<details><summary{css}>{html.escape(row['run'])} — test "
            f"{html.escape(row['final_test_acc'])} ({html.escape(row['status'])})</summary>"
            + "".join(images)
            + "</details>"
        )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>koubai — {html.escape(str(spec.get('name', '')))}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}"
        "<p class='note'>Written by koubai from the files in this folder.</p></body></html>"
    )
    return results.write_report(page)
