"""Sweeps on Dask: a real LocalCluster (2 worker processes) gives the local pool's numbers."""

import csv
import sys

import pytest
from typer.testing import CliRunner

from _specs import tiny
from koubai.cli import app
from koubai.experiments import parse_spec, run_experiment

pytest.importorskip("distributed", reason='the Dask extra is not installed (pip install ".[dask]")')

runner = CliRunner()

TINY = tiny(60)


def _rows(path):
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def test_a_local_cluster_gives_the_local_pools_results(tmp_path, blobs, monkeypatch):
    import distributed

    spec = parse_spec(TINY, source="tiny")
    kw = {"dataset": blobs, "workers": 2, "figures": False}
    local = run_experiment(spec, out_dir=tmp_path / "local", **kw)

    def scatter(*args, **kwargs):
        raise AssertionError("a LocalCluster's workers map the data; nothing is scattered")

    monkeypatch.setattr(distributed.Client, "scatter", scatter)
    on_dask = run_experiment(spec, out_dir=tmp_path / "dask", executor="dask", **kw)
    assert on_dask.status == "finished"
    assert _rows(on_dask.folder / "summary.csv") == _rows(local.folder / "summary.csv")
    for (_, a), (_, b) in zip(local.runs, on_dask.runs, strict=True):
        assert a.records == b.records
    from koubai.results import ResultsFolder

    assert ResultsFolder(on_dask.folder).read_manifest().state == "complete"


def test_an_existing_scheduler_and_a_failing_run(tmp_path, blobs):
    from distributed import LocalCluster

    failing = TINY.replace(
        '[group.grid]\nactivation = ["sigmoid", "relu"]\ninit = ["gauss", "he"]',
        'runs = [{ activation = "relu" }, { optimizer = "momentum", '
        "optimizer_args = { momentum = 1.5 } }]",
    )
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = run_experiment(
            parse_spec(failing, source="failing"),
            dataset=blobs,
            out_dir=tmp_path,
            figures=False,
            executor="dask",
            scheduler=cluster.scheduler_address,
        )
    assert result.status == "failed"
    assert [spec.name for spec, _ in result.runs] == ["g-relu-xavier-8x6"]
    ((spec, error),) = result.failures
    assert error == "ValueError: momentum must lie in [0, 1), got 1.5"


def test_without_dask_the_executor_says_what_to_install(tmp_path, blobs_npz, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    result = runner.invoke(
        app,
        ["run", "vanishing", "-d", str(blobs_npz), "-o", str(tmp_path / "o"), "--executor", "dask"],
    )
    assert result.exit_code == 1
    assert 'pip install "koubai[dask]"' in result.output
    assert not (tmp_path / "o").exists()
    other = runner.invoke(app, ["run", "vanishing", "--dask-scheduler", "tcp://x:1"])
    assert other.exit_code == 1 and "executor 'dask'" in other.output


def test_the_local_clusters_workers_come_from_the_fork_server():
    """Forked from koubai's fork server (Dask, NumPy and the training code imported there
    once), not spawned afresh, each importing all of it again."""
    import os
    from multiprocessing import forkserver

    from koubai.experiments import cluster

    client, local = cluster._client(2, None)
    try:
        parents = set(client.run(os.getppid).values())
        loaded = set(client.run(lambda: "koubai.training" in sys.modules).values())
        settings = client.run(_settings, list(cluster.LOCAL_CLUSTER_CONFIG))
        saturation = client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.WORKER_SATURATION
        )
    finally:
        client.close()
        local.close()
    assert parents == {forkserver._forkserver._forkserver_pid}
    assert loaded == {True}
    # The quiet settings reach every worker, and the scheduler hands out one run per worker.
    assert all(s == cluster.LOCAL_CLUSTER_CONFIG for s in settings.values())
    assert saturation == 1.0


def _settings(keys):
    import dask

    return {k: dask.config.get(k) for k in keys}
