"""The house's shape: koubai leaves the user's matplotlib alone, figures are Figure objects,
the training code stays short and never parses parameter names, one class owns the results
folder's file names, and the runner's workers are not forked from a threaded process."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from koubai.errors import ConfigError, ResultsError
from koubai.results import ResultsFolder, atomic_write

SRC = Path(__file__).resolve().parents[1] / "src" / "koubai"

MATPLOTLIB_STATE = r"""
import json, sys, matplotlib
# The raw setting: get_backend() would resolve it, and import pyplot to do so.
raw_backend = lambda: repr(dict.__getitem__(matplotlib.rcParams, "backend"))
before_backend = raw_backend()
before = {k: repr(dict.__getitem__(matplotlib.rcParams, k)) for k in matplotlib.rcParams}
import koubai, koubai.report, koubai.report.figures, koubai.report.diagnostics
import koubai.report.html, koubai.report.fonts, koubai.lessons, koubai.experiments
import numpy as np
from koubai.report.figures import Curves, plot_run, plot_comparison
c = Curves("x", np.arange(3), np.zeros(3), np.ones(3))
figs = [plot_run(c, lang=lang) for lang in ("en", "ja")] + [plot_comparison([[c]], lang="ja")]
after = {k: repr(dict.__getitem__(matplotlib.rcParams, k)) for k in matplotlib.rcParams}
changed = sorted(k for k in before if before[k] != after[k])
import matplotlib.figure
print(json.dumps({"backend": [before_backend, raw_backend()], "changed": changed,
                  "figures": all(isinstance(f, matplotlib.figure.Figure) for f in figs),
                  "pyplot": "matplotlib.pyplot" in sys.modules}))
"""


def test_importing_koubai_and_drawing_leave_matplotlib_as_it_was():
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", MATPLOTLIB_STATE],
        capture_output=True,
        text=True,
        check=True,
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["backend"][0] == state["backend"][1]
    assert state["changed"] == []
    assert state["figures"] is True
    assert state["pyplot"] is False  # koubai never imports pyplot


def test_every_public_plot_function_returns_a_figure():
    from koubai.datasets import load
    from koubai.report import diagnostics as D
    from koubai.training import TrainConfig, train

    data = load("digits")
    res = train(TrainConfig(hidden_sizes=(8, 6), iterations=30, diagnostics_every=10), data)
    from koubai.training.probes import decode_meta

    d = decode_meta(res.diagnostics.arrays())
    for plot in (D.plot_gradient_flow, D.plot_activation_histograms, D.plot_health):
        assert isinstance(plot(d, title="t"), Figure)
    for plot in (D.plot_gradient_profiles, D.plot_nonlinearity_inputs):
        assert isinstance(plot([("a", d), ("b", d)], title="t"), Figure)


def _functions(root: Path):
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path, node.name, node.end_lineno - node.lineno + 1


def test_functions_stay_short():
    long_training = [(p.name, n, k) for p, n, k in _functions(SRC / "training") if k > 60]
    long_anywhere = [(str(p), n, k) for p, n, k in _functions(SRC) if k > 100]
    assert long_training == []
    assert long_anywhere == []


def test_training_never_parses_parameter_names():
    for path in (SRC / "training").rglob("*.py"):
        assert 'split(".")' not in path.read_text("utf-8"), path


def test_no_results_file_name_is_spelled_outside_the_folder_class():
    names = [
        getattr(ResultsFolder, k)
        for k in ("SPEC", "SUMMARY", "BY_CONFIG", "REPORT", "METRICS", "MODEL", "DIAGNOSTICS")
    ]
    pattern = re.compile("|".join(re.escape(f'"{n}"') + "|" + re.escape(f"'{n}'") for n in names))
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "results.py" and pattern.search(p.read_text("utf-8"))
    ]
    assert offenders == []


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "summary.csv"
    atomic_write(target, "old\n")

    def broken(fh):
        fh.write(b"half a fi")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv"]


def test_the_folder_refuses_names_that_leave_it(tmp_path):
    folder = ResultsFolder.create(tmp_path / "out", "exp")
    for name in ("../escape", "/abs", "..", "a/b", "tab\there"):
        with pytest.raises(ConfigError):
            folder.run_dir(name)
    with pytest.raises(ConfigError):
        ResultsFolder.create(tmp_path / "out", "../../elsewhere")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert folder.run_dir("実験-1").parent == folder.path / ResultsFolder.RUNS


def test_opening_says_whether_the_folder_is_missing_or_not_ours(tmp_path):
    with pytest.raises(ResultsError, match="does not exist"):
        ResultsFolder.open(tmp_path / "nowhere")
    with pytest.raises(ResultsError, match="not a koubai results folder"):
        ResultsFolder.open(tmp_path)


def test_runner_workers_come_from_a_fork_server_and_map_shared_data():
    from koubai.experiments import pool

    assert pool.context().get_start_method() in ("forkserver", "spawn")

    class Data:
        name, n_classes = "toy", 3
        x_train = np.arange(12, dtype=np.float32).reshape(4, 3)
        y_train = np.array([0, 1, 2, 1])
        x_test = np.ones((2, 3), dtype=np.float32)
        y_test = np.array([2, 0])

    shared = pool.SharedArrays(Data)
    try:
        seen = pool.attach(shared.handle)
        np.testing.assert_array_equal(seen.x_train, Data.x_train)
        np.testing.assert_array_equal(seen.y_test, Data.y_test)
        assert seen.n_classes == 3 and not seen.x_train.flags.writeable
    finally:
        shared.close()


MAIN_SCRIPT = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
with open(sys.argv[1] if len(sys.argv) > 1 else os.environ["RUNS_LOG"], "a") as log:
    log.write(f"{os.getpid()}\\n")  # every execution of this script, wherever it happens

def pid(_):
    return os.getpid()

if __name__ == "__main__":
    from koubai.experiments import pool
    with ProcessPoolExecutor(2, mp_context=pool.start()) as workers:
        seen = set(workers.map(pid, range(8)))
    print(len(seen), "KOUBAI_FORK_SERVER_MAIN" in os.environ)
"""


