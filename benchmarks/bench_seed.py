"""(a) The seed protocol for one configuration: koubai against the course loop and PyTorch eager.

The course's ``2_2_2`` protocol: 784-[40,20]-10, lr 0.1, 2,000 iterations of batch 100 drawn with
replacement, accuracy on the 10k test set and on the batch every 10 iterations, Fashion-MNIST
(the real 60k/10k files). Each contender runs ``--repeats`` times, round robin, repeat r with
seed r (so the accuracy spread is the seed noise). Then the peak memory (RSS) of a koubai run,
measured in a fresh subprocess, against the dataset's float32 size.

Run: ``python benchmarks/bench_seed.py [--quick] [--activation relu --init he]``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time

import _common as C
import course_reference as course

from koubai import datasets
from koubai.training import TrainConfig, train

COURSE_INIT = {"gauss": 0.01, "xavier": "xavier", "he": "he"}


def load(name: str):
    ds = datasets.load(name)
    return ds, course.one_hot(ds.y_train, ds.n_classes), course.one_hot(ds.y_test, ds.n_classes)


def contenders(args, ds, d_train, d_test, torch):
    """name -> function(seed) -> Sample(seconds, final test accuracy)."""
    base = dict(activation=args.activation, init=args.init)

    def koubai(dtype):
        def run(seed, iterations=args.iterations):
            cfg = TrainConfig(**base, iterations=iterations, dtype=dtype, seed=seed)
            t = time.perf_counter()
            r = train(cfg, ds)
            return C.Sample(time.perf_counter() - t, {"acc": final(r.column("test_acc"))})

        return run

    def course_run(seed, iterations=args.iterations):
        t = time.perf_counter()
        _, acc_test, _ = course.run(
            ds.x_train,
            d_train,
            ds.x_test,
            d_test,
            activation=args.activation,
            weight_init_std=COURSE_INIT[args.init],
            iters_num=iterations,
            seed=seed,
        )
        return C.Sample(time.perf_counter() - t, {"acc": final(acc_test)})

    out = {"koubai float32": koubai("float32"), "koubai float64": koubai("float64")}
    out["course (float64)"] = course_run
    if torch is not None:
        import torch_reference as tr

        for dtype in ("float32", "float64"):
            data = tr.Data(ds.x_train, ds.y_train, ds.x_test, ds.y_test, dtype)

            def run(seed, iterations=args.iterations, data=data):
                t = time.perf_counter()
                _, accs, _ = tr.run(
                    data,
                    activation=args.activation,
                    init=args.init,
                    iterations=iterations,
                    seed=seed,
                )
                return C.Sample(time.perf_counter() - t, {"acc": final(accs)})

            out[f"torch eager {dtype}"] = run
    return out


def final(test_accs) -> float:
    """The final test accuracy, as the mean of the last 10 evaluations (iterations 1,910-2,000):
    one evaluation alone is noisy (its spread over seeds is ~0.01 on Fashion-MNIST)."""
    return float(statistics.fmean(list(test_accs)[-10:]))


def acc_stats(samples) -> tuple[float, float]:
    accs = [s.extra["acc"] for s in samples]
    return statistics.fmean(accs), (statistics.stdev(accs) if len(accs) > 1 else 0.0)


# -- peak memory -----------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import json
    from threadpoolctl import threadpool_limits
    threadpool_limits({threads}, user_api="blas")
    from koubai import datasets
    from koubai.training import TrainConfig, train

    def peak():  # peak RSS of this process (VmHWM; getrusage's ru_maxrss counts the parent's)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    imported = peak()
    ds = datasets.load({dataset!r})
    loaded = peak()
    size = sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
    if {course!r}:
        import course_reference as course
        course.run(ds.x_train, course.one_hot(ds.y_train), ds.x_test, course.one_hot(ds.y_test),
                   activation={activation!r}, weight_init_std={course_init!r},
                   iters_num={iterations})
    else:
        train(TrainConfig(activation={activation!r}, init={init!r}, iterations={iterations}), ds)
    print(json.dumps({{"imported": imported, "loaded": loaded, "peak": peak(), "data": size}}))
    """
)


