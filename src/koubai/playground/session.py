"""One playground session: one network (two in compare mode) trained on the same batches.

The server owns the sockets; a :class:`Session` owns the training. Everything it reports is
plain JSON (lists of numbers, ``None`` for a non-finite value), ready to send to the page.
Training uses koubai's own engine: an :class:`~koubai.engine.MLP`, an optimizer from
:func:`~koubai.engine.optim.make_optimizer` and a :class:`~koubai.training.probes.Diagnostics`
probe, stepped here as :func:`koubai.training.train` steps them.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from koubai.engine import MLP
from koubai.engine.optim import make_optimizer
from koubai.playground.schema import PlaygroundConfig
from koubai.playground.toys import TOYS, grid
from koubai.training.probes import Diagnostics

#: At most this many samples measure an accuracy (a fixed subset, drawn once per setup).
EVAL_SAMPLES = 1000
#: Side of the decision-boundary grid of the 2-D toys.
GRID = 40
#: Diagnostics records kept per run: the first (iteration 0) and the latest ones.
KEEP_RECORDS = 400
#: Toy points sent for drawing.
MAX_POINTS = 300


def _num(value: float, digits: int = 4) -> float | None:
    """A float for JSON: ``None`` when it is not finite, else rounded to ``digits`` significant."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _nums(values, digits: int = 4) -> list[float | None]:
    return [_num(v, digits) for v in values]


class Run:
    """One network in training: its optimizer, its diagnostics and where it diverged.

    Args:
        label: "A" or "B".
        config: the setup (network and optimizer).
        n_features: width of the input.
        n_classes: number of classes.
    """

    def __init__(self, label: str, config: PlaygroundConfig, n_features: int, n_classes: int):
        self.label = label
        self.config = config
        self.net = MLP(
            n_features,
            list(config.hidden),
            n_classes,
            activation=config.activation,
            init=config.init,
            init_std=config.init_std,
            batchnorm=config.batchnorm,
            bn_convention=config.bn_convention,
            seed=config.seed,
            dtype=np.float32,
        )
        self.opt = make_optimizer(config.optimizer, config.lr)
        self.params = {name: self.net.params[name] for name in self.net.params}
        self.probe = Diagnostics(self.net)
        self.diverged: dict[str, Any] | None = None
        self.losses: list[float] = []  # since the last update
        self.accuracy: tuple[float, float] | None = None  # (train, test) at the last evaluation
        self.boundary: list[float] | None = None  # P(class 1) over the toy's plane

    @property
    def depth(self) -> int:
        return len(self.config.hidden)

    def probe_only(self, x: np.ndarray, t: np.ndarray) -> None:
        """Record iteration 0: gradients and activations before any update."""
        trace: list[np.ndarray] = []
        loss = self.net.forward_backward(x, t, trace=trace)
        self.losses.append(loss)
        self.probe.record(0, self.net, trace)

    def step(self, x: np.ndarray, t: np.ndarray, iteration: int, probing: bool) -> None:
        """Update ``iteration``: forward, backward, [record], the optimizer's step, [record]."""
        trace: list[np.ndarray] | None = [] if probing else None
        loss = self.net.forward_backward(x, t, trace=trace)
        if not math.isfinite(loss):
            self.diverged = self._where_nonfinite(x, iteration)
            return
        self.losses.append(loss)
        if probing:
            self.probe.record(iteration, self.net, trace)
            before = {k: v.copy() for k, v in self.params.items()}
        self.opt.step(self.params, self.net.grads)
        if probing:
            self.probe.record_update(iteration, self.net, before)
            self.probe.forget(KEEP_RECORDS)

    def _layer_name(self, n: int) -> str:
        return str(n) if n <= self.depth else "output"

    def _where_nonfinite(self, x: np.ndarray, iteration: int) -> dict[str, Any]:
        """The first layer, from the input, whose weights or output are not finite."""
        affine = self.net.affine_indices
        for n, i in enumerate(affine, start=1):
            if not all(np.isfinite(p).all() for p in self.net.layers[i].params.values()):
                return {"layer": self._layer_name(n), "iteration": iteration, "what": "weights"}
        trace: list[np.ndarray] = []
        self.net.predict(x, train=False, trace=trace)
        for i, out in enumerate(trace):
            if not np.isfinite(out).all():
                n = sum(1 for j in affine if j <= i)
                return {"layer": self._layer_name(n), "iteration": iteration, "what": "output"}
        return {"layer": "output", "iteration": iteration, "what": "loss"}

    def latest(self) -> dict[str, Any]:
        """The last diagnostics record as JSON-ready lists (layer 1 nearest the input)."""
        rows, updates = self.probe.rows, self.probe.update_rows
        ratios = updates["update_ratio"][-1] if updates["update_ratio"] else []
        lo, hi = self.probe.act_range
        return {
            "record_iteration": rows["iterations"][-1],
            "grad_norm": _nums(rows["weight_grad_norm"][-1]),
            "update_ratio": _nums(ratios),
            "saturated": _nums(rows["saturated"][-1], 3),
            "dead": _nums(rows["dead"][-1], 3),
            "hist": [[int(c) for c in h] for h in rows["act_hist"][-1]],
            "hist_range": [lo, hi],
        }


