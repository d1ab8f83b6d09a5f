"""How long drawing an experiment's figures takes, against training it.

Runs the built-in ``vanishing`` experiment on mnist-5k for a few hundred iterations without
figures, then draws every figure of its folder (``koubai.report.draw.draw_figures``) in one
process and in one process per core, and writes the report. Prints seconds and ratios.

    python benchmarks/bench_figures.py [--iterations 300]

The machine's load moves these numbers a lot: say how busy it was next to any figure quoted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()

    from koubai.experiments import run_experiment
    from koubai.report.draw import draw_figures, figure_jobs
    from koubai.report.html import write_report
    from koubai.results import ResultsFolder

    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        exp = run_experiment(
            "vanishing",
            dataset="mnist-5k",
            overrides={"iterations": args.iterations},
            out_dir=out,
            figures=False,
            lang="en",
        )
        training = time.perf_counter() - t
        folder = ResultsFolder(exp.folder)
        n = len(figure_jobs(folder))
        timings = {}
        for workers in sorted({1, os.cpu_count() or 1}):
            t = time.perf_counter()
            draw_figures(folder, lang="en", workers=workers)
            timings[workers] = time.perf_counter() - t
        t = time.perf_counter()
        write_report(exp.folder, lang="en")
        report = time.perf_counter() - t
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"training {len(exp.runs)} runs x {args.iterations} iterations: {training:.1f} s")
    for workers, seconds in timings.items():
        print(
            f"{n} figures, {workers} process(es): {seconds:.1f} s "
            f"({seconds / n:.2f} s each; {seconds / training:.2f} x the training time)"
        )
    print(f"report.html: {report:.1f} s")


if __name__ == "__main__":
    main()
