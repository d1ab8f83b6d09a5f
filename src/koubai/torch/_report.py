"""The folder that :meth:`Monitor.report` writes: ``diagnostics.npz``, ``findings.json``, the
three diagnostics figures and a self-contained ``report.html`` (figures embedded, no network)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from koubai.results import ResultsFolder, atomic_write

#: The figures of a monitored run: file stem -> (title, what it shows).
FIGURES = {
    "gradient-flow": (
        "Gradient flow",
        "‖∂L/∂W‖ of each layer over training: a line far below the others is a vanishing "
        "gradient, far above an exploding one.",
    ),
    "activations": ("Activations", "Histograms of each hidden layer's output over training."),
    "saturation-updates": (
        "Saturation, dead units and update ratios",
        "Share of saturated (sigmoid/tanh) or dead (ReLU) units, and ‖ΔW‖/‖W‖ per step "
        "(about 1e-3 is healthy).",
    ),
}


def draw_figures(records: dict, folder: Path, *, lang: str = "en") -> list[Path]:
    """Draw the diagnostics figures of ``records`` into ``folder`` as PNG; return their paths."""
    from koubai.report.diagnostics import (
        plot_activation_histograms,
        plot_gradient_flow,
        plot_health,
    )
    from koubai.report.figures import save_figure

    if len(records["iterations"]) == 0:
        return []
    plots = [("gradient-flow", plot_gradient_flow)]
    if records["act_hist"].shape[1] > 0:
        plots += [("activations", plot_activation_histograms), ("saturation-updates", plot_health)]
    paths: list[Path] = []
    for stem, plot in plots:
        paths += save_figure(plot(records, lang=lang), folder / stem, ("png",))
    return paths


def _findings_html(findings, lang: str) -> str:
    if not findings:
        return "<p data-testid='no-findings'>No problems found.</p>"
    rows = "".join(
        f"<tr data-testid='finding' data-kind='{f.kind}' class='{f.severity}'>"
        f"<td>{html.escape(f.severity)}</td><td>{html.escape(f.kind)}</td>"
        f"<td>{html.escape(f.layer)}</td><td>{f.iteration}</td>"
        f"<td class='msg'>{html.escape(f.message(lang))}</td></tr>"
        for f in findings
    )
    head = "<tr><th>severity</th><th>kind</th><th>layer</th><th>iteration</th><th>message</th></tr>"
    return f"<table data-testid='findings'><thead>{head}</thead><tbody>{rows}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
tr.problem td:first-child { color: #b00; font-weight: 600; }
tr.warning td:first-child { color: #a60; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; } .note { color: #555; }
"""


def write_monitor_report(monitor, folder: Path, *, lang: str = "en") -> Path:
    """Write the monitor's results folder; return the path of its ``report.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = monitor.arrays()
    atomic_write(folder / ResultsFolder.DIAGNOSTICS, lambda fh: np.savez(fh, **arrays))
    records = monitor.records()
    findings = monitor.diagnose()
    atomic_write(
        folder / ResultsFolder.FINDINGS,
        json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2),
    )
    paths = draw_figures(records, folder, lang=lang)
    parts = [
        "<h1>koubai — diagnostics of a PyTorch model</h1>",
        f"<p class='note'>{len(monitor)} records, one every {monitor.every} optimizer steps; "
        f"{monitor.step} steps seen.</p>",
        "<h2>Findings</h2>",
        _findings_html(findings, lang),
        "<h2>Layers</h2><p class='note'>"
        + ", ".join(html.escape(str(n)) for n in records["layer_names"])
        + "</p>",
    ]
    for path in paths:
        title, note = FIGURES[path.stem]
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts += [
            f"<h2>{html.escape(title)}</h2><p class='note'>{html.escape(note)}</p>",
            f"<img data-testid='figure-{path.stem}' alt='{html.escape(title)}' "
            f"src='data:image/png;base64,{data}'>",
        ]
    page = (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>koubai — diagnostics</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
    return atomic_write(folder / ResultsFolder.REPORT, page)
