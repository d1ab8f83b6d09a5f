"""The HTML report of a results folder: one page that says what the results show.

Each group opens with a "What this shows" paragraph computed from the numbers
(:mod:`koubai.report.explain`), then its interactive curves: hover for values, drag to zoom,
click a legend entry to hide a run. The curves are drawn by Plotly's JavaScript, taken from the
installed ``plotly`` package and inlined, so the page works offline and is one file to send;
inside each chart sits the static PNG, which is what a reader sees with JavaScript off. Every
text is in English or Japanese (``<html lang="ja">``) from :mod:`koubai.i18n`, and the page fits
a phone's 390 px without scrolling sideways.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path

from koubai.i18n import language, t
from koubai.report.draw import config_key, run_configs
from koubai.report.explain import collect_facts, fmt_acc, group_sentences
from koubai.results import ResultsFolder, in_language

STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, "Noto Sans CJK JP", "Hiragino Sans", sans-serif; margin: 0 auto;
  padding: 1em 1.2em; max-width: 1100px; color: #222; line-height: 1.55; }
h1 { margin: 0.2em 0; font-size: 1.7em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .note { color: #555; font-size: 0.9em; overflow-wrap: anywhere; }
.what { background: #f2f6fd; border-left: 4px solid #3465c8; padding: 0.5em 1em; margin: 1em 0; }
.what h3 { margin: 0.2em 0; font-size: 1em; } .what p { margin: 0.4em 0; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f6f6f6; }
th:first-child, td:first-child { text-align: left; overflow-wrap: anywhere; }
th.text, td.text { text-align: left; }
td { white-space: nowrap; } td:first-child { white-space: normal; } th { word-break: keep-all; }
td.text { white-space: normal; min-width: 10em; }
figure { margin: 0.8em 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.plot { width: 100%; min-height: 320px; }
details { margin: 0.6em 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 0.3em 0.8em; }
summary { cursor: pointer; font-weight: 600; overflow-wrap: anywhere; }
.diverged { color: #b00; }
.findings li { margin: 0.3em 0; overflow-wrap: anywhere; }
.findings .severity { font-weight: 600; }
.findings li.problem .severity { color: #b00; } .findings li.warning .severity { color: #a60; }
@media (max-width: 640px) {
  body { padding: 0.6em; } h1 { font-size: 1.35em; }
  th, td { padding: 0.2em 0.3em; } .wide { display: none; } .what { padding: 0.4em 0.6em; }
  .plot { min-height: 280px; }
}
"""

