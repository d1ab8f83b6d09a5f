"""(d) The raw matrix-multiply ceiling: NumPy's BLAS against PyTorch's, float32 and float64.

Prints GFLOP/s (2·M·N·K / time, medians of the repeats) at the shapes the benchmarks use: the
evaluation of the seed net on the 10k test set, one step of the seed net, the larger net's
layers, and a large square for the machine's peak. Run: ``python benchmarks/bench_matmul.py``.
"""

from __future__ import annotations

import sys

import _common as C
import numpy as np

# name -> (M, K, N): an (M, K) @ (K, N) product.
SHAPES = {
    "eval: (10000,784)@(784,40)": (10000, 784, 40),
    "eval, 4 copies: (10000,784)@(784,160)": (10000, 784, 160),
    "seed step: (100,784)@(784,40)": (100, 784, 40),
    "seed step dW: (784,100)@(100,40)": (784, 100, 40),
    "large fwd: (256,1024)@(1024,1024)": (256, 1024, 1024),
    "large dW: (1024,256)@(256,1024)": (1024, 256, 1024),
    "square: (2048,2048)@(2048,2048)": (2048, 2048, 2048),
}


def gflops(shape, seconds: float) -> float:
    m, k, n = shape
    return 2.0 * m * k * n / seconds / 1e9


def measure(args, torch) -> dict[str, dict[str, float]]:
    """GFLOP/s by shape and contender (median of the repeats)."""
    rng = np.random.default_rng(0)
    budget = 0.05 if args.quick else 0.15  # seconds of multiplying per sample
    results: dict[str, dict[str, float]] = {}
    for label, shape in SHAPES.items():
        m, k, n = shape
        contenders = {}
        for dt in (np.float32, np.float64):
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            contenders[f"numpy {np.dtype(dt).name}"] = (lambda a=a, b=b: a @ b), a.dtype
            if torch is not None:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                contenders[f"torch {np.dtype(dt).name}"] = (lambda ta=ta, tb=tb: ta @ tb), a.dtype
        timed = {}
        for name, (fn, _) in contenders.items():
            once = C.timeit(fn, 1)
            number = max(1, int(budget / max(once, 1e-7)))
            timed[name] = lambda r, fn=fn, number=number: C.timeit(fn, number)
        samples = C.interleaved(timed, args.repeats)
        results[label] = {name: gflops(shape, C.med(s)) for name, s in samples.items()}
    return results


def main(argv=None) -> list[C.Target]:
    args = C.parse(C.parser(__doc__.splitlines()[0], quick_repeats=3), argv)
    torch, why = C.import_torch(args.no_torch)
    C.set_threads(args.threads)
    noise = C.header("Matrix-multiply ceiling (GFLOP/s, higher is better)", args, torch, why)
    results = measure(args, torch)
    names = list(next(iter(results.values())))
    rows = [[label, *(f"{results[label][n]:.1f}" for n in names)] for label in results]
    print(C.table(["shape", *names], rows))
    print(noise.line())
    return []


if __name__ == "__main__":
    main(sys.argv[1:])
