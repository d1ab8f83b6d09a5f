"""The folder that :meth:`Monitor.report` writes: ``diagnostics.npz``, ``findings.json``, the
three diagnostics figures and a self-contained ``report.html`` (figures embedded, no network)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from koubai.i18n import t
from koubai.results import ResultsFolder, atomic_write


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


def write_monitor_report(monitor, folder: Path, *, lang: str = "en") -> Path:
    """Write the monitor's results folder; return the path of its ``report.html`` (in
    ``lang``, styled and laid out as koubai's experiment reports, phones included)."""
    from koubai.report.html import figure_html, findings_html, page_html

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
    note = t("monitor.records", lang, n=len(monitor), every=monitor.every, steps=monitor.step)
    parts = [
        f"<h1>{html.escape(t('monitor.title', lang))}</h1>",
        f"<p class='note' data-testid='records'>{html.escape(note)}</p>",
        f"<h2>{html.escape(t('report.findings', lang))}</h2>",
        findings_html(findings, lang, "findings"),
        f"<h2>{html.escape(t('monitor.layers', lang))}</h2><ol class='note' data-testid='layers'>"
        + "".join(f"<li>{html.escape(str(name))}</li>" for name in records["layer_names"])
        + "</ol>",
    ]
    for path in paths:
        parts += [
            f"<h2>{html.escape(t(f'monitor.{path.stem}', lang))}</h2>",
            figure_html(path, t(f"monitor.{path.stem}.note", lang), f"figure-{path.stem}"),
        ]
    page = page_html(lang, t("monitor.page_title", lang), "".join(parts))
    return atomic_write(folder / ResultsFolder.REPORT, page)
