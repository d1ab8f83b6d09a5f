"""The experiment commands end to end, on a tiny synthetic dataset written as a user's .npz."""

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _specs import tiny
from koubai.cli import app
from koubai.experiments import parse_spec, run_experiment
from koubai.training.probes import load_diagnostics

runner = CliRunner()

TINY = tiny(40)


def _folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_writes_the_whole_results_folder(tmp_path, blobs_npz, workers):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "results"
    result = runner.invoke(
        app, ["run", str(spec), "-d", str(blobs_npz), "-o", str(out), "--workers", workers]
    )
    assert result.exit_code == 0, result.output
    folder = _folder(out)
    assert folder.name.startswith("tiny-")
    summary = _read_csv(folder / "summary.csv")
    assert [row["run"] for row in summary] == [
        "g-sigmoid-gauss-8x6",
        "g-sigmoid-he-8x6",
        "g-relu-gauss-8x6",
        "g-relu-he-8x6",
    ]
    for col in (
        "activation",
        "init",
        "batchnorm",
        "hidden_sizes",
        "iterations",
        "seed",
        "final_train_acc",
        "final_test_acc",
        "status",
    ):
        assert col in summary[0]
    assert {row["status"] for row in summary} == {"finished"}
    assert float(next(r for r in summary if r["run"] == "g-relu-he-8x6")["final_test_acc"]) > 0.9
    for row in summary:
        run = folder / "runs" / row["run"]
        metrics = _read_csv(run / "metrics.csv")
        assert [m["iteration"] for m in metrics] == ["0", "10", "20", "30", "40"]
        assert float(metrics[-1]["test_acc"]) == pytest.approx(float(row["final_test_acc"]))
        for name in (
            "accuracy.png",
            "accuracy.svg",
            "model.npz",
            "diagnostics.npz",
            "gradient-flow.png",
            "activations.png",
            "saturation-updates.png",
        ):
            assert (run / name).stat().st_size > 0, name
        diag = load_diagnostics(run / "diagnostics.npz")
        assert list(diag["iterations"]) == [0, 10, 20, 30, 40]
    for name in ("spec.toml", "comparison-g.png", "comparison-g.svg", "gradient-flow-g.png"):
        assert (folder / name).stat().st_size > 0
    resolved = (folder / "spec.toml").read_text()
    assert 'dataset = "blobs"' in resolved and resolved.count("[[run]]") == 4
    # The printed table has every run and the folder's path.
    assert "g-relu-he-8x6" in result.output.replace("\n", "")
    assert str(folder) in result.output.replace("\n", "")


