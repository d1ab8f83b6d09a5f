"""koubai export tensorboard writes event files that read back to the folder's numbers."""

import collections

import numpy as np
import pytest
from typer.testing import CliRunner

from koubai.cli import app
from koubai.experiments import parse_spec, run_experiment
from koubai.results import ResultsFolder

pytest.importorskip("tensorboardX", reason="the tensorboard extra is not installed")

from koubai.report.tensorboard import read_events  # noqa: E402

SPEC = """
name = "tb"
[base]
hidden_sizes = [8, 6]
iterations = 40
batch_size = 20
eval_every = 10
diagnostics_every = 10
lr = 0.5
[[group]]
name = "g"
runs = [{ activation = "sigmoid" }, { activation = "relu", init = "he" }]
"""


def test_export_writes_every_run_and_reads_back(tmp_path, blobs):
    exp = run_experiment(parse_spec(SPEC), dataset=blobs, out_dir=tmp_path, figures=False)
    logdir = tmp_path / "tb-logs"
    result = CliRunner().invoke(
        app, ["export", "tensorboard", str(exp.folder), "--logdir", str(logdir)]
    )
    assert result.exit_code == 0, result.output
    folder = ResultsFolder(exp.folder)
    assert sorted(p.name for p in logdir.iterdir()) == sorted(s.name for s, _ in exp.runs)
    for spec, res in exp.runs:
        events = list(read_events(logdir / spec.name))
        tags = collections.Counter(tag for tag, _, _ in events)
        assert tags["accuracy/test"] == len(res.records) == 5
        d = folder.read_diagnostics(spec.name)
        assert tags["grad_norm/hidden1"] == 5
        assert tags["update_ratio/output"] == len(d["update_iterations"]) > 0
        assert tags["activations/hidden1"] == 5 and tags["activations/hidden2"] == 5
        share = "dead" if spec.config.activation == "relu" else "saturated"
        assert tags[f"{share}/hidden1"] == 5
        test = {step: v for tag, step, v in events if tag == "accuracy/test"}
        assert test[40] == pytest.approx(res.final_test_acc, abs=1e-4)
        grads = [v for tag, _, v in events if tag == "grad_norm/output"]
        np.testing.assert_allclose(grads, d["weight_grad_norm"][:, -1], rtol=1e-6)
        hist = next(v for tag, step, v in events if tag == "activations/hidden1" and step == 0)
        np.testing.assert_allclose(hist, d["act_hist"][0, 0])


def test_default_logdir_is_inside_the_folder(tmp_path, blobs):
    exp = run_experiment(parse_spec(SPEC), dataset=blobs, out_dir=tmp_path, figures=False)
    result = CliRunner().invoke(app, ["export", "tensorboard", str(exp.folder)])
    assert result.exit_code == 0, result.output
    assert len(list((exp.folder / ResultsFolder.TENSORBOARD).iterdir())) == 2


def test_export_of_a_missing_folder_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["export", "tensorboard", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "does not exist" in result.output
