"""The training loop: mini-batches, updates, an evaluation schedule, divergence and Ctrl-C.

``train(config, data)`` trains one :class:`~koubai.engine.MLP` and returns a :class:`RunResult`
with the metrics recorded at iteration 0 and every ``eval_every`` updates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from koubai.engine.mlp import MLP, accuracies
from koubai.engine.optim import make_optimizer
from koubai.errors import ConfigError
from koubai.training.config import TrainConfig
from koubai.training.evaluation import (
    EvalMode,
    Evaluations,
    check_eval_mode,
    eval_workers,
    group_size,
)
from koubai.training.probes import Diagnostics

Status = Literal["finished", "diverged", "interrupted"]


class DataLike(Protocol):
    """Anything with train and test arrays: a :class:`koubai.datasets.Dataset`, say."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class EvalRecord:
    """The metrics at one evaluation point (``iteration`` updates done)."""

    iteration: int
    loss: float
    train_acc: float
    test_acc: float


@dataclass
class RunResult:
    """What one training run leaves: its config, metrics, status and the trained network.

    ``loss`` at an evaluation point is the mean mini-batch loss since the previous one (at
    iteration 0: the loss of the first batch before any update); ``batch_loss`` holds every
    iteration's. ``status`` is ``"finished"``, ``"diverged"`` (a non-finite loss stopped it at
    ``stopped_at``) or ``"interrupted"`` (Ctrl-C).
    """

    config: TrainConfig
    records: list[EvalRecord]
    batch_loss: np.ndarray
    status: Status
    stopped_at: int
    seconds: float
    net: MLP
    dataset: str = ""
    diagnostics: Diagnostics | None = None
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        """One metric over the evaluation points: iteration, loss, train_acc or test_acc."""
        return np.array([getattr(r, name) for r in self.records])

    @property
    def final_train_acc(self) -> float:
        return self.records[-1].train_acc if self.records else float("nan")

    @property
    def final_test_acc(self) -> float:
        return self.records[-1].test_acc if self.records else float("nan")


def build_net(config: TrainConfig, n_features: int, n_classes: int) -> MLP:
    """The network that ``config`` describes, for inputs of width ``n_features``."""
    return MLP(
        n_features,
        list(config.hidden_sizes),
        n_classes,
        activation=config.activation,
        init=config.init,
        init_std=config.init_std,
        batchnorm=config.batchnorm,
        bn_convention=config.bn_convention,
        dropout=config.dropout,
        weight_decay=config.weight_decay,
        seed=config.seed,
        dtype=np.dtype(config.dtype),
    )


class BatchSampler:
    """Draws mini-batch indices: with replacement (the course) or in shuffled epochs."""

    def __init__(self, n: int, batch_size: int, mode: str, rng: np.random.Generator) -> None:
        self.n, self.batch_size, self.mode, self.rng = n, batch_size, mode, rng
        self._order = np.empty(0, dtype=np.intp)
        self._pos = 0

    def next(self) -> np.ndarray:
        if self.mode == "replacement":
            return self.rng.integers(0, self.n, self.batch_size)
        if self._pos + self.batch_size > self._order.size:  # a new epoch (drop the remainder)
            self._order = self.rng.permutation(self.n)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx


def _labels(y: np.ndarray) -> np.ndarray:
    return y.argmax(axis=1) if y.ndim == 2 else y


def _check_data(data: DataLike, config: TrainConfig) -> None:
    for part in ("x_train", "y_train", "x_test", "y_test"):
        if not hasattr(data, part):
            raise ConfigError(f"training data needs {part}; got {type(data).__name__}")
    if data.x_train.ndim != 2:
        raise ConfigError(
            f"training inputs must be flattened (N, D), got shape {data.x_train.shape}"
        )
    n = data.x_train.shape[0]
    if config.batchnorm and n < 2:
        raise ConfigError("batch norm needs at least 2 training examples")
    if config.sampling == "epoch" and config.batch_size > n:
        raise ConfigError(
            f"batch_size {config.batch_size} exceeds the {n} training examples (sampling = 'epoch')"
        )


