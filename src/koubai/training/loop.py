"""The training loop: mini-batches, updates, evaluation points, divergence and Ctrl-C.

``train(config, data)`` trains one :class:`~koubai.engine.MLP` and returns a :class:`RunResult`
with the metrics recorded at iteration 0 and every ``eval_every`` updates. The loop itself is
:func:`_steps`, the textbook's ten lines; the objects it calls each do one thing:

* :class:`~koubai.training.data.Batches` draws the mini-batches;
* :meth:`MLP.trainable` hands over the arrays to update and their gradients;
* :class:`~koubai.training.evaluation.Evaluator` measures the accuracies (inline, or on helper
  threads in groups of copies, see :mod:`koubai.training.evaluation`);
* :class:`ProbeSchedule` asks the diagnostics probe to record, every ``diagnostics_every``.

**Ctrl-C policy.** A ``KeyboardInterrupt`` during a run ends that run: ``train`` returns it with
``status="interrupted"`` and the records measured so far, and never raises. A caller that trains
several runs must look at the status and stop (:meth:`RunResult.raise_if_interrupted` does that),
never go on to the next run or compute a verdict from a truncated one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from koubai import limits
from koubai.engine.mlp import MLP, Trainable
from koubai.engine.optim import Optimizer, make_optimizer
from koubai.errors import ConfigError
from koubai.training.config import TrainConfig
from koubai.training.data import Batches, DataLike, TrainingArrays
from koubai.training.evaluation import EvalMode, EvalRecord, Evaluator
from koubai.training.probes import Diagnostics

Status = Literal["finished", "diverged", "interrupted"]

__all__ = ["EvalRecord", "ProbeSchedule", "RunInterrupted", "RunResult", "build_net", "train"]


class RunInterrupted(KeyboardInterrupt):
    """Raised by :meth:`RunResult.raise_if_interrupted`: Ctrl-C stopped a run mid-way."""


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

    def raise_if_interrupted(self) -> RunResult:
        """Raise :class:`RunInterrupted` if Ctrl-C stopped this run; else return it."""
        if self.status == "interrupted":
            raise RunInterrupted(f"interrupted at iteration {self.stopped_at}")
        return self


def build_net(config: TrainConfig, n_features: int, n_classes: int) -> MLP:
    """The network that ``config`` describes, for inputs of width ``n_features``."""
    return MLP(
        n_features,
        list(config.hidden_sizes),
        n_classes,
        activation=config.activation,
        init=config.init,
        init_std=config.init_std,
        bias_init=config.bias_init,
        bias_std=config.bias_std,
        loss=config.loss,
        batchnorm=config.batchnorm,
        bn_convention=config.bn_convention,
        bn_affine_trainable=config.bn_affine_trainable,
        dropout=config.dropout,
        weight_decay=config.weight_decay,
        seed=config.seed,
        dtype=np.dtype(config.dtype),
    )


class ProbeSchedule:
    """When and on what the diagnostics probe records: at iteration 0 and every ``every``
    steps, before the update (layer outputs, error signals, gradients) and after it (update
    ratios).

    It records on the current mini-batch, whose training pass is then traced, or, when the run
    has a fixed probe set (``probe_samples``), in a pass of its own on that set before the
    training pass (batch norm's running statistics restored after it).
    """

    def __init__(self, probe, every: int, fixed: tuple[np.ndarray, np.ndarray] | None = None):
        self.probe, self.every, self.fixed = probe, every, fixed
        self._before: dict[str, np.ndarray] = {}

    @classmethod
    def for_run(
        cls, probe, net: MLP, config: TrainConfig, arrays: TrainingArrays | None = None
    ) -> ProbeSchedule:
        """The given probe, or a :class:`Diagnostics` when ``config.diagnostics_every`` > 0."""
        if probe is None and config.diagnostics_every:
            probe = Diagnostics(net)
        if probe is not None and not config.diagnostics_every:
            raise ConfigError("a probe needs config.diagnostics_every > 0")
        fixed = None
        if arrays is not None and arrays.x_probe is not None:
            fixed = (arrays.x_probe, arrays.y_probe)
        return cls(probe, config.diagnostics_every, fixed)

    def due(self, iteration: int) -> bool:
        return self.probe is not None and iteration % self.every == 0

    def traces(self, iteration: int, net: MLP) -> dict[str, list]:
        """Keyword arguments for this iteration's training pass: lists that collect its layer
        outputs and error signals when that pass is recorded, else none. With a fixed probe
        set, that set's own pass is recorded here instead."""
        if not self.due(iteration):
            return {}
        self._before = {k: v.copy() for k, v in net.params.items()}
        if self.fixed is not None:
            self._record_fixed(iteration, net)
            return {}
        return {"trace": [], "grad_trace": []}

    def _record_fixed(self, iteration: int, net: MLP) -> None:
        self._extra_pass(iteration, net, *self.fixed)

    def _extra_pass(self, iteration: int, net: MLP, x: np.ndarray, t: np.ndarray) -> None:
        """A recorded training-mode pass that is no training step: batch norm's running
        statistics are put back as they were (looking must not change the network)."""
        buffers = {k: v.copy() for k, v in net.buffers.items()}
        trace, grad_trace = [], []
        net.forward_backward(x, t, trace=trace, grad_trace=grad_trace)
        self.probe.record(iteration, net, trace, grad_trace)
        for k, v in buffers.items():
            net.buffers[k] = v

    def start(self, net: MLP, x: np.ndarray, t: np.ndarray) -> None:
        """Iteration 0: one training-mode pass, on the first batch or the probe set, recorded."""
        if self.traces(0, net):
            self._extra_pass(0, net, x, t)

    def after_backward(self, iteration: int, net: MLP, traces: dict[str, list]) -> None:
        if traces:
            self.probe.record(iteration, net, traces["trace"], traces["grad_trace"])

    def after_update(self, iteration: int, net: MLP) -> None:
        if self.due(iteration):
            self.probe.record_update(iteration, net, self._before)


@dataclass
class _Progress:
    """The loop's running state: every batch's loss, the iteration reached, the status."""

    batch_loss: np.ndarray
    done: int = 0
    status: Status = "finished"

    def window_mean(self, iteration: int, every: int) -> float:
        """The mean batch loss since the previous evaluation point."""
        return float(np.mean(self.batch_loss[max(0, iteration - every) : iteration]))


def _steps(
    config: TrainConfig,
    net: MLP,
    trainable: Trainable,
    opt: Optimizer,
    batches: Batches,
    evaluator: Evaluator,
    probes: ProbeSchedule,
    progress: _Progress,
) -> None:
    """The loop: sample, forward/backward, check, update, maybe probe, maybe evaluate."""
    x, t = batches.next()
    loss0 = net.loss(x, t, train=False)
    probes.start(net, x, t)
    evaluator.add(0, loss0, x, t)
    for it in range(1, config.iterations + 1):
        if it > 1:  # iteration 1 trains on the batch that iteration 0 measured
            x, t = batches.next()
        traces = probes.traces(it, net)
        loss = net.forward_backward(x, t, **traces)
        progress.batch_loss[it - 1] = loss
        if not math.isfinite(loss):
            progress.status, progress.done = "diverged", it
            return
        probes.after_backward(it, net, traces)
        opt.step(trainable.params, trainable.grads())
        probes.after_update(it, net)
        progress.done = it
        if it % config.eval_every == 0 or it == config.iterations:
            evaluator.add(it, progress.window_mean(it, config.eval_every), x, t)


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
        evaluation: where the accuracies are measured: ``"inline"``, ``"background"`` or
            ``"auto"`` (default); see :mod:`koubai.training.evaluation`. The records are the same
            in every mode, up to the BLAS library's thread count (which can move the last bits
            of a product).

    Returns:
        A :class:`RunResult`. A non-finite loss ends the run as ``"diverged"``; Ctrl-C ends it as
        ``"interrupted"`` with the metrics so far (see the module's Ctrl-C policy).
    """
    arrays = TrainingArrays.from_data(data, config, n_classes)
    limits.check_config_memory(config, arrays.n_features, arrays.n_classes)
    net = build_net(config, arrays.n_features, arrays.n_classes)
    probes = ProbeSchedule.for_run(probe, net, config, arrays)
    opt = make_optimizer(config.optimizer, config.lr, **config.optimizer_args)
    progress = _Progress(np.full(config.iterations, np.nan))
    start = time.perf_counter()
    # Overflow is expected when a run diverges: it is detected and recorded, not warned about.
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        Evaluator(net, arrays, config, mode=evaluation, on_eval=on_eval) as evaluator,
    ):
        try:
            batches = Batches(arrays, config)
            _steps(config, net, net.trainable(), opt, batches, evaluator, probes, progress)
            evaluator.finish()
        except KeyboardInterrupt:
            progress.status = "interrupted"
            evaluator.interrupt()
    return RunResult(
        config=config,
        records=evaluator.records,
        batch_loss=progress.batch_loss[: progress.done],
        status=progress.status,
        stopped_at=progress.done,
        seconds=time.perf_counter() - start,
        net=net,
        dataset=getattr(data, "name", ""),
        diagnostics=probes.probe,
    )