#: Draws every chart whose JSON is in the page, if Plotly's script loaded; else the PNGs stay.
SCRIPT = """
document.querySelectorAll('[data-plot]').forEach(function (el) {
  if (!window.Plotly) return;
  var spec = JSON.parse(document.getElementById(el.dataset.plot).textContent);
  el.textContent = '';
  Plotly.newPlot(el, spec.data, spec.layout,
                 {responsive: true, displaylogo: false, modeBarButtonsToRemove: ['lasso2d']});
});
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'


def figure_html(path: Path | None, caption: str, testid: str) -> str:
    """A PNG embedded in the page (no file beside it needed), with its caption."""
    if path is None:
        return ""
    return (
        f"<figure data-testid='{_esc(testid)}'>{_img(path, caption)}"
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _table(columns: list[tuple[str, str]], rows: list[list[str]], testid: str) -> str:
    """``columns``: (heading, css class); a class "wide" hides the column on a phone."""
    head = "".join(f"<th class='{c}'>{_esc(h)}</th>" for h, c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='{c}'>{_esc(v)}</td>" for (_, c), v in zip(columns, row, strict=True))
        + "</tr>"
        for row in rows
    )
    return (
        f"<div class='table-wrap'><table data-testid='{testid}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def result_table(title: str, rows: list[dict], protocol: str = "", dataset: str = "") -> str:
    """A small HTML table of runs (``summary.csv``-like rows) for a notebook's output."""
    head = "".join(f"<th>{h}</th>" for h in ("run", "train acc", "test acc", "status"))
    body = "".join(
        f"<tr><td style='text-align:left'>{_esc(r['run'])}</td>"
        f"<td>{fmt_acc(float(r['final_train_acc']))}</td>"
        f"<td>{fmt_acc(float(r['final_test_acc']))}</td><td>{_esc(r['status'])}</td></tr>"
        for r in rows
    )
    meta = f" ({_esc(protocol)} protocol, data: {_esc(dataset)})" if protocol else ""
    return (
        f"<p><b>{_esc(title)}</b>{meta}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def plotly_js() -> str | None:
    """Plotly's bundled JavaScript from the installed package (None when it is missing)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs()


class _Page:
    """The report being written: the folder, the language and the charts' JSON."""

    def __init__(self, folder: ResultsFolder, lang: str) -> None:
        self.folder, self.lang = folder, lang
        self.spec = folder.read_spec()
        self.summary = folder.read_summary()
        self.configs = run_configs(folder)
        self.classes = folder.classes()
        self.charts: list[str] = []
        self.findings: dict[str, list] = {}  # run -> koubai.diagnose findings

    def tr(self, key: str, **fields: object) -> str:
        return t(key, self.lang, **fields)

    def png(self, stem: Path) -> Path | None:
        """The PNG of a figure in the page's language, else in English, else None."""
        found = self.folder.figure(stem)
        if found is None and self.lang != "en":
            english = stem.with_name(stem.name.removesuffix(f"-{self.lang}"))
            found = self.folder.figure(english)
        return found

    def chart(self, data: list[dict], layout: dict, fallback: str, testid: str) -> str:
        """A Plotly chart (drawn by :data:`SCRIPT`) with ``fallback`` HTML inside it."""
        key = f"chart-{len(self.charts)}"
        spec = json.dumps({"data": data, "layout": layout}, allow_nan=False).replace("</", "<\\/")
        self.charts.append(f"<script type='application/json' id='{key}'>{spec}</script>")
        return f"<div class='plot' data-plot='{key}' data-testid='{_esc(testid)}'>{fallback}</div>"

    def layout(self, x_title: str, y_title: str, *, log: bool = False) -> dict:
        chance = 1 / self.classes
        y = {"title": {"text": y_title}, "range": [0, 1]} if not log else {"type": "log"}
        if log:
            y["title"] = {"text": y_title}
        out = {
            "height": 380,
            "margin": {"l": 56, "r": 12, "t": 12, "b": 40},
            "xaxis": {"title": {"text": x_title, "standoff": 4}},
            "yaxis": y,
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
            "hovermode": "x unified" if not log else "closest",
            "font": {"family": "system-ui, 'Noto Sans CJK JP', sans-serif", "size": 12},
        }
        if not log:
            out["shapes"] = [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": chance,
                    "y1": chance,
                    "line": {"dash": "dot", "color": "gray", "width": 1},
                }
            ]
        return out


def _curve(x, y, name: str, **style) -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": [float(v) for v in x],
        "y": [float(v) if v == v else None for v in y],
        "hovertemplate": "%{y:.3f}",
        **style,
    }


def _clean_source(source: str) -> str:
    """A data source without its absolute file path (only the file's name is kept)."""
    return re.sub(r"(?<!\S)/\S*/([^/\s]+)", r"\1", source)


def _header(page: _Page) -> list[str]:
    spec = page.spec
    title = in_language(spec, "title", page.lang, default=spec.get("name", "experiment"))
    description = in_language(spec, "description", page.lang)
    meta = (
        f"{page.tr('report.protocol')} <b>{_esc(spec.get('protocol', ''))}</b> · "
        f"{page.tr('report.data')} <b>{_esc(spec.get('dataset', ''))}</b> "
        f"({_esc(_clean_source(str(spec.get('dataset_source', ''))))}) · "
        f"{page.tr('report.created')} {_esc(spec.get('created', ''))}"
    )
    out = [f"<h1 data-testid='title'>{_esc(title)}</h1>"]
    if description:
        out.append(f"<p class='meta'>{_esc(' '.join(str(description).split()))}</p>")
    out.append(f"<p class='meta' data-testid='meta'>{meta}</p>")
    out.append(f"<p class='note'>{_esc(page.tr('report.hint'))}</p>")
    return out


