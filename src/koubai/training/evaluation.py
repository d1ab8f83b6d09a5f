"""Evaluation points: accuracies measured at once, or later in groups, or on background threads.

The course's protocol measures the accuracy on the whole test set every 10 updates; with a small
network that is most of a run's arithmetic, in matrix products that training does not need the
result of. Two things make it cheaper, and neither changes a number:

* **Groups.** A measurement works on a copy of the network (:meth:`~koubai.engine.MLP.copy`, a
  few hundred kilobytes for the seed net), so it can wait: :func:`group_size` copies are
  measured together by :func:`koubai.engine.accuracies`, their first-layer products as one wider
  product, which the BLAS library runs at a higher FLOP rate.
* **Background threads** (``evaluation="background"``): the loop hands the groups to a pool of
  threads and trains on while they measure. NumPy releases the interpreter lock in its matrix
  products and large array passes, so the threads use the cores that a small network's training
  step, mostly Python and small arrays, leaves idle.

The records come out in iteration order, each with the numbers of its own iteration's weights.
The training loop sees one object, :class:`Evaluator`: ``add`` an evaluation point, ``finish``,
or ``interrupt`` after Ctrl-C. :class:`Evaluations` is the scheduling beneath it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from koubai.engine.mlp import MLP, accuracies
from koubai.errors import ConfigError

if TYPE_CHECKING:
    from koubai.training.config import TrainConfig
    from koubai.training.data import TrainingArrays

T = TypeVar("T")

EvalMode = Literal["auto", "inline", "background"]
EVAL_MODES: tuple[str, ...] = ("auto", "inline", "background")

#: ``"auto"`` evaluates inline when a training step has more multiply-adds than this (batch size
#: x weights): such a step's matrix products are large enough to use every core themselves.
#: The seed net (batch 100, 32k weights) has 3.2 million; 784-[1024]x4-10 at batch 256, 1 billion.
AUTO_MAX_STEP_MACS = 50_000_000

#: At most this many evaluation threads.
MAX_WORKERS = 4

#: Networks are grouped until their stacked first layers are about this many columns wide:
#: OpenBLAS's float32 rate at (10000,784)@(784,N) on one thread rises from 66 GFLOP/s at N = 40 to
#: 85-88 at N = 80-160 and no further (``benchmarks/bench_matmul.py --threads 1``).
GROUP_COLUMNS = 160

#: At most this many networks a group.
MAX_GROUP = 4


def group_size(first_layer_width: int) -> int:
    """How many copies of a network to measure together: as many as fit in
    :data:`GROUP_COLUMNS` columns, at most :data:`MAX_GROUP`: 4 for the seed net (40 units), 1
    from 81 units up (a wider product gains little, and copies of a large network cost memory).
    """
    return max(1, min(MAX_GROUP, GROUP_COLUMNS // max(1, first_layer_width)))


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

    ``"inline"``: none. ``"background"``: one per core besides the training's, at least one and
    at most :data:`MAX_WORKERS`. ``"auto"``: as ``"background"`` when there are two cores or
    more and the step is small (at most :data:`AUTO_MAX_STEP_MACS`), else inline.
    """
    check_eval_mode(mode)
    cores = usable_cores() if cores is None else cores
    if mode == "inline" or (mode == "auto" and (cores < 2 or step_macs > AUTO_MAX_STEP_MACS)):
        return 0
    return max(1, min(cores - 1, MAX_WORKERS))


Result = tuple[float, float]


class Evaluations(Generic[T]):
    """Evaluation points, measured in groups, inline or with helper threads, emitted in order.

    ``add(iteration, loss, item)`` queues an item (what ``measure`` needs: a copy of the network,
    say; nothing the training changes later). Every ``group`` items, ``measure(items)`` returns
    one ``(train_acc, test_acc)`` per item: at once in the caller's thread (``workers=0``), or
    by a pool of ``workers`` threads. When more than ``2 x workers`` groups wait for a thread,
    the caller measures the oldest itself (so the queue, and the memory its copies hold, stays
    short, and no core idles), and :meth:`finish` works through the queue alongside the
    threads. ``emit(iteration, loss, train_acc, test_acc)`` is called from the caller's thread,
    in iteration order, as results come in.
    """

    def __init__(
        self,
        measure: Callable[[list[T]], list[Result]],
        emit: Callable[[int, float, float, float], None],
        *,
        workers: int = 0,
        group: int = 1,
    ) -> None:
        self.workers, self.group = workers, max(1, group)
        self._measure, self._emit = measure, emit
        self._pool = ThreadPoolExecutor(workers, "koubai-eval") if workers else None
        self._lock = threading.Lock()
        self._queue: deque[tuple[list[T], Future]] = deque()  # groups nobody has started
        self._waiting: list[tuple[int, float, T]] = []  # the group being filled
        self._pending: deque[tuple[int, float, Future, int]] = deque()  # results to emit

    def add(self, iteration: int, loss: float, item: T) -> None:
        self._waiting.append((iteration, loss, item))
        if len(self._waiting) >= self.group:
            self._dispatch()
        self._collect(block=False)

    def _dispatch(self) -> None:
        batch, self._waiting = self._waiting, []
        future: Future = Future()
        with self._lock:  # queued and awaited together: no result is waited for that nobody has
            self._queue.append(([item for _, _, item in batch], future))
            self._pending.extend((it, loss, future, k) for k, (it, loss, _) in enumerate(batch))
        if self._pool is None:
            self._work_one()  # at once, here
            return
        self._pool.submit(self._work_one)
        while len(self._queue) > 2 * self.workers and self._work_one():
            pass

    def _work_one(self) -> bool:
        """Measure the oldest group nobody has started; False when there is none."""
        with self._lock:
            if not self._queue:
                return False
            items, future = self._queue.popleft()
        try:
            result = self._measure(items)
        except Exception as exc:  # raised again where the result is read
            future.set_exception(exc)
        except BaseException:  # Ctrl-C while the caller measured: the group goes back
            with self._lock:
                self._queue.appendleft((items, future))
            raise
        else:
            future.set_result(result)
        return True

    def _collect(self, block: bool, emit=None) -> None:
        emit = emit or self._emit
        while self._pending and (block or self._pending[0][2].done()):
            iteration, loss, future, k = self._pending[0]
            result = future.result()[k]  # waits for it; an error in a thread is raised here
            self._pending.popleft()
            emit(iteration, loss, *result)

    def finish(self, emit=None) -> None:
        """Measure what waits (with the threads), then emit every result (through ``emit``)."""
        if self._waiting:
            self._dispatch()
        while self._work_one():
            pass
        self._collect(block=True, emit=emit)

    def abandon(self) -> None:
        """Drop every group no thread has started (after Ctrl-C): :meth:`finish` then only waits
        for the measurements under way. Groups start oldest first, so what stays is a prefix."""
        self._waiting.clear()
        with self._lock:
            dropped = {id(future) for _, future in self._queue}
            self._queue.clear()
            self._pending = deque(p for p in self._pending if id(p[2]) not in dropped)

    def close(self) -> None:
        """Stop the threads; groups not yet started are dropped."""
        self.abandon()
        if self._pool is not None:
            try:
                self._pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:  # Ctrl-C while a thread finishes its group: do not wait
                self._pool.shutdown(wait=False, cancel_futures=True)
        self._pending.clear()