class Session:
    """The training of one page: the data, the runs (A, and B in compare mode), the batches.

    Args:
        config: the setup.
        data: train and test arrays (a :class:`koubai.datasets.Dataset`).
        max_iterations: training stops at this iteration (a server limit).
    """

    def __init__(self, config: PlaygroundConfig, data, *, max_iterations: int) -> None:
        self.config = config
        self.max_iterations = max_iterations
        self.lock = threading.RLock()  # the server also holds it to read the probe
        self.toy = config.dataset in TOYS
        self.x_train = np.asarray(data.x_train, dtype=np.float32)
        self.y_train = np.asarray(data.y_train)
        n_features, n_classes = self.x_train.shape[1], int(data.n_classes)
        pick = np.random.default_rng([config.seed, 2])
        n_sub = min(EVAL_SAMPLES, len(self.y_train))
        sub = np.sort(pick.choice(len(self.y_train), n_sub, replace=False))
        self.x_sub, self.y_sub = self.x_train[sub], self.y_train[sub]
        self.x_test = np.asarray(data.x_test[:EVAL_SAMPLES], dtype=np.float32)
        self.y_test = np.asarray(data.y_test[:EVAL_SAMPLES])
        self.dataset_name = data.name
        configs = [("A", config)]
        if (b := config.run_b()) is not None:
            configs.append(("B", b))
        self.runs = [Run(label, c, n_features, n_classes) for label, c in configs]
        self.rng = np.random.default_rng([config.seed, 1])  # the batches, shared by the runs
        self._x_batch = np.empty((config.batch_size, n_features), dtype=np.float32)
        self.iteration = 0
        self._eval_at = -math.inf
        self._eval_cost = 0.0
        x, t = self._batch()
        with np.errstate(all="ignore"):
            for run in self.runs:
                run.probe_only(x, t)
        self._evaluate()

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        """A mini-batch drawn with replacement, as the course does, gathered into one buffer
        (the previous batch is no longer needed once its step is done)."""
        idx = self.rng.integers(0, len(self.y_train), self.config.batch_size)
        np.take(self.x_train, idx, axis=0, out=self._x_batch, mode="clip")  # idx is in range
        return self._x_batch, self.y_train[idx]

    @property
    def capped(self) -> bool:
        return self.iteration >= self.max_iterations

    @property
    def finished(self) -> bool:
        """Nothing left to train: the limit is reached, or every run diverged."""
        return self.capped or all(run.diverged for run in self.runs)

    def describe(self) -> dict[str, Any]:
        """The ``setup`` message: what is trained, and the toy's points to draw."""
        points = None
        if self.toy:
            n = min(MAX_POINTS, len(self.y_test))
            points = [
                [_num(a, 3), _num(b, 3), int(c)]
                for (a, b), c in zip(self.x_test[:n], self.y_test[:n], strict=True)
            ]
        return {
            "type": "setup",
            "config": self.config.as_dict(),
            "dataset": self.dataset_name,
            "runs": [
                {"label": run.label, "config": run.config.as_dict(), "depth": run.depth}
                for run in self.runs
            ],
            "points": points,
            "max_iterations": self.max_iterations,
        }

    def advance(self, *, steps: int | None = None, seconds: float | None = None) -> dict:
        """Train ``steps`` updates, or for about ``seconds``; then the ``update`` message.

        The first update of each call is recorded by the diagnostics probe; the accuracies
        are measured at most every so often (so that they cost under a sixth of the time), and
        always after a single step.
        """
        with self.lock, np.errstate(all="ignore"):
            start = time.perf_counter()
            done = 0
            while not self.finished:
                x, t = self._batch()
                self.iteration += 1
                for run in self.runs:
                    if run.diverged is None:
                        run.step(x, t, self.iteration, probing=done == 0)
                done += 1
                if steps is not None and done >= steps:
                    break
                if seconds is not None and time.perf_counter() - start >= seconds:
                    break
            now = time.perf_counter()
            if steps is not None or now - self._eval_at >= max(0.2, 5 * self._eval_cost):
                self._evaluate()
            return self._update(evaluated=self._eval_at >= now)

    def snapshot(self) -> dict:
        """The ``update`` message of the present state, without training."""
        with self.lock:
            return self._update(evaluated=True)

    def _evaluate(self) -> None:
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            for run in self.runs:
                if run.diverged is None:
                    run.accuracy = (
                        run.net.accuracy(self.x_sub, self.y_sub),
                        run.net.accuracy(self.x_test, self.y_test),
                    )
                    run.boundary = self._boundary(run) if self.toy else None
        self._eval_at = time.perf_counter()
        self._eval_cost = self._eval_at - start

    def _boundary(self, run: Run) -> list[float]:
        """P(class 1) over the :data:`GRID` × :data:`GRID` plane, row by row from the top."""
        logits = run.net.infer(grid(GRID)).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p1 = p[:, 1] / p.sum(axis=1)
        return [round(float(v), 2) if math.isfinite(v) else 0.5 for v in p1]

    def _update(self, *, evaluated: bool) -> dict[str, Any]:
        runs = []
        for run in self.runs:
            loss = float(np.mean(run.losses)) if run.losses else math.nan
            run.losses = []
            out = {"label": run.label, "loss": _num(loss), "diverged": run.diverged}
            out.update(run.latest())
            if evaluated and run.accuracy is not None and run.diverged is None:
                out["train_acc"], out["test_acc"] = _nums(run.accuracy, 4)
                out["boundary"] = run.boundary if self.toy else None
            runs.append(out)
        return {
            "type": "update",
            "iteration": self.iteration,
            "capped": self.capped,
            "finished": self.finished,
            "runs": runs,
        }
