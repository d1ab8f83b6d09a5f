"""A self-contained HTML report of an experiment's results folder (figures embedded).

It reads what the runner wrote — ``spec.toml``, ``summary.csv``, ``summary-by-config.csv`` and
the PNG figures — and writes ``report.html`` beside them: one file to open or send.
"""

from __future__ import annotations

import base64
import csv
import html
import os
import tomllib
from pathlib import Path

from koubai.errors import KoubaiError

FIGURE_NOTES = {
    "comparison": "Test accuracy of every configuration of the group.",
    "gradient-flow": "‖∂L/∂W‖ per layer at iteration 0: a line falling toward layer 1 is the "
    "vanishing gradient.",
    "nonlinearity-inputs": "15/50/85th percentiles of the last hidden layer's input to its "
    "nonlinearity over training (Ioffe & Szegedy 2015, fig. 1).",
}
RUN_FIGURES = ("accuracy", "gradient-flow", "activations", "saturation-updates")


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


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
.diverged { color: #b00; } .note { color: #555; font-size: 0.9em; }
"""


def write_report(folder: str | os.PathLike) -> Path:
    """Write ``report.html`` into an experiment's results folder and return its path."""
    folder = Path(folder)
    try:
        spec = tomllib.loads((folder / "spec.toml").read_text("utf-8"))
    except FileNotFoundError:
        raise KoubaiError(f"{folder} is not a koubai results folder (no spec.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise KoubaiError(f"{folder / 'spec.toml'} is not valid TOML: {exc}") from None
    summary = _read_csv(folder / "summary.csv")
    by_config = _read_csv(folder / "summary-by-config.csv")
    parts = [
        f"<h1>{html.escape(str(spec.get('title', spec.get('name', 'experiment'))))}</h1>",
        f"<p class='meta'>{html.escape(str(spec.get('description', '')))}</p>",
        "<p class='meta'>"
        f"protocol <b>{html.escape(str(spec.get('protocol', '')))}</b> · data "
        f"<b>{html.escape(str(spec.get('dataset', '')))}</b> "
        f"({html.escape(str(spec.get('dataset_source', '')))}) · "
        f"{html.escape(str(spec.get('created', '')))}</p>",
        "<h2>Final accuracies</h2>",
        _table(
            summary, ["run", "final_train_acc", "final_test_acc", "status", "stopped_at", "seconds"]
        ),
    ]
    if any(row.get("seeds", "1") != "1" for row in by_config):
        parts += [
            "<h2>By configuration (over seeds)</h2>",
            _table(
                by_config,
                [
                    "group",
                    "config",
                    "seeds",
                    "test_acc_mean",
                    "test_acc_std",
                    "test_acc_min",
                    "test_acc_max",
                ],
            ),
        ]
    groups = []
    for run in spec.get("run", []):
        if run.get("group") not in groups:
            groups.append(run.get("group"))
    for group in groups:
        figs = [(kind, folder / f"{kind}-{group}.png") for kind in FIGURE_NOTES]
        figs = [(kind, path) for kind, path in figs if path.exists()]
        if figs:
            parts.append(f"<h2>Group {html.escape(str(group))}</h2>")
        for kind, path in figs:
            parts.append(f"<p class='note'>{html.escape(FIGURE_NOTES[kind])}</p>")
            parts.append(_img(path, f"{kind} {group}"))
    parts.append("<h2>Runs</h2>")
    for row in summary:
        run_dir = folder / "runs" / row["run"]
        images = [
            _img(run_dir / f"{f}.png", f) for f in RUN_FIGURES if (run_dir / f"{f}.png").exists()
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
    path = folder / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
