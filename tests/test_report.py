"""The report explains itself, in English and Japanese; figures are drawn from the folder's
files, under language-specific, shell-safe names; `koubai report` redraws a --no-figures folder."""

import html
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from koubai.checks import check_name
from koubai.cli import app
from koubai.errors import ConfigError
from koubai.experiments import parse_spec, run_experiment
from koubai.report.draw import draw_figures, figure_jobs
from koubai.report.explain import RunFacts, fmt_ratio, run_sentences
from koubai.report.html import render, write_report
from koubai.results import ResultsFolder

runner = CliRunner()

# Two tiny comparisons on the real digits: sigmoid + gauss (the vanishing gradient) against
# ReLU + He, and sigmoid + Xavier without and with batch norm.
MINI = """
name = "mini"
title = "Mini experiment"
title_ja = "小さな実験"
description = "Two short comparisons."
description_ja = "短い比較を 2 つ。"
[base]
hidden_sizes = [40, 20]
iterations = 150
eval_every = 30
diagnostics_every = 30
lr = 0.1
[[group]]
name = "init"
title = "sigmoid + gauss against ReLU + He"
title_ja = "シグモイド + gauss と ReLU + He"
runs = [{ activation = "sigmoid", init = "gauss" }, { activation = "relu", init = "he" }]
[[group]]
name = "bn"
title = "without vs with batch norm"
set = { activation = "sigmoid", init = "xavier", lr = 0.01 }
[group.grid]
batchnorm = [false, true]
"""

SHELL_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return run_experiment(parse_spec(MINI), dataset="mnist-5k", out_dir=out, lang="en")


@pytest.fixture(scope="module")
def page(experiment) -> str:
    return html.unescape((experiment.folder / ResultsFolder.REPORT).read_text("utf-8"))


def test_report_says_what_each_group_shows(experiment, page):
    assert "<html lang='en'>" in page
    assert "name='viewport'" in page
    assert page.count("What this shows") == 2
    # The headings are the groups' titles, not their names.
    assert "sigmoid + gauss against ReLU + He" in page and "Group init" not in page
    gauss = next(r for s, r in experiment.runs if s.config.init == "gauss")
    assert gauss.final_test_acc == pytest.approx(0.1, abs=0.03)  # the vanishing gradient
    assert "= chance (1 in 10): the network did not learn" in page
    assert "predicts the same digit" in page
    assert re.search(r"hidden layer 1 receives 1/[\d,]+ of the output layer's gradient", page)
    assert "not from saturation" in page
    assert "times chance" in page  # ReLU + He learned
    assert "With batch norm, sigmoid-xavier-bn-40x20 reaches" in page
    assert "so it is not worse" in page


def test_report_tables_are_readable(page):
    assert "final_train_acc" not in page and "stopped_at" not in page
    assert "site-packages" not in page and "/mnist_5k" not in page  # no absolute data path
    cells = re.findall(r"<td class=''>([^<]*)</td>", page)
    accuracies = [c for c in cells if re.fullmatch(r"[01]\.\d+", c)]
    assert accuracies and all(re.fullmatch(r"[01]\.\d{3}", c) for c in accuracies)


def test_report_is_interactive_offline_with_static_fallback(page):
    # Nothing is fetched: no script, style sheet or image comes from another address.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=['\"]?(https?:)?//", page)
    assert "<script src" not in page
    assert "Plotly.newPlot" in page and "window.Plotly" in page
    charts = re.findall(r"<div class='plot' data-plot='(chart-\d+)'[^>]*>(.*?)</div>", page)
    assert len(charts) == 2
    assert all("data:image/png;base64," in inner for _, inner in charts)  # seen without JS


