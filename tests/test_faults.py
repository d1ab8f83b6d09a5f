"""Runs that survive faults: a failing run, kill -9, SIGTERM and Ctrl-C of the experiment's
process (serial and parallel), a full disk; then --resume, which must end where an
uninterrupted experiment ends, bit for bit."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from _specs import tiny
from koubai.cli import app
from koubai.errors import ResultsError
from koubai.experiments import parse_spec, resume_experiment, run_experiment
from koubai.results import RUN_STATES, Manifest, ResultsFolder, new_manifest

runner = CliRunner()

TINY = tiny(40)
#: Three runs, the middle one with an optimizer setting that raises when the run starts.
FAILING = """
name = "bad"
title = "one failing run"
[base]
hidden_sizes = [8, 6]
iterations = 40
batch_size = 20
lr = 0.5
[[group]]
name = "g"
runs = [
  { activation = "relu", init = "he" },
  { activation = "sigmoid", optimizer = "momentum", optimizer_args = { momentum = 1.5 } },
  { activation = "tanh" },
]
"""
#: Long enough (8 runs of 1,500 steps) to be stopped in the middle.
LONG = TINY.replace("iterations = 40", "iterations = 1500").replace(
    'init = ["gauss", "he"]', 'init = ["gauss", "he", "xavier", "lecun_normal"]'
)
KOUBAI = [sys.executable, "-c", "from koubai.cli import main; main()"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc before the parent is killed)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie is dead, waiting for its (new) parent to reap it
            alive.add(pid)
    return alive


def _start(tmp_path: Path, spec_text: str, data: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text)
    out = tmp_path / "out"
    cmd = [*KOUBAI, "run", str(spec), "-d", str(data), "-o", str(out), "--no-figures", *args]
    # Output to files, not pipes: a pipe would also wait for any process that survived.
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
    return proc, out


def _wait_for_rows(proc: subprocess.Popen, out: Path, n: int, timeout: float = 120) -> Path:
    """Wait until ``summary.csv`` lists ``n`` runs; return the folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (out.parent / "stderr").read_text()
        folders = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
        if folders and (folders[0] / "summary.csv").exists():
            if len(_rows(folders[0] / "summary.csv")) >= n:
                return folders[0]
        time.sleep(0.05)
    raise AssertionError("no run finished in time")


def _kill_9_after_one_run(tmp_path: Path, data: Path, *args: str, min_processes: int) -> Path:
    """Start LONG on two workers, kill -9 the experiment once a run has finished, and check
    that none of its processes (at least ``min_processes``) is alive 5 s later and that it left
    no shared memory behind; the folder."""
    shm = Path("/dev/shm")
    blocks = set(shm.iterdir()) if shm.is_dir() else set()
    proc, out = _start(tmp_path, LONG, data, "--workers", "2", *args)
    try:
        folder = _wait_for_rows(proc, out, 1, timeout=180)
        tree = _descendants(proc.pid)
        assert len(tree) >= min_processes
        if shm.is_dir():  # the workers map the data from there
            assert {p for p in shm.iterdir() if p.name.startswith("psm_")} - blocks
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(tree) == set()
    if shm.is_dir():  # the resource tracker, the last to go, unlinks the data's blocks
        assert {p for p in shm.iterdir() if p.name.startswith("psm_")} - blocks == set()
    return folder