def _settings(page: _Page, run: str) -> str:
    """The settings of one run as a two-column table."""
    config = page.configs[run][1]
    init = config.init + (f" (std {config.init_std:g})" if config.init == "gauss" else "")
    rows = [
        ("report.activation", config.activation),
        ("report.init", init),
        ("report.batchnorm", page.tr("report.yes" if config.batchnorm else "report.no")),
        ("report.hidden", "-".join(str(h) for h in config.hidden_sizes)),
        ("report.optimizer", config.optimizer),
        ("report.lr", f"{config.lr:g}"),
        ("report.iterations", f"{config.iterations:,}"),
        ("report.seed", str(config.seed)),
    ]
    cols = [(page.tr("report.settings"), "text"), ("", "text")]
    return _table(cols, [[page.tr(k), v] for k, v in rows], "settings")


def _status(page: _Page, status: str) -> str:
    key = f"report.{status}"
    return page.tr(key) if status in ("finished", "diverged", "interrupted") else status


def _final_table(page: _Page) -> list[str]:
    cols = [
        (page.tr("report.run"), "text"),
        (page.tr("report.activation"), "text wide"),
        (page.tr("report.init"), "text wide"),
        (page.tr("report.batchnorm"), "text wide"),
        (page.tr("report.hidden"), "wide"),
        (page.tr("report.train_acc"), ""),
        (page.tr("report.test_acc"), ""),
        (page.tr("report.status"), "text"),
    ]
    rows = []
    for r in page.summary:
        rows.append(
            [
                r["run"],
                r["activation"],
                r["init"],
                page.tr("report.yes" if r["batchnorm"] == "True" else "report.no"),
                r["hidden_sizes"],
                fmt_acc(float(r["final_train_acc"])),
                fmt_acc(float(r["final_test_acc"])),
                _status(page, r["status"]),
            ]
        )
    out = [f"<h2>{_esc(page.tr('report.final'))}</h2>", _table(cols, rows, "final-table")]
    out += _same_rows_note(page)
    return out


def _same_rows_note(page: _Page) -> list[str]:
    """Runs of different groups with one configuration and seed: say it is on purpose."""
    seen: dict[tuple[str, int], list[str]] = {}
    for run, (_, config) in page.configs.items():
        seen.setdefault((config_key(config), config.seed), []).append(run)
    out = []
    for runs in seen.values():
        if len(runs) > 1:
            text = page.tr(
                "report.same_rows", runs=", ".join(runs), why=page.tr("report.same_rows_why")
            )
            out.append(f"<p class='note' data-testid='same-rows'>{_esc(text)}</p>")
    return out


def _by_config_table(page: _Page) -> list[str]:
    rows = page.folder.read_by_config()
    if not any(r.get("seeds", "1") != "1" for r in rows):
        return []
    cols = [
        (page.tr("report.config"), "text"),
        (page.tr("report.seeds"), ""),
        (page.tr("report.mean_std"), ""),
        (page.tr("report.min_max"), ""),
    ]
    body = [
        [
            f"{r['group']}: {r['config']}",
            r["seeds"],
            f"{float(r['test_acc_mean']):.3f} ± {float(r['test_acc_std']):.3f}",
            f"{float(r['test_acc_min']):.3f} – {float(r['test_acc_max']):.3f}",
        ]
        for r in rows
    ]
    return [f"<h2>{_esc(page.tr('report.by_config'))}</h2>", _table(cols, body, "by-config")]


def _group_section(page: _Page, group: str, facts) -> list[str]:
    members = list(facts)
    title = page.folder.group_title(group, page.lang)
    out = [f"<h2 data-testid='group-{_esc(group)}'>{_esc(title)}</h2>"]
    sentences = group_sentences(members, page.classes, page.lang)
    if sentences:
        paragraphs = "".join(f"<p>{_esc(s)}</p>" for s in sentences)
        out.append(
            f"<div class='what' data-testid='what-{_esc(group)}'>"
            f"<h3>{_esc(page.tr('report.what'))}</h3>{paragraphs}</div>"
        )
    if len(members) > 1:
        out.append(_comparison_chart(page, group, members))
        for kind in ("gradient-flow", "nonlinearity-inputs"):
            path = page.png(page.folder.group_figure(kind, group, page.lang))
            out.append(
                figure_html(path, page.tr(f"report.figure.{kind}"), f"figure-{kind}-{group}")
            )
    return out