def peak_memory(args, course: bool = False) -> dict:
    """Peak RSS (bytes) of a fresh process that loads the data and makes one run, koubai's or
    the course loop's, with the RSS after the imports and after loading."""
    code = MEMORY_SCRIPT.format(
        course=course,
        threads=args.threads,
        dataset=args.dataset,
        activation=args.activation,
        init=args.init,
        course_init=COURSE_INIT[args.init],
        iterations=args.iterations,
    )
    path = [str(C.SRC), str(C.HERE), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> list[C.Target]:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--init", default="xavier", choices=["gauss", "xavier", "he"])
    p.add_argument("--iterations", type=int, default=2000)
    args = C.parse(p, argv)
    torch, why = C.import_torch(args.no_torch)
    C.set_threads(args.threads)
    title = (
        f"Seed protocol, one configuration: {args.activation}+{args.init}, 784-[40,20]-10, "
        f"{args.iterations} iterations, eval every 10, {args.dataset}"
    )
    noise = C.header(title, args, torch, why)
    ds, d_train, d_test = load(args.dataset)
    runs = contenders(args, ds, d_train, d_test, torch)
    for run in runs.values():  # warm up: torch's first run in a process pays ~1 s of set-up
        run(0, iterations=20)
    samples = C.interleaved(runs, args.repeats, label="seed")

    ref = samples["koubai float32"]
    k_time = C.med(ref)
    k_acc, k_sd = acc_stats(ref)
    rows = []
    for name, s in samples.items():
        acc, sd = acc_stats(s)
        rows.append(
            [
                name,
                C.fmt_time(C.med(s)),
                C.spread(s),
                C.ratio(C.med(s), k_time),
                f"{acc:.4f} ± {sd:.4f}",
            ]
        )
    print(
        C.table(
            [
                "contender",
                "median",
                "min–max",
                "time / koubai f32",
                "final test acc (mean ± sd over seeds)",
            ],
            rows,
        )
    )
    print(noise.line())

    mem = peak_memory(args)
    runs = [("koubai float32", mem)]
    if not args.quick:  # the course loop's peak, for comparison (another ~12 s)
        runs.append(("course (float64)", peak_memory(args, course=True)))
    mb = lambda b: f"{b / 2**20:.0f} MB"  # noqa: E731
    print(f"\nPeak RSS of one run in a fresh process (the dataset in float32: {mb(mem['data'])}):")
    rows = [
        [name, mb(m["imported"]), mb(m["loaded"]), mb(m["peak"]), mb(m["peak"] - m["loaded"])]
        for name, m in runs
    ]
    print(C.table(["run", "after imports", "after loading", "peak", "the run adds"], rows))

    def agrees(name) -> bool:
        """Same final accuracy within seed noise: |difference of the means| <= max(0.01, 3 SE)."""
        acc, sd = acc_stats(samples[name])
        n = len(samples[name])
        se = (sd**2 / n + k_sd**2 / len(ref)) ** 0.5
        return abs(acc - k_acc) <= max(0.01, 3 * se)

    def versus(name: str, factor: float, what: str) -> C.Target:
        if name not in samples:
            return C.Target(what, why or "not measured", f"≥ {factor:g}×", None)
        t = C.med(samples[name])
        delta = k_acc - acc_stats(samples[name])[0]
        return C.Target(
            what,
            f"{C.ratio(t, k_time)} (accuracy Δ {delta:+.4f})",
            f"≥ {factor:g}×, same accuracy",
            t / k_time >= factor and agrees(name),
        )

    targets = [
        versus("course (float64)", 4, "seed protocol: course loop / koubai f32"),
        versus("torch eager float32", 2, "seed protocol: torch f32 eager / koubai f32"),
    ]
    limit = mem["data"] + 100 * 2**20
    targets.append(
        C.Target(
            "peak RSS of a seed run",
            f"{mb(mem['peak'])} (data {mb(mem['data'])} + {mb(mem['peak'] - mem['data'])}; "
            f"the run itself adds {mb(mem['peak'] - mem['loaded'])})",
            "≤ data f32 + 100 MB",
            mem["peak"] <= limit,
        )
    )
    C.print_targets(targets)
    return targets


if __name__ == "__main__":
    main(sys.argv[1:])
