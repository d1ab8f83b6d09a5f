"""Shared helpers of the benchmark scripts: threads, interleaved timing, machine info, noise
measurement and markdown tables. Not part of koubai; standard library + NumPy + threadpoolctl.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(SRC))

try:  # threadpoolctl is how NumPy's BLAS threads are set and reported
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - reported by machine_info
    threadpool_info = threadpool_limits = None


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# -- command line ----------------------------------------------------------------------------


def parser(description: str, *, default_repeats: int = 5, quick_repeats: int = 2):
    """An argument parser with the options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"repeats per contender (default {default_repeats})",
    )
    p.add_argument(
        "--quick", action="store_true", help=f"fewer repeats ({quick_repeats}) and shorter loops"
    )
    p.add_argument(
        "--threads", type=int, default=cores(), help="BLAS/torch threads (default: all cores)"
    )
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    p.set_defaults(_default_repeats=default_repeats, _quick_repeats=quick_repeats)
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None):
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = args._quick_repeats if args.quick else args._default_repeats
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be at least 1")
    return args


# -- threads and torch -----------------------------------------------------------------------

_limits = None


def set_threads(n: int) -> None:
    """Use ``n`` threads in NumPy's BLAS (threadpoolctl) and in torch (when imported)."""
    global _limits
    if threadpool_limits is not None:
        _limits = threadpool_limits(limits=n, user_api="blas")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def import_torch(no_torch: bool = False):
    """``(torch, None)`` or ``(None, why)`` when torch is not importable or not wanted."""
    if no_torch:
        return None, "torch columns left out (--no-torch)"
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means "no torch column"
        return None, f"torch columns skipped: torch is not importable ({exc.__class__.__name__})"
    return torch, None


# -- machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(torch=None) -> list[str]:
    """Lines describing the machine, the BLAS libraries and versions."""
    lines = [
        f"CPU: {cpu_model()}, {cores()} cores usable ({os.cpu_count()} online); "
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, NumPy {np.__version__}",
    ]
    if threadpool_info is not None:
        for lib in threadpool_info():
            arch = lib.get("architecture") or ""
            lines.append(
                f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version') or ''} "
                f"{arch} threads={lib.get('num_threads')} ({Path(lib.get('filepath', '')).name})"
            )
    else:
        lines.append("  threadpoolctl not installed: BLAS unknown")
    if torch is not None:
        mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        lines.append(
            f"PyTorch {torch.__version__} ({mkl}; CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}), threads={torch.get_num_threads()}"
        )
    return lines


class Noise:
    """How much CPU *other* processes used while a benchmark ran (a shared machine's noise).

    ``share`` is the other processes' CPU time over (wall time x cores): 0 on a quiet machine,
    0.5 when another process kept one of two cores busy throughout.
    """

    def __init__(self) -> None:
        self.start = self._snap()

    @staticmethod
    def _snap():
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4)) / os.sysconf(
                "SC_CLK_TCK"
            )
        except (OSError, ValueError):
            busy = float("nan")
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system + _descendants_cpu()
        return time.perf_counter(), busy, own

    def share(self) -> float:
        wall0, busy0, own0 = self.start
        wall1, busy1, own1 = self._snap()
        others = (busy1 - busy0) - (own1 - own0)
        return max(0.0, others) / max(1e-9, (wall1 - wall0) * (os.cpu_count() or 1))

    def line(self) -> str:
        s = self.share()
        if s != s:  # nan: no /proc/stat
            return "noise: unknown (no /proc/stat)"
        warn = "  <- noisy: rerun on a quiet machine" if s > 0.1 else ""
        return f"noise: other processes used {100 * s:.0f} % of the CPU during the run{warn}"


def _descendants_cpu() -> float:
    """CPU seconds of this process's live descendants, with the processes they reaped. A fork
    server's workers are not our children: ``os.times()`` never counts them, and without this
    their work would show as other processes' noise."""
    parents, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # gone meanwhile
            continue
        pid = int(stat.parent.name)
        parents.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    total, todo = 0, list(parents.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo += parents.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


# -- timing ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    seconds: float
    extra: dict = dataclasses.field(default_factory=dict)


#: Pause between two contenders: OpenBLAS worker threads keep spinning (sched_yield) for up to
#: ~0.1 s after a call and libgomp's (torch) for a while too; without a pause they would steal a
#: core from the next contender when the libraries alternate.
SETTLE = 0.25


def interleaved(
    contenders: dict[str, Callable[[int], float | Sample]],
    repeats: int,
    *,
    label: str = "",
    settle: float = SETTLE,
) -> dict[str, list[Sample]]:
    """Run every contender ``repeats`` times, round robin (order rotated each round), so that a
    burst of noise hits all of them alike. A contender gets the repeat index (use it as a seed)
    and returns seconds, or a :class:`Sample` with extra values (an accuracy, say).
    """
    names = list(contenders)
    out: dict[str, list[Sample]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            time.sleep(settle)
            value = contenders[name](r)
            out[name].append(value if isinstance(value, Sample) else Sample(float(value)))
            if label:
                print(
                    f"  [{label}] repeat {r + 1}/{repeats} {name}: "
                    f"{fmt_time(out[name][-1].seconds)}",
                    file=sys.stderr,
                    flush=True,
                )
    return out


def timeit(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``fn``, over ``number`` calls after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def med(samples: list[Sample]) -> float:
    return statistics.median(s.seconds for s in samples)


def spread(samples: list[Sample]) -> str:
    """``min–max`` of the samples, for the noise column."""
    t = [s.seconds for s in samples]
    return f"{fmt_time(min(t))}–{fmt_time(max(t))}"


def fmt_time(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``"4.3×"``."""
    return "n/a" if not (a == a and b == b and b > 0) else f"{a / b:.2f}×"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


@dataclasses.dataclass
class Target:
    """One line of the issue's targets: what was measured, what was asked, and whether it holds."""

    what: str
    achieved: str
    target: str
    met: bool | None  # None: not measured (e.g. no torch)

    def row(self) -> list[str]:
        status = "n/a" if self.met is None else ("met" if self.met else "NOT met")
        return [self.what, self.achieved, self.target, status]


def print_targets(targets: Sequence[Target]) -> None:
    if targets:
        print("\nTargets (ratios of medians; informative, never a pass/fail exit code):")
        print(table(["measure", "achieved", "target", ""], [t.row() for t in targets]))


def header(title: str, args, torch=None, note: str | None = None) -> Noise:
    print(f"# {title}")
    print(f"repeats={args.repeats}, threads={args.threads}" + (" (quick)" if args.quick else ""))
    for line in machine_info(torch):
        print(line)
    if note:
        print(note)
    print()
    return Noise()
