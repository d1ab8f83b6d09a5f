"""Scale-out and the run store: the 12-run ``vanishing`` experiment one run after another, in the
local pool, and on a Dask LocalCluster; then ``koubai runs list`` over 10,000 indexed runs.

Contenders for the grid (every one through ``koubai.experiments``, figures off, same seeds):

* **one process, one thread** — the runs one after another in one process, each exactly as a
  pool worker runs it (``executors.execute_run``: evaluation inline, one BLAS thread, files
  written): the baseline of parallel efficiency = T_one / (workers x T_pool);
* **koubai serial** — ``run_experiment(workers=1)``: koubai's default in one process, which
  evaluates on a helper thread (so it already uses ~1.9 cores; for information);
* **local pool** — ``run_experiment(workers=W)``: the fork-server pool, pool start included;
* **Dask LocalCluster** — ``run_experiment(executor="dask", workers=W)``, cluster start and
  stop included.

Each contender runs in a fresh Python process and is timed from the data's loading (from
koubai's cache) to its last file: it pays its own start-up (a fork server, a cluster, importing
Dask) and inherits nobody's. Contenders run round robin, repeat r with the same seeds; medians
are reported with min-max, and the load average before each repeat (other processes on the
machine slow every contender).
Then 10,000 runs are indexed (copies of one real experiment folder, summary and manifest only)
and ``koubai runs list`` is timed as a command (python start-up included), next to
``koubai version`` (the start-up alone) and to the store's own work (refresh + select) in
this process.

Run: ``python benchmarks/bench_pool.py [--quick] [--iterations N] [--workers W]``; only the run
store: ``--no-grid [--store-repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

CONTENDERS = ("one", "serial", "pool", "dask")


def _names(workers: int) -> dict[str, str]:
    return {
        "one": "one process, one thread",
        "serial": "koubai serial (helper thread)",
        "pool": f"local pool, {workers} workers",
        "dask": f"Dask LocalCluster, {workers} workers",
    }


def _contender(kind: str, dataset: str, iterations: int | None, workers: int, out: Path) -> float:
    """One contender, in this (fresh) process: seconds from the data's loading to the last
    file, every start-up cost of its own included (fork server, cluster, importing Dask)."""
    from koubai.experiments import load_spec, run_experiment

    spec = load_spec("vanishing")
    over = {"iterations": iterations} if iterations else None
    kw = {"dataset": dataset, "overrides": over, "figures": False, "out_dir": out}
    t = time.perf_counter()
    if kind == "one":
        from threadpoolctl import threadpool_limits

        from koubai.datasets import load
        from koubai.experiments import executors
        from koubai.experiments.runner import _Job
        from koubai.results import ResultsFolder

        data = load(dataset)
        job = _Job(ResultsFolder.create(out, "one-thread"), "en", False)
        with threadpool_limits(1):
            for run in spec.resolve(overrides=over):
                assert not isinstance(executors.execute_run(run, data, job), executors.Failed)
    elif kind == "serial":
        run_experiment(spec, workers=1, **kw)
    else:
        executor = "dask" if kind == "dask" else "local"
        result = run_experiment(spec, workers=workers, executor=executor, **kw)
        assert result.status == "finished", result.status
    return time.perf_counter() - t


def _grid(args, out: Path) -> dict[str, float]:
    """One repeat of every contender, each in a fresh Python process (no contender inherits
    another's fork server, cluster or imports); returns seconds per contender."""
    names = _names(args.workers)
    times: dict[str, float] = {}
    for kind in CONTENDERS:
        if kind == "dask" and args.no_dask:
            continue
        time.sleep(0.25)
        cmd = [sys.executable, __file__, "--contender", kind, "--dataset", args.dataset]
        cmd += ["--workers", str(args.workers), "--out", str(out / kind)]
        if args.iterations:
            cmd += ["--iterations", str(args.iterations)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        times[names[kind]] = float(done.stdout.split()[-1])
        print(f"  {names[kind]}: {times[names[kind]]:.1f} s", file=sys.stderr)
    return times


def _store(n_runs: int, data, tmp: Path, repeats: int = 5) -> dict[str, float]:
    """Index ``n_runs`` runs (copies of one real folder) and time ``koubai runs list``, each
    command ``repeats`` times, round robin."""
    from koubai.experiments import load_spec, run_experiment
    from koubai.store import Store

    home = tmp / "home"
    env = {**os.environ, "KOUBAI_HOME": str(home)}
    os.environ["KOUBAI_HOME"] = str(home)
    seed = run_experiment(
        load_spec("vanishing"),
        dataset=data,
        overrides={"iterations": 20},
        out_dir=tmp / "seed",
        workers=1,
        figures=False,
    )
    root = tmp / "many"
    per = len(seed.runs)
    for k in range(-(-n_runs // per)):
        target = root / f"vanishing-{k:05d}"
        shutil.copytree(seed.folder, target, ignore=shutil.ignore_patterns("runs"))
    with Store() as store:
        t = time.perf_counter()
        _, indexed = store.reindex([root])
        reindex = time.perf_counter() - t
        t = time.perf_counter()
        store.refresh()
        rows = store.select([])
        in_process = time.perf_counter() - t
    koubai = [sys.executable, "-c", "from koubai.cli import main; main()"]
    cmd, version, where = [], [], []
    commands = (
        (cmd, ["runs", "list"]),
        (version, ["version"]),
        (where, ["runs", "list", "--where", "activation=sigmoid"]),
    )
    loads = [os.getloadavg()[0]]
    for _ in range(repeats):
        for times, args in commands:
            t = time.perf_counter()
            subprocess.run([*koubai, *args], env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
    loads.append(os.getloadavg()[0])
    return {
        "runs indexed": float(indexed),
        "rows listed in process": float(len(rows)),
        "reindex (s)": reindex,
        "refresh + select in process (s)": in_process,
        f"koubai runs list (s, median of {repeats})": statistics.median(cmd),
        f"koubai runs list (s, min of {repeats})": min(cmd),
        "koubai runs list --where activation=sigmoid (s, median)": statistics.median(where),
        "koubai runs list --where activation=sigmoid (s, min)": min(where),
        "koubai version: start-up alone (s, median)": statistics.median(version),
        "koubai version: start-up alone (s, min)": min(version),
        "load average (1 min) before the commands": loads[0],
        "load average (1 min) after the commands": loads[1],
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1 repeat, 500 iterations")
    p.add_argument("--iterations", type=int, default=None, help="override every run's")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--store-runs", type=int, default=10_000)
    p.add_argument("--no-grid", action="store_true", help="only the run store")
    p.add_argument("--store-repeats", type=int, default=5, help="times each command is run")
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.contender:  # one contender, in a process of its own (see _grid)
        t = _contender(args.contender, args.dataset, args.iterations, args.workers, args.out)
        print(f"{t:.3f}")
        return
    if args.quick:
        args.repeats, args.iterations = 1, args.iterations or 500
    from koubai.datasets import load

    data = load(args.dataset)
    print(f"# bench_pool: {C.cpu_model()}, {C.cores()} cores; data {data.name}; "
          f"iterations {args.iterations or 'as the spec'}; {args.repeats} repeats")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="koubai-bench-pool-") as tmp:
        os.environ["KOUBAI_HOME"] = str(Path(tmp) / "grid-home")
        samples: dict[str, list[float]] = {}
        loads = []
        for r in range(0 if args.no_grid else args.repeats):
            loads.append(os.getloadavg()[0])
            print(f"repeat {r + 1}/{args.repeats} (load average {loads[-1]:.1f})", file=sys.stderr)
            for name, t in _grid(args, Path(tmp) / f"r{r}").items():
                samples.setdefault(name, []).append(t)
        if samples:
            _report(samples, loads, args.workers)
        store = _store(args.store_runs, data, Path(tmp), args.store_repeats)
    print("\n| run store | value |\n|---|---|")
    for k, v in store.items():
        print(f"| {k} | {v:.0f} |" if v >= 100 else f"| {k} | {v:.3f} |")


def _report(samples: dict[str, list[float]], loads: list[float], workers: int) -> None:
    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med["one process, one thread"]
    print("\n| contender | median | min-max | parallel efficiency vs one thread |")
    print("|---|---|---|---|")
    for name, t in med.items():
        eff = base / (workers * t) if "workers" in name else None
        span = f"{min(samples[name]):.1f}-{max(samples[name]):.1f} s"
        print(f"| {name} | {t:.1f} s | {span} | {f'{eff:.2f}' if eff else ''} |")
    pool = next(t for n, t in med.items() if n.startswith("local pool"))
    dask = [t for n, t in med.items() if n.startswith("Dask")]
    if dask:
        print(f"\nDask / local pool wall time: {dask[0] / pool:.2f} (target <= 1.15)")
        pools = next(v for n, v in samples.items() if n.startswith("local pool"))
        dasks = next(v for n, v in samples.items() if n.startswith("Dask"))
        ratios = [d / p for d, p in zip(dasks, pools, strict=True)]
        print(f"Dask / local pool, repeat by repeat (the pair ran back to back): median "
              f"{statistics.median(ratios):.2f}, {min(ratios):.2f}-{max(ratios):.2f}")  # fmt: skip
    print(f"parallel efficiency of the pool: {base / (workers * pool):.2f} (target >= 0.8)")
    print(f"load average (1 min) before each repeat: {', '.join(f'{x:.1f}' for x in loads)}")


if __name__ == "__main__":
    main()
