"""(a) The whole ``vanishing`` grid of the seed: 6 runs of the 2_2_2 protocol, side by side.

sigmoid x {gauss 0.01, xavier, he} + relu x {gauss, xavier, he}; 784-[40,20]-10, lr 0.1, 2,000
iterations of batch 100, accuracy on the 10k test set and the batch every 10 iterations.

* koubai parallel — the 6 runs of ``koubai.training.train`` in a ``ProcessPoolExecutor`` with one
  worker per core and 1 BLAS thread per worker (threadpoolctl), started as koubai's runner
  starts them (:mod:`koubai.experiments.pool`: a preloaded fork server, started while the
  data are loaded, and the data prepared straight into shared memory as the runner prepares
  them); the pool's start is timed too (not the idle workers' exit, which the runner does not
  wait for);
* koubai sequential — the same runs one after another in this process (``--threads`` BLAS);
* course (float64) — the course notebook's loop (``course_reference``), one run after another,
  as a student runs the notebook's cells;
* torch eager float32 — PyTorch, one run after another (``--threads`` threads).

The reference grids take a minute or more each, so they are measured ``--reference-repeats``
times (default 1) while the koubai contenders get ``--repeats``; all are interleaved.

Run: ``python benchmarks/bench_grid.py [--quick]`` (quick: 500 iterations, ratios indicative).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import _common as C
import course_reference as course

from koubai import datasets
from koubai.experiments import executors, pool
from koubai.training import TrainConfig, train

GRID = [(act, init) for act in ("sigmoid", "relu") for init in ("gauss", "xavier", "he")]
COURSE_INIT = {"gauss": 0.01, "xavier": "xavier", "he": "he"}

_DATA = None  # the dataset, mapped from shared memory by the initializer


def _worker_init(handle: dict) -> None:
    global _DATA
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _DATA = pool.attach(handle)


def final(test_accs) -> float:
    """Mean test accuracy of the last 10 evaluations (one alone is noisy)."""
    return float(statistics.fmean(list(test_accs)[-10:]))


def _worker_run(config: TrainConfig) -> tuple[str, float]:
    r = train(config, _DATA, evaluation="inline")  # as koubai's runner: every core has a worker
    return config.label, final(r.column("test_acc"))


def configs(iterations: int, seed: int) -> list[TrainConfig]:
    return [TrainConfig(activation=a, init=i, iterations=iterations, seed=seed) for a, i in GRID]


def koubai_parallel(args, ds):
    def run(seed):
        start = time.perf_counter()
        shared = pool.SharedArrays(ds)
        try:
            workers = ProcessPoolExecutor(
                max_workers=args.workers,
                mp_context=pool.start(),
                initializer=_worker_init,
                initargs=(shared.handle,),
            )
            try:
                accs = dict(workers.map(_worker_run, configs(args.iterations, seed)))
            finally:  # as koubai's runner: idle workers exit in the background
                workers.shutdown(wait=False)
        finally:
            shared.close()
        return C.Sample(time.perf_counter() - start, {"acc": accs})

    return run


def koubai_sequential(args, ds):
    def run(seed):
        start = time.perf_counter()
        accs = {
            c.label: final(train(c, ds).column("test_acc")) for c in configs(args.iterations, seed)
        }
        return C.Sample(time.perf_counter() - start, {"acc": accs})

    return run


def course_sequential(args, ds):
    d_train = course.one_hot(ds.y_train, ds.n_classes)
    d_test = course.one_hot(ds.y_test, ds.n_classes)

    def run(seed):
        start = time.perf_counter()
        accs = {}
        for (act, init), c in zip(GRID, configs(args.iterations, seed), strict=True):
            _, acc_test, _ = course.run(
                ds.x_train,
                d_train,
                ds.x_test,
                d_test,
                activation=act,
                weight_init_std=COURSE_INIT[init],
                iters_num=args.iterations,
                seed=seed,
            )
            accs[c.label] = final(acc_test)
        return C.Sample(time.perf_counter() - start, {"acc": accs})

    return run


def torch_sequential(args, ds):
    import torch_reference as tr

    data = tr.Data(ds.x_train, ds.y_train, ds.x_test, ds.y_test, "float32")

    def run(seed):
        start = time.perf_counter()
        accs = {}
        for (act, init), c in zip(GRID, configs(args.iterations, seed), strict=True):
            accs[c.label] = final(
                tr.run(data, activation=act, init=init, iterations=args.iterations, seed=seed)[1]
            )
        return C.Sample(time.perf_counter() - start, {"acc": accs})

    return run


def main(argv=None) -> list[C.Target]:
    p = C.parser(__doc__.splitlines()[0], quick_repeats=1)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--iterations", type=int, default=None, help="default 2000 (500 quick)")
    p.add_argument("--workers", type=int, default=C.cores(), help="processes (default: cores)")
    p.add_argument("--reference-repeats", type=int, default=1)
    args = C.parse(p, argv)
    args.iterations = args.iterations or (500 if args.quick else 2000)
    torch, why = C.import_torch(args.no_torch)
    C.set_threads(args.threads)
    noise = C.header(
        f"The vanishing grid: 6 runs x {args.iterations} iterations, eval every 10, "
        f"{args.dataset}; koubai parallel on {args.workers} processes x 1 BLAS thread",
        args,
        torch,
        why,
    )
    with executors.loading_for_pool("local", len(GRID), args.workers):  # as koubai's runner
        in_shared_memory = datasets.load(args.dataset)
    ds = datasets.load(args.dataset)  # the same data, in private memory, for the others
    fast = {
        "koubai parallel": koubai_parallel(args, in_shared_memory),
        "koubai sequential": koubai_sequential(args, ds),
    }
    slow = {"course (float64) sequential": course_sequential(args, ds)}
    if torch is not None:
        slow["torch eager float32 sequential"] = torch_sequential(args, ds)
    warm = argparse.Namespace(**{**vars(args), "iterations": 20})
    for make in (koubai_sequential, course_sequential, *([torch_sequential] if torch else [])):
        make(warm, ds)(0)  # warm up: torch's first run in a process pays ~1 s of set-up
    samples = C.interleaved(fast | slow, min(args.reference_repeats, args.repeats), label="grid")
    if args.repeats > args.reference_repeats:
        more = C.interleaved(fast, args.repeats - args.reference_repeats, label="grid")
        for name, s in more.items():
            samples[name] += s

    k = C.med(samples["koubai parallel"])
    rows = [
        [name, len(s), C.fmt_time(C.med(s)), C.spread(s), C.ratio(C.med(s), k)]
        for name, s in samples.items()
    ]
    print(C.table(["contender", "n", "median", "min–max", "time / koubai parallel"], rows))
    labels = [c.label for c in configs(args.iterations, 0)]
    print("\nFinal test accuracy per run (mean of the last 10 evaluations; first repeat, seed 0):")
    print(
        C.table(
            ["run", *samples],
            [[lab, *(f"{s[0].extra['acc'][lab]:.4f}" for s in samples.values())] for lab in labels],
        )
    )
    print(noise.line())
    c = C.med(samples["course (float64) sequential"])
    targets = [
        C.Target(
            f"vanishing grid ({args.iterations} its): course sequential / koubai parallel",
            C.ratio(c, k),
            "≥ 7×",
            c / k >= 7,
        )
    ]
    C.print_targets(targets)
    return targets


if __name__ == "__main__":
    if sys.platform == "darwin":  # pragma: no cover
        os.environ.setdefault("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", "YES")
    main(sys.argv[1:])