def train(
    config: TrainConfig,
    data: DataLike,
    *,
    n_classes: int | None = None,
    on_eval: Callable[[EvalRecord], None] | None = None,
    probe=None,
    evaluation: EvalMode = "auto",
) -> RunResult:
    """Train one network on ``data`` as ``config`` says.

    Args:
        config: the run's configuration.
        data: train and test arrays; inputs ``(N, D)``, labels ``(N,)`` or one-hot.
        n_classes: number of classes. Default: the dataset's ``n_classes`` or the largest label + 1.
        on_eval: called with each :class:`EvalRecord` as it is made (e.g. a progress bar).
        probe: a :class:`~koubai.training.probes.Diagnostics` (or any object with its
            ``record`` and ``record_update``). Default: one is made when
            ``config.diagnostics_every`` > 0; it is called at iteration 0 and every
            ``diagnostics_every`` iterations, and returned as ``RunResult.diagnostics``.
        evaluation: where the accuracies are measured (see :mod:`koubai.training.evaluation`):
            ``"inline"``, between two updates; ``"background"``, by helper threads working on
            copies of the network while training goes on, with the BLAS library held to one
            thread per caller for the run; ``"auto"`` (default), in the background when the
            process has two cores or more and the network is small. Either way, copies of a
            small network are measured a few at a time (their first layers as one product) and
            ``on_eval`` hears of a record a little after its iteration. The records are the
            same in every mode, up to the BLAS library's thread count (which can move the last
            bits of a product).

    Returns:
        A :class:`RunResult`. A non-finite loss ends the run as ``"diverged"``; Ctrl-C ends it as
        ``"interrupted"`` with the metrics so far (the caller decides whether to go on).
    """
    _check_data(data, config)
    check_eval_mode(evaluation)
    dtype = np.dtype(config.dtype)
    # The training set stays as it is (no float64 copy of 60,000 images): batches are gathered
    # from it and converted one at a time. The test set is converted once.
    x_train = np.asarray(data.x_train)
    x_test = np.asarray(data.x_test, dtype=dtype)
    y_train, y_test = _labels(np.asarray(data.y_train)), _labels(np.asarray(data.y_test))
    if n_classes is None:
        n_classes = getattr(data, "n_classes", None) or int(max(y_train.max(), y_test.max())) + 1
    net = build_net(config, x_train.shape[1], n_classes)
    diag_every = config.diagnostics_every
    if probe is None and diag_every:
        probe = Diagnostics(net)
    if probe is not None and not diag_every:
        raise ConfigError("a probe needs config.diagnostics_every > 0")
    opt = make_optimizer(config.optimizer, config.lr, **config.optimizer_args)
    rng = np.random.default_rng([config.seed, 1])  # the batches: a stream apart from the weights
    sampler = BatchSampler(x_train.shape[0], config.batch_size, config.sampling, rng)
    if config.train_accuracy == "subset":
        k = min(config.train_subset, x_train.shape[0])
        subset = np.random.default_rng([config.seed, 2]).choice(x_train.shape[0], k, replace=False)
        x_sub, y_sub = x_train[np.sort(subset)].astype(dtype), y_train[np.sort(subset)]

    if config.bn_affine_trainable:
        trainable = list(net.params)
    else:  # as the course's notebook: γ and β stay at 1 and 0
        bn_names = [f"layers.{i}." for i, layer in enumerate(net.layers) if "gamma" in layer.params]
        trainable = [k for k in net.params if not k.startswith(tuple(bn_names))]
    # The arrays themselves, named once (the loop updates them in place, nobody replaces them),
    # and where each gradient will be: no name is built or parsed per step.
    params = {name: net.params[name] for name in trainable}
    slots = [
        (name, net.layers[int(name.split(".")[1])].grads, name.split(".")[2]) for name in trainable
    ]
    x_batch = np.empty((config.batch_size, x_train.shape[1]), dtype=dtype)
    gathered = x_batch if x_train.dtype == dtype else np.empty(x_batch.shape, x_train.dtype)

    def next_batch() -> np.ndarray:
        idx = sampler.next()
        np.take(x_train, idx, axis=0, out=gathered, mode="clip")  # indices are in range
        if gathered is not x_batch:
            x_batch[...] = gathered
        return y_train[idx]

    every = config.eval_every
    batch_loss = np.full(config.iterations, np.nan)
    records: list[EvalRecord] = []
    status: Status = "finished"
    done = 0
    step_macs = config.batch_size * sum(net.params[k].size for k in net.weight_names())
    workers = eval_workers(evaluation, step_macs)

    def emit(iteration: int, loss: float, train_acc: float, test_acc: float) -> None:
        record = EvalRecord(iteration, loss, train_acc, test_acc)
        records.append(record)
        if on_eval is not None:
            on_eval(record)

    def keep(iteration: int, loss: float, train_acc: float, test_acc: float) -> None:
        records.append(EvalRecord(iteration, loss, train_acc, test_acc))

    group = group_size(net.layers[0].fan_out)

    def measure(snaps: list[tuple[MLP, float]]) -> list[tuple[float, float]]:
        nets = [snap for snap, _ in snaps]
        # NumPy's error state is per thread: a helper thread gets the loop's settings here.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            test = accuracies(nets, x_test, y_test)
            if config.train_accuracy == "batch":  # measured already
                return [(train_acc, acc) for (_, train_acc), acc in zip(snaps, test, strict=True)]
            return list(zip(accuracies(nets, x_sub, y_sub), test, strict=True))

    evals = Evaluations(measure, emit, workers=workers, group=group)

    def evaluate(iteration: int, loss: float, t_batch: np.ndarray) -> None:
        # The batch's accuracy now (100 samples, and the next step overwrites them); the rest
        # later (in a group, or on a thread), on a copy of the network: this iteration's numbers
        # whenever they come.
        train_acc = net.accuracy(x_batch, t_batch) if config.train_accuracy == "batch" else 0.0
        evals.add(iteration, loss, (net.copy() if workers or group > 1 else net, train_acc))

    start = time.perf_counter()
    limits = threadpool_limits(1, user_api="blas") if workers else nullcontext()
    # Overflow is expected when a run diverges: it is detected below and recorded, not warned.
    with limits, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            t_batch = next_batch()
            loss0 = net.loss(x_batch, t_batch, train=False)
            if probe is not None:
                trace: list[np.ndarray] = []
                net.forward_backward(x_batch, t_batch, trace=trace)
                probe.record(0, net, trace)
            evaluate(0, loss0, t_batch)
            for it in range(1, config.iterations + 1):
                if it > 1:
                    t_batch = next_batch()
                probing = probe is not None and it % diag_every == 0
                trace = [] if probing else None
                loss = net.forward_backward(x_batch, t_batch, trace=trace)
                batch_loss[it - 1] = loss
                if not math.isfinite(loss):
                    status = "diverged"
                    done = it
                    break
                if probing:
                    probe.record(it, net, trace)
                    before = {k: v.copy() for k, v in net.params.items()}
                opt.step(params, {name: grads[key] for name, grads, key in slots})
                if probing:
                    probe.record_update(it, net, before)
                done = it
                if it % every == 0 or it == config.iterations:
                    window = batch_loss[max(0, it - every) : it]
                    evaluate(it, float(np.mean(window)), t_batch)
            evals.finish()
        except KeyboardInterrupt:
            status = "interrupted"
            evals.abandon()  # the groups nobody has started; the ones under way are kept
            try:
                evals.finish(emit=keep)  # without further callbacks
            except KeyboardInterrupt:
                pass
        finally:
            evals.close()
    return RunResult(
        config=config,
        records=records,
        batch_loss=batch_loss[:done],
        status=status,
        stopped_at=done,
        seconds=time.perf_counter() - start,
        net=net,
        dataset=getattr(data, "name", ""),
        diagnostics=probe,
    )