def _comparison_chart(page: _Page, group: str, members) -> str:
    seeds = len({page.configs[f.run][1].seed for f in members}) > 1
    data = []
    for f in members:
        m = page.folder.read_metrics(f.run)
        name = f.config + (f" (seed {page.configs[f.run][1].seed})" if seeds else "")
        data.append(_curve(m["iteration"], m["test_acc"], name))
    layout = page.layout(page.tr("fig.iteration"), page.tr("fig.test_accuracy"))
    png = page.png(page.folder.group_figure("comparison", group, page.lang))
    fallback = figure_html(png, page.tr("report.figure.comparison"), f"png-comparison-{group}")
    if not fallback:
        fallback = f"<p class='note'>{_esc(page.tr('report.figure.comparison'))}</p>"
    return page.chart(data, layout, fallback, f"chart-comparison-{group}")


def _run_section(page: _Page, row: dict, single: bool) -> str:
    run = row["run"]
    parts = []
    if single:
        parts.append(_settings(page, run))
    parts.append(_findings_html(page, run))
    m = page.folder.read_metrics(run)
    acc_png = page.png(page.folder.run_figure(run, "accuracy", page.lang))
    if single and len(m["iteration"]):
        config = page.configs[run][1]
        train_key = "fig.train_batch" if config.train_accuracy == "batch" else "fig.train_subset"
        data = [
            _curve(m["iteration"], m["train_acc"], page.tr(train_key)),
            _curve(m["iteration"], m["test_acc"], page.tr("fig.test")),
        ]
        layout = page.layout(page.tr("fig.iteration"), page.tr("fig.accuracy"))
        fallback = figure_html(acc_png, page.tr("report.figure.accuracy"), "png-accuracy")
        parts.append(page.chart(data, layout, fallback or "<p></p>", f"chart-run-{run}"))
    else:
        parts.append(
            figure_html(acc_png, page.tr("report.figure.accuracy"), f"figure-accuracy-{run}")
        )
    for kind in ("gradient-flow", "activations", "saturation-updates"):
        path = page.png(page.folder.run_figure(run, kind, page.lang))
        key = (
            "report.figure.gradient-flow-run"
            if kind == "gradient-flow"
            else f"report.figure.{kind}"
        )
        parts.append(figure_html(path, page.tr(key), f"figure-{kind}-{run}"))
    css = " class='diverged'" if row.get("status") == "diverged" else ""
    summary = (
        f"<summary{css}>{_esc(run)} — {_esc(page.tr('report.test_acc'))} "
        f"{fmt_acc(float(row['final_test_acc']))} ({_esc(_status(page, row['status']))})</summary>"
    )
    opened = " open" if single else ""
    return f"<details data-testid='run-{_esc(run)}'{opened}>{summary}{''.join(parts)}</details>"


def completeness_html(results: ResultsFolder) -> str:
    """A warning paragraph ``6 of 12 runs (interrupted)`` for an incomplete experiment (from its
    manifest), or ``""`` when it is complete or predates manifests."""
    line = results.completeness()
    if line is None:
        return ""
    resume = f"koubai run --resume {results.path}"
    return (
        f"<p class='incomplete' data-testid='completeness'><b>Incomplete: "
        f"{_esc(line)}.</b> Finish it with <code>{_esc(resume)}</code>.</p>"
    )


#: The claims table's columns of prose (left-aligned, wrapped).
TEXT_CLAIMS = ("claim", "paper_value", "reproduced", "note")


def _claims_in_japanese(page: _Page) -> list[dict[str, str]] | None:
    """The paper experiment's claims computed again from the folder, their texts in Japanese;
    None where they cannot be (not a paper experiment, or the folder lacks what they need)."""
    from koubai import papers

    name = str(page.spec.get("name", ""))
    if not papers.is_paper(name):
        return None
    try:
        return [claim.row("ja") for claim in papers.compute(page.folder, name)]
    except Exception:  # noqa: BLE001 - the English rows of claims.csv are still right
        return None