def test_the_fork_server_runs_the_main_script_once_for_every_worker(tmp_path):
    """A worker needs the main script's functions; the fork server runs the script once and
    its workers inherit it, rather than each worker running it again (CPython gh-126631)."""
    script, log = tmp_path / "main.py", tmp_path / "runs.log"
    script.write_text(MAIN_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), str(log)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    workers, env_left = out.stdout.split()
    assert env_left == "False"
    # this process and the fork server: 2 whatever the number of workers (here 1 or 2)
    assert len(log.read_text().split()) == 2, (workers, log.read_text())


def test_data_prepared_in_shared_memory_are_the_same_and_the_pool_copies_nothing():
    import gc
    import os

    from koubai.datasets import from_arrays
    from koubai.experiments import pool

    rng = np.random.default_rng(0)
    arrays = (
        rng.integers(0, 256, (3000, 6, 6), dtype=np.uint8),  # several slices of _ROWS rows
        np.arange(3000) % 4,
        rng.integers(0, 256, (50, 6, 6), dtype=np.uint8),
        np.arange(50) % 4,
    )
    plain = from_arrays(*arrays)
    with pool.data_in_shared_memory():
        shared = from_arrays(*arrays)
    for key in pool.ARRAYS:
        np.testing.assert_array_equal(getattr(shared, key), getattr(plain, key), strict=True)
    assert not shared.x_train.flags.writeable and not shared.x_test.flags.writeable
    blocks = pool.SharedArrays(shared)
    try:
        assert len(blocks._blocks) == 2  # the labels only: the inputs are the dataset's own
        seen = pool.attach(blocks.handle)
        np.testing.assert_array_equal(seen.x_train, plain.x_train)
        np.testing.assert_array_equal(seen.x_test, plain.x_test)
        assert not seen.x_train.flags.writeable and not seen.x_test.flags.writeable
        names = [blocks.handle["arrays"][k][0] for k in ("x_train", "x_test")]
    finally:
        blocks.close()
    if os.path.isdir("/dev/shm"):
        assert all(os.path.exists(f"/dev/shm/{n}") for n in names)
        del seen, shared, blocks
        gc.collect()
        assert not any(os.path.exists(f"/dev/shm/{n}") for n in names)  # freed with the data
