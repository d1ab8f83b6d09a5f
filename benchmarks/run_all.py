"""Run every benchmark, one after another in this process, and print the targets in one table.

Run: ``python benchmarks/run_all.py [--quick] [--markdown results.md]``; the options
``--repeats``, ``--threads`` and ``--no-torch`` are passed on to each benchmark.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time

import _common as C
import bench_grid
import bench_large
import bench_matmul
import bench_seed
import bench_step

BENCHMARKS = [bench_matmul, bench_step, bench_seed, bench_grid, bench_large]


def main(argv=None) -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--markdown", help="also write everything printed to this file")
    args = C.parse(p, argv)
    passed = ["--threads", str(args.threads)]
    if args.quick:
        passed.append("--quick")
    if args.no_torch:
        passed.append("--no-torch")
    if "--repeats" in (argv or sys.argv[1:]):
        passed += ["--repeats", str(args.repeats)]
    out = io.StringIO()
    tee = Tee(sys.stdout, out)
    targets: list[C.Target] = []
    start = time.perf_counter()
    with contextlib.redirect_stdout(tee):
        for bench in BENCHMARKS:
            targets += bench.main(passed)
            print()
        torch, _ = C.import_torch(args.no_torch)
        print("# Summary")
        for line in C.machine_info(torch):
            print(line)
        C.print_targets(targets)
        print(f"\n(all benchmarks: {time.perf_counter() - start:.0f} s)")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(out.getvalue())


class Tee(io.TextIOBase):
    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for stream in self.streams:
            stream.write(s)
        return len(s)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
