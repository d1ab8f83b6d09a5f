"""Diagnostics recorded during training: *why* a network does or does not learn.

At iteration 0 and every ``diagnostics_every`` iterations, for each layer of an :class:`MLP`:

* ``weight_grad_norm`` ‖∂L/∂W‖ and ``bias_grad_norm`` ‖∂L/∂b‖ of every affine layer (the bias
  gradient is the layer's error signal δ summed over the batch: Nielsen's "speed of learning");
* statistics of each hidden layer's output (``act_*``) and of the input to its nonlinearity
  (``pre_*``, after batch norm when there is one): mean, std, the percentiles
  :data:`PERCENTILES` and a histogram on fixed bins;
* ``saturated``: share of sigmoid outputs with ``|σ(x) − 0.5| > 0.49`` or tanh outputs with
  ``|tanh x| > 0.97``; ``dead``: share of ReLU units that are inactive on the whole batch;
* activation sparsity: ``zero_share``, the share of a hidden layer's outputs that are exactly 0,
  per sample, averaged over the batch; ``never_active``, the share of its units that are exactly 0
  on every sample of the batch (for ReLU the same units as ``dead``). Sigmoid and tanh outputs
  are never exactly 0 (barring underflow): sparsity in this exact sense is a rectifier's;
* ``delta_std``: the standard deviation of the back-propagated gradient ∂L/∂(input of the
  nonlinearity) of each hidden layer (Glorot & Bengio 2010, figure 7), when the training pass
  hands over its error signals (NaN otherwise);
* ``update_ratio`` ‖ΔW‖/‖W‖ of each affine layer for the step taken at that iteration (the
  rule of thumb: near 1e-3 is healthy; far below, the layer barely learns).

Arrays grow by one row per record and are saved with :meth:`Diagnostics.arrays` into an
``.npz`` file that loads without pickle (:func:`load_diagnostics`).
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from koubai.engine.layers import Affine, BatchNorm, LeakyReLU, ReLU, Sigmoid, Tanh

PERCENTILES = (5, 15, 50, 85, 95)
N_BINS = 50
PRE_RANGE = (-8.0, 8.0)
ACT_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, 4.0),
    "leaky_relu": (-0.5, 4.0),
}
ACTIVATION_LAYERS = (Sigmoid, Tanh, ReLU, LeakyReLU)
#: The outputs that count as saturated, as (below, above): ``|σ(x) − 0.5| > 0.49`` and
#: ``|tanh x| > 0.97``; koubai's probes and :class:`koubai.torch.Monitor` both count these.
SATURATED = {"sigmoid": (0.01, 0.99), "tanh": (-0.97, 0.97)}


_Q = np.asarray(PERCENTILES, dtype=np.float64) / 100.0


class Summaries(NamedTuple):
    """The statistics of K arrays (see :func:`summaries`)."""

    mean: np.ndarray  # (K,)
    std: np.ndarray  # (K,)
    pct: np.ndarray  # (K, len(PERCENTILES))
    hist: np.ndarray  # (K, N_BINS) counts
    outside: np.ndarray  # (K,) share of values outside an interval (NaN where none was asked)


def summaries(
    arrays: list[np.ndarray],
    ranges: list[tuple[float, float]],
    outside: list[tuple[float, float] | None] | None = None,
) -> Summaries:
    """The statistics of each array: mean, std, :data:`PERCENTILES`, a histogram on N_BINS
    equal bins of ``ranges[k]`` and, where ``outside[k] = (a, b)``, the share of values below a
    or above b (a saturated sigmoid's, say).

    * percentiles as ``np.percentile`` (linear) computes them;
    * histogram: half-open bins ``[e_i, e_i+1)`` between the edges ``linspace(lo, hi,
      N_BINS + 1)``; values outside the range (±inf too) count in the end bins;
    * NaNs (a diverging step's) are left out of every statistic; an array of NaNs only gets
      NaN statistics and an empty histogram.

    Arrays of one size are stacked and sorted together; then each needs one binary search for
    its histogram, and everything else is a few NumPy calls for all of them: many records of
    a training run (see :class:`koubai.torch.Monitor`) cost little more than one.
    """
    k = len(arrays)
    out = Summaries(
        np.full(k, np.nan),
        np.full(k, np.nan),
        np.full((k, len(_Q)), np.nan),
        np.zeros((k, N_BINS), dtype=np.int64),
        np.full(k, np.nan),
    )
    outside = outside if outside is not None else [None] * k
    groups: dict[int, list[int]] = {}
    for r, a in enumerate(arrays):
        if np.size(a):
            groups.setdefault(np.size(a), []).append(r)
    for rows in groups.values():
        block = np.stack([np.ravel(arrays[r]) for r in rows])
        block.sort(axis=1)  # NaN sorts last
        if np.isnan(block[:, -1]).any():  # a diverging step: summarize the finite rest
            for r, values in zip(rows, block, strict=True):
                finite = values[: np.searchsorted(np.isnan(values), True)]
                _sorted_block(finite[None], [r], ranges, outside, out)
        else:
            _sorted_block(block, rows, ranges, outside, out)
    return out


def _sorted_block(block: np.ndarray, rows: list[int], ranges, outside, out: Summaries) -> None:
    """:func:`summaries` of equal-sized arrays, sorted, one per row of ``block``."""
    m, size = block.shape
    if size == 0:
        return
    mean = np.add.reduce(block, axis=1) / size  # pairwise sums: float32 loses ~1e-7
    out.mean[rows] = mean
    with np.errstate(invalid="ignore", over="ignore"):  # ±inf values: inf - inf, inf * 0
        dev = block - mean[:, None]
        out.std[rows] = np.sqrt(np.add.reduce(dev * dev, axis=1) / size)
        at, weights = _interpolation(size)
        out.pct[rows] = block[:, at] @ weights
    below = [v.searchsorted(_inner_edges(*ranges[r])) for v, r in zip(block, rows, strict=True)]
    bounds = np.empty((m, N_BINS + 1), dtype=np.int64)
    bounds[:, 0], bounds[:, 1:-1], bounds[:, -1] = 0, below, size
    out.hist[rows] = bounds[:, 1:] - bounds[:, :-1]
    for values, r in zip(block, rows, strict=True):
        if outside[r] is not None:
            low, high = outside[r]
            beyond = values.searchsorted(low) + size - values.searchsorted(high, "right")
            out.outside[r] = beyond / size


_INTERPOLATION: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_EDGES: dict[tuple[float, float], np.ndarray] = {}


def _interpolation(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``n`` sorted values: the positions either side of each percentile and the
    (2 P, P) matrix that interpolates linearly between them, as ``np.percentile`` does."""
    if n not in _INTERPOLATION:
        pos = (n - 1) * _Q
        i = np.floor(pos).astype(np.intp)
        j = np.minimum(i + 1, n - 1)
        frac = pos - i
        weights = np.zeros((2 * len(_Q), len(_Q)))
        weights[np.arange(len(_Q)), np.arange(len(_Q))] = 1.0 - frac
        weights[len(_Q) + np.arange(len(_Q)), np.arange(len(_Q))] = frac
        if len(_INTERPOLATION) > 64:
            _INTERPOLATION.clear()
        _INTERPOLATION[n] = (np.concatenate([i, j]), weights)
    return _INTERPOLATION[n]


def _inner_edges(lo: float, hi: float) -> np.ndarray:
    """The N_BINS - 1 edges between the bins of [lo, hi]."""
    if (lo, hi) not in _EDGES:
        _EDGES[(lo, hi)] = np.linspace(lo, hi, N_BINS + 1)[1:-1]
    return _EDGES[(lo, hi)]


class Diagnostics:
    """Per-layer gradient-flow and activation statistics of one training run.

    Args:
        net: the network being trained (its layout fixes the layers recorded).
    """

    def __init__(self, net) -> None:
        self.activation = net.config["activation"]
        self.affine = [i for i, layer in enumerate(net.layers) if isinstance(layer, Affine)]
        self.hidden = [
            i for i, layer in enumerate(net.layers) if isinstance(layer, ACTIVATION_LAYERS)
        ]
        self.batchnorm = any(isinstance(layer, BatchNorm) for layer in net.layers)
        self.act_range = ACT_RANGES[self.activation]
        self.rows: dict[str, list] = {}
        self.update_rows: dict[str, list] = {"update_iterations": [], "update_ratio": []}

    # -- recording ------------------------------------------------------------------------------
    def record(
        self,
        iteration: int,
        net,
        trace: list[np.ndarray],
        grad_trace: list[np.ndarray] | None = None,
    ) -> None:
        """Record after a training-mode forward/backward pass whose layer outputs are ``trace``
        and whose error signals are ``grad_trace`` (see :meth:`MLP.backward`; optional)."""
        grads = net.grads
        row: dict[str, object] = {
            "iterations": iteration,
            "weight_grad_norm": [
                float(np.linalg.norm(grads[f"layers.{i}.W"])) for i in self.affine
            ],
            "bias_grad_norm": [float(np.linalg.norm(grads[f"layers.{i}.b"])) for i in self.affine],
        }
        acts = [trace[i] for i in self.hidden]
        pres = [self._pre_activation(net, trace, i) for i in self.hidden]
        h = len(acts)
        ranges = [self.act_range] * h + [PRE_RANGE] * h
        stats = summaries(acts + pres, ranges, [SATURATED.get(self.activation)] * h + [None] * h)
        for prefix, part in (("act", slice(0, h)), ("pre", slice(h, 2 * h))):
            mean, std, pct, hist = (s[part] for s in stats[:4])
            row[f"{prefix}_mean"], row[f"{prefix}_std"] = mean.tolist(), std.tolist()
            row[f"{prefix}_pct"], row[f"{prefix}_hist"] = list(pct), list(hist)
        row["saturated"] = stats.outside[:h].tolist()
        row["dead"] = [self._dead(a) for a in acts]
        row["zero_share"] = [float(np.mean(a == 0)) for a in acts]
        row["never_active"] = [float(np.mean(np.all(a == 0, axis=0))) for a in acts]
        row["delta_std"] = [
            float(np.std(grad_trace[i - 1])) if grad_trace else float("nan") for i in self.hidden
        ]
        for key, value in row.items():
            self.rows.setdefault(key, []).append(value)

    @staticmethod
    def _pre_activation(net, trace, i: int) -> np.ndarray:
        # The nonlinearity's input is the output of the layer before it (affine or batch norm);
        # dropout comes after the activation (MLP builds it so), never between the two.
        return trace[i - 1]

    def _dead(self, a: np.ndarray) -> float:
        if self.activation in ("relu", "leaky_relu"):
            return float(np.mean(np.all(a <= 0, axis=0)))
        return float("nan")

    def record_update(self, iteration: int, net, before: dict[str, np.ndarray]) -> None:
        """Record ‖ΔW‖/‖W‖ of each affine layer for the step just taken."""
        ratios = []
        for i in self.affine:
            key = f"layers.{i}.W"
            w_old = before[key]
            norm = float(np.linalg.norm(w_old))
            delta = float(np.linalg.norm(net.params[key] - w_old))
            ratios.append(delta / norm if norm > 0 else float("inf") if delta > 0 else 0.0)
        self.update_rows["update_iterations"].append(iteration)
        self.update_rows["update_ratio"].append(ratios)

    def forget(self, keep: int) -> None:
        """Keep only the first record and the latest ``keep - 1``: a probe's memory stays
        bounded however long a session trains (the playground's)."""
        for table in (self.rows, self.update_rows):
            for values in table.values():
                if len(values) > keep:
                    del values[1 : len(values) - keep + 1]

    # -- results --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows.get("iterations", []))

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as named arrays (rows = records, columns = layers), ready for ``np.savez``."""
        out = {key: np.array(values) for key, values in self.rows.items()}
        its, ratios = self.update_rows["update_iterations"], self.update_rows["update_ratio"]
        out["update_iterations"] = np.array(its, dtype=np.int64)
        out["update_ratio"] = np.array(ratios, dtype=float).reshape(len(its), len(self.affine))
        out["act_edges"] = np.linspace(*self.act_range, N_BINS + 1)
        out["pre_edges"] = np.linspace(*PRE_RANGE, N_BINS + 1)
        out["percentiles"] = np.array(PERCENTILES)
        out["meta"] = np.array(
            json.dumps(
                {
                    "activation": self.activation,
                    "batchnorm": self.batchnorm,
                    "affine_layers": self.affine,
                    "hidden_layers": self.hidden,
                }
            )
        )
        return out


def decode_meta(arrays: dict[str, np.ndarray]) -> dict:
    """The arrays of :meth:`Diagnostics.arrays` with ``meta`` decoded from JSON into a dict."""
    meta = arrays["meta"]
    return {**arrays, "meta": meta if isinstance(meta, dict) else json.loads(str(meta))}


def load_diagnostics(path) -> dict[str, np.ndarray]:
    """Read a ``diagnostics.npz`` written by an experiment (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    return decode_meta(out)
