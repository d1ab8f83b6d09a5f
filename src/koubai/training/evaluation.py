"""Evaluation points: accuracies measured at once, or on background threads while training goes on.

The course's protocol measures the accuracy on the whole test set every 10 updates; with a small
network that is most of a run's arithmetic, in one matrix product that training does not need
the result of. With ``evaluation="background"`` the loop hands a copy of the network
(:meth:`~koubai.engine.MLP.copy`, a few hundred kilobytes for the seed net) to a pool of threads
and trains on while they measure it; the records still come out in order, with the numbers an
inline evaluation would give (the same arithmetic on the same weights). NumPy releases the
interpreter lock in its matrix products and large array passes, so the threads use the cores
that a small network's training step, mostly Python and small arrays, leaves idle.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

from koubai.errors import ConfigError

EvalMode = Literal["auto", "inline", "background"]
EVAL_MODES: tuple[str, ...] = ("auto", "inline", "background")

#: ``"auto"`` evaluates inline when a training step has more multiply-adds than this (batch size
#: x weights): such a step's matrix products are large enough to use every core themselves.
#: The seed net (batch 100, 32k weights) has 3.2 million; 784-[1024]x4-10 at batch 256, 1 billion.
AUTO_MAX_STEP_MACS = 50_000_000

#: At most this many evaluation threads.
MAX_WORKERS = 4


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_eval_mode(mode: str) -> str:
    if mode not in EVAL_MODES:
        raise ConfigError(f"unknown evaluation mode {mode!r}; choose one of {list(EVAL_MODES)}")
    return mode


def eval_workers(mode: str, step_macs: int, cores: int | None = None) -> int:
    """How many background threads evaluate (0: inline), for a step of ``step_macs``.

    ``"inline"``: none. ``"background"``: one per core, at most :data:`MAX_WORKERS`. ``"auto"``:
    as ``"background"`` when there are two cores or more and the step is small (at most
    :data:`AUTO_MAX_STEP_MACS`), else inline.
    """
    check_eval_mode(mode)
    cores = usable_cores() if cores is None else cores
    if mode == "inline" or (mode == "auto" and (cores < 2 or step_macs > AUTO_MAX_STEP_MACS)):
        return 0
    return max(1, min(cores, MAX_WORKERS))


class Evaluations:
    """Evaluation points in order: measured inline (``workers=0``) or by a thread pool.

    ``add(iteration, loss, measure)`` takes a function that returns ``(train_acc, test_acc)``
    and must not depend on anything the training changes later (a copy of the network);
    ``emit(iteration, loss, train_acc, test_acc)`` is called in iteration order, from the
    caller's thread, as results come in. At most ``2 x workers`` measurements wait at a time:
    a training loop that outruns its evaluations waits for the oldest one.
    """

    def __init__(self, workers: int, emit: Callable[[int, float, float, float], None]) -> None:
        self.workers = workers
        self._emit = emit
        self._pool = ThreadPoolExecutor(workers, "koubai-eval") if workers else None
        self._pending: deque[tuple[int, float, Future]] = deque()

    def add(self, iteration: int, loss: float, measure: Callable[[], tuple[float, float]]) -> None:
        if self._pool is None:
            self._emit(iteration, loss, *measure())
            return
        self._pending.append((iteration, loss, self._pool.submit(measure)))
        self._collect(keep=2 * self.workers)

    def _collect(self, keep: int, emit=None) -> None:
        emit = emit or self._emit
        while self._pending and (len(self._pending) > keep or self._pending[0][2].done()):
            iteration, loss, future = self._pending[0]
            result = future.result()  # waits for it; an error in the thread is raised here
            self._pending.popleft()
            emit(iteration, loss, *result)

    def finish(self, emit=None) -> None:
        """Wait for every pending measurement and emit it (through ``emit`` if given)."""
        self._collect(keep=0, emit=emit)

    def close(self) -> None:
        """Stop the threads; measurements not yet started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