def _same_results(a: Path, b: Path) -> None:
    """Two folders hold the same runs with the same numbers (all but the seconds)."""
    rows_a, rows_b = _rows(a / "summary.csv"), _rows(b / "summary.csv")
    assert [r["run"] for r in rows_a] == [r["run"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        ra.pop("seconds"), rb.pop("seconds")
        assert ra == rb
        run_a, run_b = a / "runs" / ra["run"], b / "runs" / rb["run"]
        assert (run_a / "metrics.csv").read_bytes() == (run_b / "metrics.csv").read_bytes()
        with np.load(run_a / "model.npz") as ma, np.load(run_b / "model.npz") as mb:
            assert sorted(ma.files) == sorted(mb.files)
            for key in ma.files:
                np.testing.assert_array_equal(ma[key], mb[key])


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path, blobs_npz):
    spec = tmp_path / "bad.toml"
    spec.write_text(FAILING)
    out = tmp_path / "out"
    args = ["run", str(spec), "-d", str(blobs_npz), "-o", str(out), "--workers", "2"]
    result = runner.invoke(app, [*args, "--no-figures"])
    assert result.exit_code == 1
    assert "1 of 3 runs failed" in result.output
    assert "momentum must lie in [0, 1), got 1.5" in result.output
    folder = _folder(out)
    assert [r["run"] for r in _rows(folder / "summary.csv")] == [
        "g-relu-he-8x6",
        "g-tanh-xavier-8x6",
    ]
    manifest = ResultsFolder(folder).read_manifest()
    assert manifest.state == "failed"
    assert [r["state"] for r in manifest.runs] == ["finished", "failed", "finished"]
    assert manifest.runs[1]["error"] == "ValueError: momentum must lie in [0, 1), got 1.5"
    assert "\n" not in manifest.runs[1]["error"]


def test_a_failing_experiment_does_not_stop_the_next_one(tmp_path, blobs_npz):
    bad, tiny = tmp_path / "bad.toml", tmp_path / "tiny.toml"
    bad.write_text(FAILING)
    tiny.write_text(TINY)
    out = tmp_path / "out"
    args = ["run", str(bad), str(tiny), "-d", str(blobs_npz), "-o", str(out), "--no-figures"]
    result = runner.invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 1
    assert "1 of 3 runs failed in" in result.output
    states = {p.name.split("-")[0]: ResultsFolder(p).read_manifest().state for p in out.iterdir()}
    assert states == {"bad": "failed", "tiny": "complete"}


def test_every_run_key_is_stable_and_differs_between_runs(tmp_path, blobs):
    spec = parse_spec(TINY, source="tiny")
    a = run_experiment(spec, dataset=blobs, out_dir=tmp_path, workers=1, figures=False)
    b = run_experiment(spec, dataset=blobs, out_dir=tmp_path, workers=1, figures=False)
    keys_a = [r["key"] for r in ResultsFolder(a.folder).read_manifest().runs]
    keys_b = [r["key"] for r in ResultsFolder(b.folder).read_manifest().runs]
    assert keys_a == keys_b and len(set(keys_a)) == 4
    other = run_experiment(spec, dataset=blobs, out_dir=tmp_path, workers=1, figures=False,
                           overrides={"lr": 0.25})  # fmt: skip
    keys_c = [r["key"] for r in ResultsFolder(other.folder).read_manifest().runs]
    assert not set(keys_c) & set(keys_a)


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_ctrl_c_gives_the_uninterrupted_results(tmp_path, blobs, workers):
    spec = parse_spec(TINY.replace("iterations = 40", "iterations = 200"), source="tiny")

    def stop(kind, index, payload):
        if kind == "eval" and index == 1 and payload.iteration >= 50:
            raise KeyboardInterrupt

    kw = {"dataset": blobs, "workers": workers, "figures": False}
    cut = run_experiment(spec, out_dir=tmp_path / "cut", on_event=stop, **kw)
    assert cut.status == "interrupted"
    manifest = ResultsFolder(cut.folder).read_manifest()
    assert manifest.state == "interrupted" and manifest.done < 4
    assert ResultsFolder(cut.folder).completeness() == f"{manifest.done} of 4 runs (interrupted)"
    resumed = resume_experiment(cut.folder, **kw)
    assert resumed.status == "finished" and resumed.folder == cut.folder
    assert ResultsFolder(cut.folder).read_manifest().state == "complete"
    whole = run_experiment(spec, out_dir=tmp_path / "whole", **kw)
    _same_results(cut.folder, whole.folder)


def test_kill_9_leaves_no_process_and_resume_completes_it(tmp_path, blobs_npz):
    # the fork server and two workers, at least
    folder = _kill_9_after_one_run(tmp_path, blobs_npz, min_processes=3)
    manifest = ResultsFolder(folder).read_manifest()
    assert manifest.state == "running" and manifest.live_state() == "interrupted"
    assert manifest.done < 8
    # Every run the summary lists has its files, whatever moment the kill came at.
    for row in _rows(folder / "summary.csv"):
        assert (folder / "runs" / row["run"] / "model.npz").exists()
    # The report and the store say the folder is incomplete.
    assert runner.invoke(app, ["report", str(folder)]).exit_code == 0
    page = (folder / "report.html").read_text()
    assert f"{manifest.done} of 8 runs (interrupted)" in page
    listing = runner.invoke(app, ["runs", "list"])
    assert f"{folder.name}: {manifest.done} of 8 runs (interrupted)" in listing.output

    resumed = runner.invoke(app, ["run", "--resume", str(folder)])
    assert resumed.exit_code == 1 and "give it with --dataset" in resumed.output
    resumed = runner.invoke(
        app, ["run", "--resume", str(folder), "-d", str(blobs_npz), "--workers", "2"]
    )
    assert resumed.exit_code == 0, resumed.output
    rows = _rows(folder / "summary.csv")
    assert sorted(r["run"] for r in rows) == sorted({r["run"] for r in rows})
    assert len(rows) == 8
    assert ResultsFolder(folder).read_manifest().state == "complete"
    whole = run_experiment(
        parse_spec(LONG, source="long"),
        dataset=str(blobs_npz),
        out_dir=tmp_path / "whole",
        workers=2,
        figures=False,
    )
    _same_results(folder, whole.folder)


@pytest.mark.parametrize(
    ("sig", "workers"),
    [(signal.SIGTERM, "1"), (signal.SIGTERM, "2"), (signal.SIGINT, "1"), (signal.SIGINT, "2")],
)
def test_sigterm_and_ctrl_c_keep_finished_runs(tmp_path, blobs_npz, sig, workers):
    proc, out = _start(tmp_path, LONG, blobs_npz, "--workers", workers)
    try:
        folder = _wait_for_rows(proc, out, 1)
        tree = _descendants(proc.pid)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    err = (tmp_path / "stderr").read_text()
    assert proc.returncode == 130, err
    assert "interrupted:" in err and "--resume" in err
    assert "Traceback" not in err
    manifest = ResultsFolder(folder).read_manifest()
    assert manifest.state == "interrupted"
    rows = _rows(folder / "summary.csv")
    assert 1 <= len(rows) < 8
    assert manifest.done == sum(r["status"] in ("finished", "diverged") for r in rows)
    # the message counts what the report and `koubai runs` count
    assert f"interrupted: {manifest.done} of 8 runs done" in err
    for row in rows:
        assert (folder / "runs" / row["run"] / "metrics.csv").exists()
    deadline = time.monotonic() + 5
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(tree) == set()


def test_a_full_disk_leaves_no_truncated_file(tmp_path, blobs_npz):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    cmd = " ".join(
        [*(f"'{a}'" for a in KOUBAI), "run", str(spec), "-d", str(blobs_npz), "-o", str(out)]
    )
    # 30 KiB per file: the data files fit, most figures do not.
    proc = subprocess.run(
        ["bash", "-c", f"ulimit -f 30; {cmd} --workers 2"], capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "File too large" in proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    assert [p for p in files if p.name.endswith(".tmp")] == []
    for path in files:
        data = path.read_bytes()
        assert len(data) <= 30 * 1024, path
        if path.suffix == ".png":
            assert data.endswith(b"IEND\xaeB`\x82"), path
        elif path.suffix == ".svg":
            assert data.rstrip().endswith(b"</svg>"), path
        elif path.suffix == ".npz":
            with np.load(path) as arrays:
                [arrays[k] for k in arrays.files]
        elif path.suffix == ".json":
            json.loads(data)
    manifest = ResultsFolder(_folder(out)).read_manifest()
    # the runs' data files fit, so every run is done; the figures drawn after them do not fit,
    # and that is the one-line error the command ends with
    assert manifest.state == "complete"
    assert {r["state"] for r in manifest.runs} <= {"finished", "diverged"}


@settings(max_examples=50, deadline=None)
@given(
    states=st.lists(st.sampled_from(RUN_STATES), min_size=1, max_size=8),
    error=st.text(max_size=40),
    interrupted=st.booleans(),
)
def test_the_manifest_round_trips_and_its_final_state_follows_the_runs(states, error, interrupted):
    runs = [(f"r{k}", "g", {"seed": k}) for k in range(len(states))]
    m = new_manifest("exp", "digits", "course", runs)
    for (name, _, _), state in zip(runs, states, strict=True):
        m.set_run(name, state, error if state == "failed" else None)
    back = Manifest.from_json(m.to_json(), "m")
    assert back == m
    final = back.finish(interrupted)
    if interrupted or {"pending", "running"} & set(states):
        assert final == "interrupted"
    elif "failed" in states:
        assert final == "failed"
    else:
        assert final == "complete"
    assert back.completeness() == (
        f"{sum(s in ('finished', 'diverged') for s in states)} of "
        f"{sum(s != 'removed' for s in states)} runs"
    )


def test_a_damaged_manifest_is_one_clear_error(tmp_path):
    folder = ResultsFolder.create(tmp_path, "exp")
    (folder.path / ResultsFolder.MANIFEST).write_text('{"format": 1, "state": "sleeping"}')
    with pytest.raises(ResultsError, match="is not a valid manifest"):
        folder.read_manifest()


def test_kill_9_of_a_dask_experiment_leaves_no_process(tmp_path, blobs_npz):
    """The LocalCluster's scheduler lives in the experiment's process; its nannies and
    workers must go with it (Dask's processes watch their parent through a pipe)."""
    pytest.importorskip("distributed", reason='the Dask extra is not installed ("koubai[dask]")')
    # the worker processes (and their nannies), at least
    folder = _kill_9_after_one_run(tmp_path, blobs_npz, "--executor", "dask", min_processes=2)
    manifest = ResultsFolder(folder).read_manifest()
    assert manifest.live_state() == "interrupted" and manifest.done < 8
