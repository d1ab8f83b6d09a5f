"""(b) One training step of the seed net: 784-[40,20]-10 sigmoid, batch 100, SGD lr 0.1.

A step is what the training loop does per iteration: draw a batch with replacement, forward,
loss, backward, update. Contenders: koubai float32/float64, the course's layer classes (float64),
PyTorch eager float32/float64, and the *matmul floor*: the 8 products a step needs (3 forward,
3 weight gradients, 2 input gradients), timed back to back in float32. Then where koubai's step
spends its time (sampling, forward + loss, backward, update).

Run: ``python benchmarks/bench_step.py [--quick] [--activation relu --init he]``.
"""

from __future__ import annotations

import sys
import time

import _common as C
import course_reference as course
import numpy as np

from koubai import datasets
from koubai.engine import MLP, SGD
from koubai.training import BatchSampler

SIZES = [784, 40, 20, 10]
BATCH = 100


class KoubaiStep:
    """The loop's per-iteration work (as in ``koubai.training.train``), split into phases."""

    def __init__(self, ds, dtype: str, activation: str, init: str) -> None:
        self.net = MLP(784, SIZES[1:-1], 10, activation=activation, init=init, dtype=dtype)
        self.opt = SGD(0.1)
        self.sampler = BatchSampler(ds.n_train, BATCH, "replacement", np.random.default_rng(1))
        self.x_train = np.asarray(ds.x_train, dtype=dtype)
        self.y_train = ds.y_train
        self.x_batch = np.empty((BATCH, 784), dtype=dtype)

    def step(self) -> None:
        idx = self.sampler.next()
        np.take(self.x_train, idx, axis=0, out=self.x_batch)
        self.net.forward_backward(self.x_batch, self.y_train[idx])
        self.opt.step(self.net.params, self.net.grads)

    def phases(self, steps: int) -> dict[str, float]:
        """Median seconds per phase over ``steps`` steps."""
        t = {k: [] for k in ("sample batch", "forward + loss", "backward", "SGD update")}
        net = self.net
        for _ in range(steps):
            t0 = time.perf_counter()
            idx = self.sampler.next()
            np.take(self.x_train, idx, axis=0, out=self.x_batch)
            tb = self.y_train[idx]
            t1 = time.perf_counter()
            net.loss(self.x_batch, tb)
            t2 = time.perf_counter()
            net.backward()
            t3 = time.perf_counter()
            self.opt.step(net.params, net.grads)
            t4 = time.perf_counter()
            for key, a, b in zip(t, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
                t[key].append(b - a)
        return {k: float(np.median(v)) for k, v in t.items()}


def course_stepper(ds, activation: str, init):
    rng = np.random.RandomState(0)
    net = course.MultiLayerNet(
        784, SIZES[1:-1], 10, activation=activation, weight_init_std=init, rng=rng
    )
    d_train = course.one_hot(ds.y_train, ds.n_classes)

    def step():
        mask = rng.choice(ds.n_train, BATCH)
        grad = net.gradient(ds.x_train[mask], d_train[mask])
        for key in net.params:
            net.params[key] -= 0.1 * grad[key]

    return step


def matmul_floor(sizes, batch, dtype=np.float32):
    """The products of one step (forward, dL/dW, dL/dx except the first layer's), back to back."""
    rng = np.random.default_rng(0)
    acts = [rng.random((batch, n), dtype=np.float32).astype(dtype) for n in sizes[:-1]]
    deltas = [rng.standard_normal((batch, n)).astype(dtype) for n in sizes[1:]]
    weights = [
        rng.standard_normal((a, b)).astype(dtype)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]

    def step():
        for x, w in zip(acts, weights, strict=True):
            x @ w
        for i, (x, d, w) in enumerate(zip(acts, deltas, weights, strict=True)):
            x.T @ d
            if i:
                d @ w.T

    return step


def main(argv=None) -> list[C.Target]:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="steps per sample (default 500)")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--init", default="xavier", choices=["gauss", "xavier", "he"])
    args = C.parse(p, argv)
    steps = args.steps or (200 if args.quick else 500)
    torch, why = C.import_torch(args.no_torch)
    C.set_threads(args.threads)
    noise = C.header(
        f"One training step of the seed net: 784-[40,20]-10 {args.activation}+{args.init}, "
        f"batch {BATCH}, SGD ({steps} steps per sample)",
        args,
        torch,
        why,
    )
    ds = datasets.load(args.dataset)
    k32 = KoubaiStep(ds, "float32", args.activation, args.init)
    steppers = {
        "koubai float32": k32.step,
        "koubai float64": KoubaiStep(ds, "float64", args.activation, args.init).step,
        "course (float64)": course_stepper(
            ds, args.activation, {"gauss": 0.01}.get(args.init, args.init)
        ),
        "matmul floor float32": matmul_floor(SIZES, BATCH),
    }
    if torch is not None:
        import torch_reference as tr

        for dtype in ("float32", "float64"):
            data = tr.Data(ds.x_train, ds.y_train, ds.x_test[:1], ds.y_test[:1], dtype)
            s = tr.Stepper(data, SIZES, args.activation, args.init, batch_size=BATCH)
            steppers[f"torch eager {dtype}"] = s.step
    timed = {name: (lambda r, f=f: C.timeit(f, steps)) for name, f in steppers.items()}
    samples = C.interleaved(timed, args.repeats)
    k = C.med(samples["koubai float32"])
    rows = [
        [name, C.fmt_time(C.med(s)), C.spread(s), C.ratio(C.med(s), k)]
        for name, s in samples.items()
    ]
    print(C.table(["contender", "median / step", "min–max", "time / koubai f32"], rows))
    phases = k32.phases(steps)
    total = sum(phases.values())
    print("\nkoubai float32, where a step goes (medians per phase):")
    print(
        C.table(
            ["phase", "time", "share"],
            [[n, C.fmt_time(v), f"{100 * v / total:.0f} %"] for n, v in phases.items()],
        )
    )
    print(noise.line())
    floor = C.med(samples["matmul floor float32"])
    targets = [
        C.Target(
            "seed step: matmul floor / koubai f32 step",
            f"{100 * floor / k:.0f} % of matmul throughput",
            "(issue: ~40 % before)",
            None,
        )
    ]
    if "torch eager float32" in samples:
        t = C.med(samples["torch eager float32"])
        targets.append(C.Target("seed step: torch f32 / koubai f32", C.ratio(t, k), "(info)", None))
    C.print_targets(targets)
    return targets


if __name__ == "__main__":
    main(sys.argv[1:])