def _claims_section(page: _Page) -> list[str]:
    """A paper experiment's claims beside our measurements, and the paper's figures."""
    from koubai.results import CLAIM_COLUMNS

    claims = page.folder.read_claims()
    if not claims:
        return []
    if page.lang == "ja":  # claims.csv is English: the claims again, in Japanese
        claims = _claims_in_japanese(page) or claims
    rows = [[row.get(c, "") for c in CLAIM_COLUMNS] for row in claims]
    parts = [f"<h2 data-testid='claims'>{_esc(page.tr('report.claims'))}</h2>"]
    columns = [(page.tr(f"report.claims.{c}"), "text" if c in TEXT_CLAIMS else "")
               for c in CLAIM_COLUMNS]  # fmt: skip
    parts.append(_table(columns, rows, "claims-table"))
    parts += [
        figure_html(path, path.stem, f"figure-{path.stem}") for path in page.folder.paper_figures()
    ]
    return parts


def _findings_html(page: _Page, run: str) -> str:
    """The diagnosis of one run (:mod:`koubai.diagnose`)."""
    return findings_html(page.findings.get(run, []), page.lang, f"findings-{run}")


def findings_html(found: list, lang: str, testid: str) -> str:
    """Findings of :mod:`koubai.diagnose` as a list in ``lang``: each one's severity, then its
    message (which names the iteration, the kind, the layer and the fix)."""
    if not found:
        return (
            f"<p class='note' data-testid='no-findings'>{_esc(t('report.no_findings', lang))}</p>"
        )
    items = "".join(
        f"<li class='{_esc(f.severity)}' data-testid='finding' data-kind='{_esc(f.kind)}'>"
        f"<span class='severity'>[{_esc(t(f'diagnose.severity.{f.severity}', lang))}]</span> "
        f"{_esc(f.message(lang))}</li>"
        for f in found
    )
    return f"<ul class='findings' data-testid='{_esc(testid)}'>{items}</ul>"


def render(folder: ResultsFolder, *, lang: str, data=None) -> str:
    """The report page of ``folder`` in ``lang`` (``data``: see :func:`write_report`)."""
    from koubai.diagnose import diagnose_folder

    page = _Page(folder, lang)
    page.findings = diagnose_folder(folder.path)
    single = len(page.summary) == 1
    parts = _header(page) + [completeness_html(folder)] + _claims_section(page)
    facts = collect_facts(folder, data)
    if single:
        group = next(iter(facts), None)
        if group is not None:
            parts += _group_section(page, group, facts[group])
        parts += [_run_section(page, page.summary[0], True)]
        parts += _final_table(page)
    else:
        parts += _final_table(page)
        parts += _by_config_table(page)
        for group in folder.groups():
            if group in facts:
                parts += _group_section(page, group, facts[group])
        parts.append(f"<h2>{_esc(page.tr('report.runs'))}</h2>")
        parts += [_run_section(page, row, False) for row in page.summary]
    js = plotly_js() if page.charts else None
    scripts = "".join(page.charts)
    if js:
        scripts += f"<script>{js}</script><script>{SCRIPT}</script>"
    body = (
        f"<noscript><p class='note'>{_esc(t('report.nojs', lang))}</p></noscript>"
        f"{''.join(parts)}<p class='note'>{_esc(t('report.footer', lang))}</p>{scripts}"
    )
    return page_html(lang, f"koubai — {page.spec.get('name', '')}", body)


def page_html(lang: str, title: str, body: str) -> str:
    """A whole page in ``lang``: koubai's style, sized for phones too, ``title`` escaped,
    ``body`` as given (HTML)."""
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def write_report(folder: str | os.PathLike, *, lang: str | None = None, data=None) -> Path:
    """Write ``report.html`` into a results folder and return its path.

    Args:
        folder: the results folder.
        lang: the page's language, "en" or "ja". Default: :func:`koubai.i18n.default_language`.
        data: the experiment's loaded dataset, when at hand: the report then says whether a
            network predicts one class for every test image. Default: None (mnist-5k and
            digits, which need no network, are loaded by name; other data skip that sentence).
    """
    results = ResultsFolder.open(folder)
    lang = language(lang)
    if data is None:
        data = _offline_data(results.read_spec().get("dataset", ""))
    return results.write_report(render(results, lang=lang, data=data))


def _offline_data(name: str):
    if name not in ("mnist-5k", "digits"):
        return None
    from koubai.datasets import load

    try:
        return load(name)
    except Exception:  # noqa: BLE001 - without the data the report loses one sentence only
        return None
