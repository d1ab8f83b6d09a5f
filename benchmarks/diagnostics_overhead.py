"""What recording diagnostics costs: the seed run with and without them.

Trains the course's 784-[40,20]-10 sigmoid + Xavier net (SGD lr 0.1, batch 100) on mnist-5k
(offline) with ``diagnostics_every`` = 0 (off) and at the experiments' default of 10, several
times each, interleaved, and prints the medians and the overhead ratio. The target is at most
10 % at the default interval.

    python benchmarks/diagnostics_overhead.py [--repeats 5] [--iterations 2000] [--every 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

from koubai.datasets import load
from koubai.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--every", type=int, default=10, help="diagnostics interval")
    parser.add_argument("--dataset", default="mnist-5k")
    args = parser.parse_args()

    data = load(args.dataset)
    base = TrainConfig(activation="sigmoid", init="xavier", iterations=args.iterations)
    arms = {"off": base, f"every {args.every}": base.replace(diagnostics_every=args.every)}
    times: dict[str, list[float]] = {name: [] for name in arms}
    train(base.replace(iterations=50), data)  # warm up caches and BLAS
    for _ in range(args.repeats):
        for name, config in arms.items():  # interleaved: drift hits both arms alike
            start = time.perf_counter()
            train(config, data)
            times[name].append(time.perf_counter() - start)

    print(f"dataset {data.name}, {args.iterations} iterations, {args.repeats} repeats (median)")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, m in medians.items():
        print(f"  diagnostics {name:<10} {m:7.3f} s")
    off, on = medians["off"], medians[f"every {args.every}"]
    print(f"  overhead: {100 * (on / off - 1):+.1f} %  (target: at most +10 %)")


if __name__ == "__main__":
    main()
