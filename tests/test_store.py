"""The run store: indexed as experiments run, rebuilt from the folders, safe with two writers,
and the ``koubai runs`` commands over it."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from _specs import tiny
from koubai.cli import app
from koubai.experiments import parse_spec, run_experiment
from koubai.results import ResultsFolder
from koubai.store import Store, default_path

runner = CliRunner()

TINY = tiny(30)


@pytest.fixture
def two_experiments(tmp_path, blobs):
    """The same 4 runs, at lr 0.5 and at lr 0.1, in two folders under ``tmp_path/out``."""
    spec = parse_spec(TINY, source="tiny")
    kw = {"dataset": blobs, "out_dir": tmp_path / "out", "workers": 1, "figures": False}
    a = run_experiment(spec, **kw)
    b = run_experiment(spec, overrides={"lr": 0.1}, **kw)
    return a, b


def _json(args):
    result = runner.invoke(app, ["runs", "list", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_store_lives_in_koubai_home_or_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KOUBAI_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "runs.sqlite"
    monkeypatch.delenv("KOUBAI_HOME")
    import platformdirs

    assert default_path().parent == platformdirs.user_data_path("koubai", appauthor=False)


def test_experiments_are_indexed_as_they_run(two_experiments):
    a, b = two_experiments
    rows = _json([])
    assert len(rows) == 8
    by_id = {r["id"]: r for r in rows}
    for result in (a, b):
        for spec, res in result.runs:
            row = by_id[f"{result.folder.name}/{spec.name}"]
            assert row["status"] == "finished"
            assert row["final_test_acc"] == pytest.approx(round(res.final_test_acc, 4))
            assert row["config"]["lr"] == spec.config.lr
            assert row["dataset"] == "blobs" and row["protocol"] == "course"
    # The same configuration on the same data has the same key in both folders, lr aside.
    keys_a = {r["key"] for r in rows if r["folder"] == str(a.folder.resolve())}
    keys_b = {r["key"] for r in rows if r["folder"] == str(b.folder.resolve())}
    assert len(keys_a) == 4 and not keys_a & keys_b


def test_where_experiment_and_status_select(two_experiments):
    a, _ = two_experiments
    assert len(_json(["--where", "activation=relu"])) == 4
    assert len(_json(["--where", "activation=relu", "--where", "lr=0.1"])) == 2
    assert len(_json(["--where", "hidden_sizes=[8, 6]"])) == 8
    assert len(_json(["--where", "batchnorm=false"])) == 8
    assert len(_json(["--experiment", a.folder.name])) == 4
    assert len(_json(["--experiment", "tiny"])) == 8
    assert _json(["--status", "failed"]) == []
    table = runner.invoke(app, ["runs", "list", "--where", "init=he"])
    assert table.exit_code == 0 and "4 runs" in table.output
    csv_out = runner.invoke(app, ["runs", "list", "--format", "csv"]).output.splitlines()
    assert csv_out[0].startswith("id,") and len(csv_out) == 9
    bad = runner.invoke(app, ["runs", "list", "--where", "no equals sign"])
    assert bad.exit_code == 1 and "KEY=VALUE" in bad.output


def test_reindex_rebuilds_a_lost_or_stale_index(two_experiments, tmp_path):
    a, b = two_experiments
    default_path().unlink()
    assert _json([]) == []
    result = runner.invoke(app, ["runs", "reindex", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "indexed 8 runs in 2 experiments" in result.output
    assert len(_json([])) == 8
    # A folder changed behind the store's back (a run dropped) is read again when listed...
    ResultsFolder(a.folder).drop_runs(["g-relu-he-8x6"])
    assert len(_json([])) == 7
    # ...and one deleted is forgotten.
    import shutil

    shutil.rmtree(b.folder)
    assert len(_json([])) == 3


def test_show_and_compare(two_experiments, tmp_path):
    a, b = two_experiments
    run_a, run_b = f"{a.folder.name}/g-relu-he-8x6", f"{b.folder.name}/g-relu-he-8x6"
    shown = runner.invoke(app, ["runs", "show", run_a])
    assert shown.exit_code == 0, shown.output
    key = ResultsFolder(a.folder).read_manifest().run("g-relu-he-8x6")["key"]
    assert key in shown.output and "relu" in shown.output
    assert runner.invoke(app, ["runs", "show", key[:8]]).exit_code == 0
    missing = runner.invoke(app, ["runs", "show", "nope/nothing"])
    assert missing.exit_code == 1 and "no run 'nope/nothing'" in missing.output

    stem = tmp_path / "cmp"
    result = runner.invoke(app, ["runs", "compare", run_a, run_b, "-o", str(stem)])
    assert result.exit_code == 0, result.output
    assert "lr" in result.output  # the one setting that differs gets a column
    assert (tmp_path / "cmp.png").stat().st_size > 1000
    assert (tmp_path / "cmp.svg").exists()
    odd = tmp_path / "odd[base]"  # printed as it is, not read as Rich markup
    odd.mkdir()
    shown = runner.invoke(app, ["runs", "compare", run_a, run_b, "-o", str(odd / "cmp")])
    assert f"figure: {odd / 'cmp.png'}" in shown.output.replace("\n", "")
    by_where = runner.invoke(
        app, ["runs", "compare", "--where", "init=he", "-o", str(tmp_path / "he")]
    )
    assert by_where.exit_code == 0 and "4 runs" in by_where.output
    # A narrow terminal folds the cells; it never cuts an id short with "…".
    narrow = runner.invoke(
        app, ["runs", "compare", run_a, run_b, "-o", str(stem)], env={"COLUMNS": "50"}
    )
    assert narrow.exit_code == 0 and "…" not in narrow.output
    assert max(len(line) for line in narrow.output.splitlines() if "│" in line) <= 50


def test_rm_removes_entries_and_with_files_the_folders(two_experiments):
    a, b = two_experiments
    one = f"{a.folder.name}/g-relu-he-8x6"
    assert runner.invoke(app, ["runs", "rm", one]).exit_code == 0
    assert len(_json([])) == 7
    assert (a.folder / "runs" / "g-relu-he-8x6").exists()  # the index only

    two = f"{a.folder.name}/g-sigmoid-he-8x6"
    assert runner.invoke(app, ["runs", "rm", two, "--files", "--yes"]).exit_code == 0
    assert not (a.folder / "runs" / "g-sigmoid-he-8x6").exists()
    assert "g-sigmoid-he-8x6" not in (a.folder / "summary.csv").read_text()
    assert ResultsFolder(a.folder).read_manifest().run("g-sigmoid-he-8x6")["state"] == "removed"

    result = runner.invoke(app, ["runs", "rm", "--experiment", b.folder.name, "--files", "-y"])
    assert result.exit_code == 0, result.output
    assert not b.folder.exists()
    assert {r["folder"] for r in _json([])} == {str(a.folder.resolve())}
    assert runner.invoke(app, ["runs", "rm"]).exit_code == 1  # nothing selected


def test_two_experiments_writing_the_store_at_once(tmp_path, blobs_npz):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY.replace('init = ["gauss", "he"]', 'init = ["gauss", "he", "xavier"]'))
    cmd = [sys.executable, "-c", "from koubai.cli import main; main()", "run", str(spec)]
    procs = [
        subprocess.Popen(
            [*cmd, "-d", str(blobs_npz), "-o", str(tmp_path / f"out{k}"), "--workers", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    # A third writer re-indexes both output folders in a loop meanwhile.
    with Store() as store:
        while any(p.poll() is None for p in procs):
            store.reindex([p for p in (tmp_path / "out0", tmp_path / "out1") if p.exists()])
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
        assert "run store not updated" not in err
    db = sqlite3.connect(default_path())
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT folder) FROM runs").fetchone() == (12, 2)
    assert {r[0] for r in db.execute("SELECT status FROM runs")} == {"finished"}


RUNS_LIST_IMPORTS = """
import sys
from koubai.cli import main
try:
    main(["runs", "list"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
print("imported:", sorted(m for m in ("numpy", "matplotlib", "koubai.engine") if m in sys.modules))
"""


def test_runs_list_imports_no_numpy_even_when_it_reindexes(two_experiments):
    """``koubai runs list`` reads CSV, JSON and SQLite only: NumPy, matplotlib and the engine
    stay out of its start-up, also when a folder changed and is read again."""
    a, _ = two_experiments
    summary = a.folder / ResultsFolder.SUMMARY
    stamp = summary.stat().st_mtime + 10
    os.utime(summary, (stamp, stamp))  # stale: the command re-indexes this folder
    out = subprocess.run(
        [sys.executable, "-c", RUNS_LIST_IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("8 runs")
    assert out.stdout.strip().splitlines()[-1] == "imported: []"
    with Store() as store:
        assert store.experiment(str(a.folder.resolve()))["mtime"] == stamp


def test_a_version_1_store_keeps_its_rows_and_gains_the_order_index(two_experiments):
    before = [r["id"] for r in _json([])]
    db = sqlite3.connect(default_path())
    db.executescript("DROP INDEX runs_order; PRAGMA user_version = 1;")
    db.close()
    assert [r["id"] for r in _json([])] == before  # not dropped, same order
    with Store() as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == 2
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM runs ORDER BY created DESC, folder DESC, rowid"
        ).fetchall()
    assert "runs_order" in " ".join(row[-1] for row in plan)


def test_a_store_made_by_another_process_meanwhile_is_not_made_again(two_experiments, monkeypatch):
    """Two processes open a new store at once: both read version 0; the second to take the
    write lock must see the first's tables (and rows) and leave them."""
    before = [r["id"] for r in _json([])]
    assert before
    seen = iter([0])  # this process read "no store yet" before the other one made it
    real = Store._version
    monkeypatch.setattr(Store, "_version", lambda self: next(seen, None) or real(self))
    with Store() as store:
        assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == len(before)
    monkeypatch.setattr(Store, "_version", real)
    assert [r["id"] for r in _json([])] == before


def test_a_store_from_a_newer_koubai_is_left_alone_with_a_one_line_error(two_experiments):
    db = sqlite3.connect(default_path())
    db.executescript("PRAGMA user_version = 99;")
    n = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    db.close()
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 1
    assert "written by a newer koubai (schema 99" in result.output
    assert "Traceback" not in result.output
    db = sqlite3.connect(default_path())
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == n > 0
    db.close()


@pytest.mark.parametrize("trailing", ["", "/"])
def test_a_run_is_found_by_the_folder_path_show_prints(
    two_experiments, tmp_path, monkeypatch, trailing
):
    """``koubai runs show`` prints ``folder: <experiment folder>/runs/<run>``; that path, relative
    or absolute, with or without a trailing slash, names the run in show and rm."""
    a, _ = two_experiments
    run_dir = a.folder / "runs" / "g-relu-he-8x6"
    with Store() as store:
        assert store.find(str(run_dir) + trailing)["id"] == f"{a.folder.name}/g-relu-he-8x6"
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(run_dir, tmp_path) + trailing
    shown = runner.invoke(app, ["runs", "show", relative])
    assert shown.exit_code == 0, shown.output
    assert f"{a.folder.name}/g-relu-he-8x6" in shown.output
    removed = runner.invoke(app, ["runs", "rm", relative, "--files", "--yes"])
    assert removed.exit_code == 0, removed.output
    assert not run_dir.exists() and len(_json([])) == 7


@pytest.mark.parametrize(
    "args, words",
    [
        (["--where", "activaton=sigmoid"], ["'activaton'", "did you mean 'activation'", "lr"]),
        (["--where", "nothing_like_it=1"], ["'nothing_like_it'", "experiment", "hidden_sizes"]),
        (["--status", "bogus"], ["status 'bogus'", "finished", "diverged"]),
        (["--status", "finshed"], ["did you mean 'finished'"]),
        (["--where", "status=bogus"], ["status 'bogus'", "finished"]),
    ],
)
def test_an_unknown_where_key_or_status_is_a_one_line_error(two_experiments, tmp_path, args, words):
    commands = [["list"], ["compare", "-o", str(tmp_path / "cmp")], ["rm"]]
    if args[0] == "--status":
        del commands[1]  # compare has no --status
    for command in commands:
        result = runner.invoke(app, ["runs", *command, *args])
        assert result.exit_code == 1, (command, result.output)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1
        for word in words:
            assert word in result.output, (command, result.output)
    assert len(_json([])) == 8  # rm removed nothing
    # A configuration field that no indexed run has (an older koubai's) is valid, matches none.
    with Store() as store:
        store.db.execute("UPDATE runs SET config = json_remove(config, '$.dropout')")
    assert _json(["--where", "dropout=0.0"]) == []


def test_runs_list_where_imports_no_numpy(two_experiments):
    """A known ``--where`` key is checked against the indexed configurations: no NumPy."""
    code = RUNS_LIST_IMPORTS.replace('["runs", "list"]', '["runs", "list", "-w", "lr=0.5"]')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("4 runs")
    assert out.stdout.strip().splitlines()[-1] == "imported: []"


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_closed_pipe_ends_runs_list_quietly(two_experiments, fmt):
    """``koubai runs list | head``: the reader is gone before koubai writes; no message, and
    status 141 (128 + SIGPIPE), as ``cat`` or ``yes`` killed by SIGPIPE report."""
    code = "from koubai.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "runs", "list", "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # head has read its lines and left
    _, err = proc.communicate(timeout=60)
    assert err.decode() == ""
    assert proc.returncode == 141


TWIN = """
name = "twin"
[base]
hidden_sizes = [8, 6]
iterations = 10
batch_size = 20
eval_every = 10
activation = "relu"
init = "he"
[[group]]
name = "a"
[[group]]
name = "b"
"""


def test_two_runs_with_one_key_are_told_apart_by_id_or_path(tmp_path, blobs):
    """The same configuration in two groups: one key, two runs. A longer key cannot tell them
    apart, so the message asks for the id or the path, and lists the ids."""
    spec = parse_spec(TWIN, source="twin")
    result = run_experiment(spec, dataset=blobs, out_dir=tmp_path / "out", workers=1, figures=False)
    ids = [f"{result.folder.name}/{s.name}" for s, _ in result.runs]
    key = ResultsFolder(result.folder).read_manifest().runs[0]["key"]
    for ref in (key, key[:8]):
        shown = runner.invoke(app, ["runs", "show", ref])
        assert shown.exit_code == 1
        message = " ".join(shown.output.split())
        assert f"'{ref}' names 2 runs" in message and "longer key" not in message
        assert "give the run's id or folder path" in message
        assert all(i in message for i in ids) and "…" not in message
    assert runner.invoke(app, ["runs", "show", ids[1]]).exit_code == 0


def test_an_ambiguous_run_asks_for_what_tells_the_runs_apart():
    from koubai.store import _ambiguous

    row = {"id": "x-1/r", "folder": "/a/x-1", "run": "r", "key": "abcdef0123456789"}
    other = {**row, "id": "x-1/s", "run": "s", "key": "abcdef0223456789"}
    message = _ambiguous("abcdef", [row, other], by_key=True)
    assert message.endswith("(x-1/r, x-1/s); give a longer key, or the run's id or folder path")
    twin = {**row, "folder": "/b/x-1"}  # two folders of one name: one id, two paths
    message = _ambiguous("x-1/r", [row, twin], by_key=False)
    assert message.endswith("(/a/x-1/runs/r, /b/x-1/runs/r); give the run's folder path")


def test_the_compare_figure_numbers_layers_with_whole_numbers():
    import numpy as np

    from koubai.report.compare import Overlay, plot_overlay

    run = Overlay("a", np.arange(3), np.full(3, 0.5), np.array([1e-3, 1e-2, 1e-1]))
    grad = plot_overlay([run]).axes[1]
    lo, hi = grad.get_xlim()
    ticks = [t for t in grad.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)  # layer 1, 2, 3: no 1.5