def test_japanese_report_and_figures_with_their_own_names(experiment, tmp_path):
    folder = ResultsFolder(experiment.folder)
    english = folder.figure(folder.run_figure(experiment.runs[0][0].name, "accuracy"))
    before = english.stat().st_mtime_ns
    written = draw_figures(folder, lang="ja", workers=1)
    assert written and all(p.stem.endswith("-ja") for p in written)
    assert english.stat().st_mtime_ns == before  # English files untouched
    page = write_report(folder.path, lang="ja").read_text("utf-8")
    assert "<html lang='ja'>" in page
    assert "この結果からわかること" in page and "What this shows" not in page
    assert "チャンスレベル" in page and "最終的な正解率" in page
    assert "<h1 data-testid='title'>小さな実験</h1>" in page and "短い比較を 2 つ。" in page
    assert "シグモイド + gauss と ReLU + He</h2>" in page
    assert "without vs with batch norm</h2>" in page  # no Japanese title: the English one
    english = render(folder, lang="en")
    assert "Mini experiment</h1>" in english and "小さな実験" not in english


def test_every_file_name_is_shell_safe(experiment):
    names = [p.name for p in experiment.folder.rglob("*")]
    assert names and [n for n in names if not SHELL_SAFE.match(n)] == []
    for bad in ("shallow-relu-he-[40,20]", "a*b", "x?", "{a,b}", "a b", "~x", "$x"):
        with pytest.raises(Exception, match="cannot be a folder name"):
            check_name(bad, "run name")


def test_a_name_a_shell_would_expand_is_refused_before_anything_is_written(tmp_path, blobs):
    spec = MINI.replace('name = "init"', 'name = "init[1]"')
    with pytest.raises(ConfigError, match="group name 'init\\[1\\]' cannot be"):
        run_experiment(parse_spec(spec), dataset=blobs, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_figure_jobs_cover_runs_and_groups(experiment):
    jobs = figure_jobs(ResultsFolder(experiment.folder))
    kinds = {(j.scope, j.kind) for j in jobs}
    assert ("group", "nonlinearity-inputs") in kinds  # bn group: with vs without
    assert sum(j.scope == "run" for j in jobs) == 4 * 4
    assert [j.name for j in jobs if j.kind == "nonlinearity-inputs"] == ["bn"]


def test_fmt_ratio_reads_as_a_fraction():
    assert fmt_ratio(1 / 1124) == "1/1,100"
    assert fmt_ratio(1 / 75946) == "1/76,000"
    assert fmt_ratio(4.66) == "4.7×" and fmt_ratio(4.66, "ja") == "4.7 倍"


def test_collapsed_network_is_pointed_out():
    facts = RunFacts("r", "cfg", "relu", False, 0.1, "finished", 100, None, np.full(50, 4))
    text = " ".join(run_sentences(facts, 10, "en"))
    assert "chance" in text and "predicts the same digit (4)" in text
    facts.predicted = np.arange(50) % 10
    assert "same digit" not in " ".join(run_sentences(facts, 10, "en"))


def test_report_command_draws_a_no_figures_folder(tmp_path, blobs_npz):
    spec = tmp_path / "tiny.toml"
    spec.write_text(MINI.replace("iterations = 150", "iterations = 20").replace("[40, 20]", "[8]"))
    out = tmp_path / "results"
    args = ["run", str(spec), "-d", str(blobs_npz), "-o", str(out), "--no-figures"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (folder,) = list(out.iterdir())
    assert not list(folder.rglob("*.png")) and not (folder / ResultsFolder.REPORT).exists()
    result = runner.invoke(app, ["report", str(folder), "--lang", "en", "--workers", "1"])
    assert result.exit_code == 0, result.output
    pngs = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert "comparison-init.png" in pngs and "runs/bn-sigmoid-xavier-bn-8/accuracy.png" in pngs
    assert "What this shows" in (folder / ResultsFolder.REPORT).read_text("utf-8")


def test_report_command_on_a_missing_path_says_so(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "not a koubai results folder" not in result.output


def test_repr_html_of_results(experiment):
    shown = experiment._repr_html_()
    assert "Mini experiment" in shown and "<table>" in shown and str(experiment.folder) in shown
    run_html = experiment.runs[0][1]._repr_html_()
    assert (
        "final test accuracy" in run_html
        and f"{experiment.runs[0][1].final_test_acc:.3f}" in run_html
    )


def test_figure_files_are_figures(experiment):
    pngs = list(Path(experiment.folder).rglob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