def test_train_command_and_a_diverging_run(tmp_path, blobs_npz):
    out = tmp_path / "r"
    result = runner.invoke(
        app,
        [
            "train",
            "--hidden",
            "32,32,32",
            "--activation",
            "relu",
            "--init",
            "he",
            "--lr",
            "1000",
            "--iters",
            "100",
            "--batch-size",
            "20",
            "-d",
            str(blobs_npz),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = _read_csv(_folder(out) / "summary.csv")
    assert row["status"] == "diverged"
    assert 0 < int(row["stopped_at"]) < 100
    assert "diverged" in result.output


def test_show_prints_a_spec_that_runs(tmp_path):
    result = runner.invoke(app, ["show", "batchnorm"])
    assert result.exit_code == 0
    assert len(parse_spec(result.output).resolve()) == 7
    listing = runner.invoke(app, ["show", "--lang", "en"])
    assert "vanishing" in listing.output and "Batch normalization" in listing.output
    japanese = runner.invoke(app, ["show", "--lang", "ja"])
    assert "組み込みの実験" in japanese.output and "バッチ正規化" in japanese.output


@pytest.mark.parametrize(
    "args,match",
    [
        (["run", "nope"], "unknown experiment 'nope'"),
        (["run", "vanishing", "-d", "imagenet"], "unknown dataset 'imagenet'"),
        (["run", "vanishing", "--set", "lr=-1"], "lr (learning rate) must be a finite number > 0"),
        (["run", "vanishing", "--set", "iterations=0"], "iterations must be a positive integer"),
        (["run", "vanishing", "--set", "lrr=0.1"], "unknown key 'lrr'"),
        (["run", "vanishing", "--protocol", "sloppy"], "unknown protocol 'sloppy'"),
        (["train", "--lr", "-0.5"], "lr (learning rate) must be a finite number > 0"),
        (["train", "--iters", "0"], "iterations must be a positive integer, got 0"),
        (["train", "--hidden", "40,x"], "hidden sizes must be comma-separated"),
        (["show", "nope"], "unknown experiment 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "out")] if args[0] != "show" else args)
    assert result.exit_code == 1
    assert match in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "out").exists()


def test_malformed_spec_file(tmp_path, blobs_npz):
    bad = tmp_path / "bad.toml"
    bad.write_text("[base\nlr = 0.1\n")
    result = runner.invoke(app, ["run", str(bad), "-d", str(blobs_npz), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not valid TOML" in result.output
    assert not (tmp_path / "o").exists()


def test_an_output_folder_that_cannot_be_written(tmp_path, blobs_npz):
    blocker = tmp_path / "file.txt"
    blocker.write_text("precious")
    result = runner.invoke(
        app, ["train", "--iters", "5", "-d", str(blobs_npz), "-o", str(blocker / "sub")]
    )
    assert result.exit_code == 1
    assert "cannot write results to" in result.output
    assert blocker.read_text() == "precious"


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_keeps_finished_runs(tmp_path, blobs, workers):
    # Runs long enough (a few seconds) that Ctrl-C, sent early in run 1, lands before every
    # run has finished, however fast the machine: the interrupted runs stop at once anyway.
    spec = parse_spec(TINY.replace("iterations = 40", "iterations = 8000"), source="tiny")
    seen = []

    def on_event(kind, index, payload):
        seen.append((kind, index))
        if kind == "eval" and index == 1 and payload.iteration >= 20:
            raise KeyboardInterrupt

    result = run_experiment(
        spec, dataset=blobs, out_dir=tmp_path, workers=workers, on_event=on_event
    )
    assert result.status == "interrupted"
    assert len(result.runs) < result.planned == 4
    rows = _read_csv(result.folder / "summary.csv")
    assert len(rows) == len(result.runs) >= 1
    for row in rows:
        assert (result.folder / "runs" / row["run"] / "metrics.csv").exists()
    # A run queued before Ctrl-C but not started leaves nothing behind.
    assert len(list((result.folder / "runs").iterdir())) == len(rows)
    if workers == 1:
        assert [row["status"] for row in rows] == ["finished", "interrupted"]
        # Measured in the background, iteration 20's record comes in a few updates later.
        assert 20 <= int(rows[1]["stopped_at"]) < 400


def test_runs_are_reproducible(tmp_path, blobs):
    spec = parse_spec(TINY, source="tiny")
    a = run_experiment(spec, dataset=blobs, out_dir=tmp_path, workers=1, figures=False)
    b = run_experiment(spec, dataset=blobs, out_dir=tmp_path, workers=2, figures=False)
    assert a.folder != b.folder
    for (_, ra), (_, rb) in zip(a.runs, b.runs, strict=True):
        np.testing.assert_array_equal(ra.batch_loss, rb.batch_loss)


def test_careful_protocol_aggregates_over_seeds(tmp_path, blobs_npz):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "o"
    result = runner.invoke(
        app,
        [
            "run",
            str(spec),
            "-d",
            str(blobs_npz),
            "-o",
            str(out),
            "--protocol",
            "careful",
            "--seeds",
            "2",
            "--no-figures",
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    folder = _folder(out)
    rows = _read_csv(folder / "summary.csv")
    assert len(rows) == 8 and {r["seed"] for r in rows} == {"0", "1"}
    by_config = _read_csv(folder / "summary-by-config.csv")
    assert [r["seeds"] for r in by_config] == ["2"] * 4
    for agg in by_config:
        accs = [
            float(r["final_test_acc"]) for r in rows if r["run"].startswith(f"g-{agg['config']}-s")
        ]
        assert len(accs) == 2
        assert float(agg["test_acc_mean"]) == pytest.approx(np.mean(accs), abs=1e-4)
        assert float(agg["test_acc_min"]) == pytest.approx(min(accs), abs=1e-4)
    assert "mean ± std" in result.output
    assert not list(folder.glob("*.png"))  # --no-figures
    assert 'protocol = "careful"' in (folder / "spec.toml").read_text()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--workers", "-1"], "error: workers must be a positive integer, got -1"),
        (["--executor", "foo"], "error: unknown executor 'foo'; choose one of ['dask', 'local']"),
    ],
)
def test_bad_run_options_are_one_line_before_any_data_are_loaded(tmp_path, args, error):
    # The dataset does not exist: the options must be judged before it is looked for.
    missing = str(tmp_path / "missing.npz")
    result = runner.invoke(app, ["run", "vanishing", "-d", missing, "-o", str(tmp_path), *args])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [error]
    assert not list(tmp_path.iterdir())


def test_a_results_folder_named_like_markup_is_printed_as_it_is(tmp_path, blobs_npz):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "odd[base]"  # Rich would read "[base]" as a style and drop it
    args = [
        "run",
        str(spec),
        "-d",
        str(blobs_npz),
        "-o",
        str(out),
        "--no-figures",
        "--workers",
        "1",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"results: {out}" in result.output.replace("\n", "")
