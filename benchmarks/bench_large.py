"""(c) A larger net, where the matrix multiplies dominate: 784-[1024]x4-10 ReLU+He, batch 256.

Times one training step (sample a batch, forward, backward, SGD update) of koubai float32 and
float64, the course's layer classes (float64) and PyTorch eager, and the *matmul floor*: the same
14 products a step needs (5 forward, 5 weight gradients, 4 input gradients — the first layer
needs none), timed back to back in float32. ``floor / koubai`` is the share of NumPy's own
matmul throughput that koubai's step reaches.

Run: ``python benchmarks/bench_large.py [--quick] [--steps 10]``.
"""

from __future__ import annotations

import statistics
import sys
import time

import _common as C
import course_reference as course
import numpy as np

from koubai import datasets
from koubai.engine import MLP, SGD
from koubai.training import BatchSampler

SIZES = [784, 1024, 1024, 1024, 1024, 10]
BATCH = 256


def koubai_stepper(ds, dtype: str):
    net = MLP(784, SIZES[1:-1], 10, activation="relu", init="he", seed=0, dtype=dtype)
    opt = SGD(0.01)
    sampler = BatchSampler(ds.n_train, BATCH, "replacement", np.random.default_rng(1))
    x_train = np.asarray(ds.x_train, dtype=dtype)
    x_batch = np.empty((BATCH, 784), dtype=dtype)

    def step():  # what koubai.training.train does per iteration
        idx = sampler.next()
        np.take(x_train, idx, axis=0, out=x_batch)
        net.forward_backward(x_batch, ds.y_train[idx])
        opt.step(net.params, net.grads)

    return step


def course_stepper(ds):
    rng = np.random.RandomState(0)
    net = course.MultiLayerNet(
        784, SIZES[1:-1], 10, activation="relu", weight_init_std="he", rng=rng
    )
    d_train = course.one_hot(ds.y_train, ds.n_classes)

    def step():
        mask = rng.choice(ds.n_train, BATCH)
        grad = net.gradient(ds.x_train[mask], d_train[mask])
        for key in net.params:
            net.params[key] -= 0.01 * grad[key]

    return step


def matmul_floor(dtype=np.float32):
    """The 14 products of one step, on arrays of the right shapes and layouts."""
    rng = np.random.default_rng(0)
    acts = [rng.random((BATCH, n), dtype=np.float32).astype(dtype) for n in SIZES[:-1]]
    deltas = [rng.standard_normal((BATCH, n)).astype(dtype) for n in SIZES[1:]]
    weights = [
        rng.standard_normal((a, b)).astype(dtype)
        for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]

    def step():
        for x, w in zip(acts, weights, strict=True):
            x @ w  # forward
        for i, (x, d, w) in enumerate(zip(acts, deltas, weights, strict=True)):
            x.T @ d  # dL/dW
            if i:
                d @ w.T  # dL/dx

    return step


def paired(step, floor, steps: int) -> float:
    """``floor time / step time`` with the two alternating step by step, so that a slow spell of
    a shared machine slows both alike (both use only NumPy's BLAS: no pause needed)."""
    step(), floor()
    t_step = t_floor = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        floor()
        t_floor += time.perf_counter() - t1
        t_step += t1 - t0
    return t_floor / t_step


def flops_per_step() -> float:
    fwd = sum(BATCH * a * b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True))
    first = BATCH * SIZES[0] * SIZES[1]
    return 2.0 * (3 * fwd - first)


def main(argv=None) -> list[C.Target]:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="steps per sample (default 10; 4 quick)")
    p.add_argument("--dataset", default="fashion-mnist")
    args = C.parse(p, argv)
    steps = args.steps or (4 if args.quick else 10)
    torch, why = C.import_torch(args.no_torch)
    C.set_threads(args.threads)
    noise = C.header(
        f"Larger net: 784-[1024]x4-10 ReLU+He, batch {BATCH}, SGD; time per step ({steps} steps "
        "per sample)",
        args,
        torch,
        why,
    )
    ds = datasets.load(args.dataset)
    steppers = {
        "koubai float32": koubai_stepper(ds, "float32"),
        "koubai float64": koubai_stepper(ds, "float64"),
        "course (float64)": course_stepper(ds),
        "matmul floor float32": matmul_floor(np.float32),
        "matmul floor float64": matmul_floor(np.float64),
    }
    if torch is not None:
        import torch_reference as tr

        for dtype in ("float32", "float64"):
            data = tr.Data(ds.x_train, ds.y_train, ds.x_test[:1], ds.y_test[:1], dtype)
            s = tr.Stepper(data, SIZES, "relu", "he", batch_size=BATCH, lr=0.01)
            steppers[f"torch eager {dtype}"] = s.step
    timed = {name: (lambda r, f=f: C.timeit(f, steps)) for name, f in steppers.items()}
    samples = C.interleaved(timed, args.repeats, label="large")
    k = C.med(samples["koubai float32"])
    flops = flops_per_step()
    rows = [
        [
            name,
            C.fmt_time(C.med(s)),
            C.spread(s),
            f"{flops / C.med(s) / 1e9:.0f}",
            C.ratio(C.med(s), k),
        ]
        for name, s in samples.items()
    ]
    print(C.table(["contender", "median / step", "min–max", "GFLOP/s", "time / koubai f32"], rows))
    print(noise.line())
    shares = [
        paired(steppers["koubai float32"], steppers["matmul floor float32"], steps)
        for _ in range(args.repeats)
    ]
    share = statistics.median(shares)
    print(
        f"\nkoubai float32 step against the float32 matmul floor, alternating step by step: "
        f"{100 * share:.0f} % of the floor's throughput (median; "
        f"{100 * min(shares):.0f}–{100 * max(shares):.0f} %)"
    )
    targets = [
        C.Target(
            "larger net: koubai f32 step vs NumPy f32 matmul floor (paired)",
            f"{100 * share:.0f} % of matmul throughput",
            "≥ 90 %",
            share >= 0.9,
        )
    ]
    if "torch eager float32" in samples:
        t = C.med(samples["torch eager float32"])
        targets.append(
            C.Target(
                "larger net: torch f32 / koubai f32", C.ratio(t, k), "≥ 1× (no slower)", t >= k
            )
        )
    else:
        targets.append(C.Target("larger net: torch f32 / koubai f32", why, "≥ 1×", None))
    C.print_targets(targets)
    return targets


if __name__ == "__main__":
    main(sys.argv[1:])