@dataclass
class EvalRecord:
    """The metrics at one evaluation point (``iteration`` updates done)."""

    iteration: int
    loss: float
    train_acc: float
    test_acc: float


def step_macs(net: MLP, batch_size: int) -> int:
    """Multiply-adds of one training step's forward products: batch size x weights."""
    return batch_size * sum(net.params[k].size for k in net.weight_names())


class Evaluator:
    """The run's evaluation points: accuracies measured at once, or later on copies of the
    network, in groups, by helper threads (``mode``, see :func:`eval_workers`).

    Use it as a context manager around the loop: inside, the BLAS library is held to one thread
    per caller when helper threads run (they and the training share the cores). ``records``
    holds an :class:`EvalRecord` per point, in iteration order; ``on_eval`` hears of each.
    """

    def __init__(
        self,
        net: MLP,
        arrays: TrainingArrays,
        config: TrainConfig,
        *,
        mode: str = "auto",
        on_eval: Callable[[EvalRecord], None] | None = None,
    ) -> None:
        self.net, self.arrays, self.config, self.on_eval = net, arrays, config, on_eval
        self.records: list[EvalRecord] = []
        self.workers = eval_workers(mode, step_macs(net, config.batch_size))
        group = group_size(net.layers[0].fan_out)
        self._copy = self.workers > 0 or group > 1  # measured later: on a copy
        self._evals = Evaluations(self._measure, self._emit, workers=self.workers, group=group)
        self._stack = ExitStack()

    def __enter__(self) -> Evaluator:
        if self.workers:
            self._stack.enter_context(threadpool_limits(1, user_api="blas"))
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._evals.close()
        finally:
            self._stack.close()

    def add(self, iteration: int, loss: float, x_batch: np.ndarray, t_batch: np.ndarray) -> None:
        """An evaluation point. The batch's accuracy is measured now (the next step overwrites
        the batch); the rest later, on a copy: this iteration's numbers whenever they come."""
        batch = self.config.train_accuracy == "batch"
        train_acc = self.net.accuracy(x_batch, t_batch) if batch else 0.0
        self._evals.add(iteration, loss, (self.net.copy() if self._copy else self.net, train_acc))

    def finish(self) -> None:
        """Measure what waits and emit every record."""
        self._evals.finish()

    def interrupt(self) -> None:
        """After Ctrl-C: drop the groups nobody started, keep those under way (without calling
        ``on_eval`` again); a second Ctrl-C stops the waiting."""
        self._evals.abandon()
        try:
            self._evals.finish(emit=self._keep)
        except KeyboardInterrupt:
            pass

    def _measure(self, snaps: list[tuple[MLP, float]]) -> list[tuple[float, float]]:
        nets = [snap for snap, _ in snaps]
        a = self.arrays
        # NumPy's error state is per thread: a helper thread gets the loop's settings here.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            test = accuracies(nets, a.x_test, a.y_test)
            if self.config.train_accuracy == "batch":  # measured already
                return [(train_acc, acc) for (_, train_acc), acc in zip(snaps, test, strict=True)]
            return list(zip(accuracies(nets, a.x_subset, a.y_subset), test, strict=True))

    def _keep(self, iteration: int, loss: float, train_acc: float, test_acc: float) -> None:
        self.records.append(EvalRecord(iteration, loss, train_acc, test_acc))

    def _emit(self, iteration: int, loss: float, train_acc: float, test_acc: float) -> None:
        self._keep(iteration, loss, train_acc, test_acc)
        if self.on_eval is not None:
            self.on_eval(self.records[-1])
