"""The rules: from per-layer records to :class:`~koubai.diagnose.finding.Finding` s.

Each rule turns the records into a boolean table "the rule held" (records × layers); the
finding names the first record where it held for any layer, the layer nearest the input among
those, and is a ``"problem"`` when it went on holding (in at least ``persistence`` of the
records from then on), a ``"warning"`` when it came and went.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from koubai.checks import check_number
from koubai.diagnose.finding import Finding, make_finding
from koubai.errors import ConfigError


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the rules, with where it comes from. Override any field:
    ``Thresholds(dead_share=0.95)``.

    Args:
        vanishing_ratio: vanishing gradient when a hidden layer's ‖∂L/∂W‖ is below this fraction
            of the output layer's... Default: 1e-2 (the rule is AUTOTRAINER's, Zhang et al.,
            ICSE 2021, with 1e-3; see ``vanishing_norm``).
        vanishing_norm: ...and below this absolute norm. Default: 1e-3 (AUTOTRAINER: 1e-4).
            The note's own case, sigmoid + gauss(0.01) in a 784-40-20-10 MLP that stays at
            chance, gives its first layer 1/1,250 to 1/740 of the output layer's gradient
            with a norm of 2.4e-4 to 7e-4: AUTOTRAINER's pair misses it. Healthy models keep
            a ratio above 0.049 (koubai's zoo and seed experiments, benchmarks/README.md).
        exploding_ratio: exploding gradient when a hidden layer's ‖∂L/∂W‖ is above this multiple
            of the output layer's... Default: 70 (AUTOTRAINER).
        exploding_norm: ...or when any layer's ‖∂L/∂W‖ is above this. Default: 100 (koubai's
            zoo: a too-large initialization scales every layer's gradient alike, so the ratio
            alone never sees it; healthy nets with a batch-mean loss stay below 20).
        dead_share: dead units when at least this share of a ReLU layer's units output 0 on
            the whole batch. Default: 0.7 (AUTOTRAINER's 70 %; DeepDiagnosis uses 95 %; the zoo
            separates planted from healthy nets with either, see benchmarks/README.md).
        saturated_share: saturation when more than this share of a sigmoid/tanh layer's outputs
            are saturated (sigmoid within 0.01 of 0 or 1, i.e. |x| > 3.9; tanh beyond ±0.97,
            i.e. |x| > 2.1). Default: 0.5 (DeepDiagnosis, Wardat et al., ICSE 2022, which
            counts inputs with |x| ≥ 5 instead).
        update_ratio_low: updates too small when a layer's ‖ΔW‖/‖W‖ per step is below this.
            Default: 1e-5 (koubai's zoo calibration; the rule of thumb of ~1e-3 being healthy
            is Karpathy's, "makemore" part 3).
        update_ratio_high: updates too large above this. Default: 1.0, a step as large as
            the weights themselves (koubai's zoo: healthy nets whose weights start tiny, e.g.
            gauss(0.01) with batch norm, reach 0.6 in their first steps).
        persistence: a finding is a "problem" when its rule held in at least this share of the
            records from its first iteration on... Default: 0.5 (koubai).
        extreme: ...or when its value was beyond the threshold by this factor (ten times the
            threshold, or a tenth of it for the "below" rules); else a "warning".
            Default: 10 (koubai).
    """

    vanishing_ratio: float = 1e-2
    vanishing_norm: float = 1e-3
    exploding_ratio: float = 70.0
    exploding_norm: float = 100.0
    dead_share: float = 0.7
    saturated_share: float = 0.5
    update_ratio_low: float = 1e-5
    update_ratio_high: float = 1.0
    persistence: float = 0.5
    extreme: float = 10.0

    def vanishes(self, ratio, norm):
        """The vanishing-gradient rule (elementwise): a hidden layer's gradient ``norm`` and
        its ``ratio`` to the output layer's both below their thresholds."""
        return (ratio < self.vanishing_ratio) & (norm < self.vanishing_norm)

    def __post_init__(self) -> None:
        for f in fields(self):
            check_number(getattr(self, f.name), f"threshold {f.name}", positive=True)
        for name in ("dead_share", "saturated_share", "persistence"):
            if getattr(self, name) > 1:
                raise ConfigError(
                    f"threshold {name} is a share in (0, 1], got {getattr(self, name)!r}"
                )


#: The fixes each kind suggests, most effective first.
KIND_FIXES: dict[str, tuple[str, ...]] = {
    "vanishing_gradient": ("relu", "he_init", "batchnorm", "residual"),
    "exploding_gradient": ("smaller_init", "gradient_clipping", "lower_lr", "batchnorm"),
    "dead_units": ("bias_init", "leaky_relu", "lower_lr", "he_init"),
    "saturation": ("xavier_init", "batchnorm", "relu"),
    "non_finite": ("stable_loss", "lower_lr", "gradient_clipping", "check_data"),
    "update_ratio_low": ("higher_lr", "adam"),
    "update_ratio_high": ("lower_lr", "warmup", "gradient_clipping"),
}


class Records:
    """The records of one run, read once: arrays, iterations and layer names."""

    def __init__(self, records: Mapping[str, Any]) -> None:
        missing = [k for k in ("iterations", "weight_grad_norm") if k not in records]
        if missing:
            raise ConfigError(
                f"diagnostics records lack {missing}; expected the keys of "
                "koubai.training.probes.Diagnostics.arrays() (see koubai.diagnose)"
            )
        self.raw = records
        self.iterations = np.asarray(records["iterations"], dtype=np.int64).reshape(-1)
        self.grad = np.asarray(records["weight_grad_norm"], dtype=np.float64)
        if self.grad.ndim != 2 or self.grad.shape[0] != self.iterations.size:
            raise ConfigError(
                f"weight_grad_norm must have shape (records, layers) = ({self.iterations.size}, "
                f"n), got {self.grad.shape}"
            )
        n = self.grad.shape[1]
        default = [f"hidden layer {k + 1}" for k in range(n - 1)] + ["output layer"]
        self.layer_names = self._names("layer_names", default, n)
        present = records.get("weight_grad_present")
        self.present = (
            np.ones(self.grad.shape, dtype=bool)
            if present is None
            else np.asarray(present, dtype=bool).reshape(self.grad.shape)
        )

    def _names(self, key: str, default: Sequence[str], n: int) -> list[str]:
        names = self.raw.get(key)
        if names is None:
            return list(default)
        names = [str(s) for s in np.asarray(names).reshape(-1)]
        if len(names) != n:
            raise ConfigError(f"{key} names {len(names)} layers, but the records have {n}")
        return names

    def hidden(self, key: str) -> tuple[np.ndarray, list[str]] | None:
        """A (records × hidden layers) array and the hidden layers' names, or None."""
        if key not in self.raw:
            return None
        values = np.asarray(self.raw[key], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] == 0:
            return None
        default = [f"hidden layer {k + 1}" for k in range(values.shape[1])]
        return values, self._names("hidden_names", default, values.shape[1])

    def meta(self) -> dict:
        meta = self.raw.get("meta", {})
        if isinstance(meta, np.ndarray):
            meta = str(meta)
        return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _first(holds: np.ndarray, persistence: float, extreme=None) -> tuple[int, int, str] | None:
    """(row, column, severity) of the first record where ``holds`` is true for any column,
    the column nearest the input among those; None when it never holds. ``extreme`` (the same
    shape) marks values far beyond the threshold: a problem even if it did not persist."""
    rows = np.flatnonzero(holds.any(axis=1))
    if rows.size == 0:
        return None
    r = int(rows[0])
    c = int(np.flatnonzero(holds[r])[0])
    share = float(holds[r:].any(axis=1).mean())
    severe = share >= persistence or (extreme is not None and bool(extreme[r, c]))
    return r, c, "problem" if severe else "warning"


def _finding(kind, hit, its, names, values, threshold) -> Finding | None:
    if hit is None:
        return None
    r, c, severity = hit
    return make_finding(
        kind, names[c], int(its[r]), float(values[r, c]), threshold, severity, KIND_FIXES[kind]
    )


def _gradient_rules(rec: Records, th: Thresholds) -> list[Finding]:
    g = rec.grad
    if g.shape[1] < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = g[:, :-1] / g[:, -1:]
    its, names, out = rec.iterations, rec.layer_names, []
    vanishing = th.vanishes(ratio, g[:, :-1])
    hit = _first(vanishing, th.persistence)
    out.append(_finding("vanishing_gradient", hit, its, names, ratio, th.vanishing_ratio))
    # exploding: a hidden layer's ratio to the output layer, or any layer's norm
    padded = np.zeros(g.shape)
    padded[:, :-1] = ratio
    with np.errstate(invalid="ignore"):
        by_ratio = padded > th.exploding_ratio
        by_norm = g > th.exploding_norm
        extreme = (padded > th.extreme * th.exploding_ratio) | (g > th.extreme * th.exploding_norm)
    hit = _first(by_ratio | by_norm, th.persistence, extreme)
    if hit is not None:
        r, c, severity = hit
        if by_ratio[r, c]:
            value, threshold, extra = float(ratio[r, c]), th.exploding_ratio, ""
        else:
            value, threshold = float(g[r, c]), th.exploding_norm
            extra = "norm"
        out.append(
            make_finding(
                "exploding_gradient", names[c], int(its[r]), value, threshold, severity,
                KIND_FIXES["exploding_gradient"], extra,
            )
        )  # fmt: skip
    return out


def _unit_rules(rec: Records, th: Thresholds) -> list[Finding]:
    out = []
    for kind, key, threshold, strict in (
        ("dead_units", "dead", th.dead_share, False),
        ("saturation", "saturated", th.saturated_share, True),
    ):
        found = rec.hidden(key)
        if found is None:
            continue
        values, names = found
        with np.errstate(invalid="ignore"):
            holds = values > threshold if strict else values >= threshold
        hit = _first(holds, th.persistence)
        out.append(_finding(kind, hit, rec.iterations, names, values, threshold))
    return out


def _update_rules(rec: Records, th: Thresholds) -> list[Finding]:
    if "update_ratio" not in rec.raw or "update_iterations" not in rec.raw:
        return []
    its = np.asarray(rec.raw["update_iterations"], dtype=np.int64).reshape(-1)
    ratio = np.asarray(rec.raw["update_ratio"], dtype=np.float64)
    if its.size == 0 or ratio.size == 0:
        return []
    ratio = ratio.reshape(its.size, -1)
    if ratio.size == 0 or ratio.shape[1] != len(rec.layer_names):
        return []
    out = []
    finite = np.isfinite(ratio)
    with np.errstate(invalid="ignore"):
        low = finite & (ratio < th.update_ratio_low)
        high = finite & (ratio > th.update_ratio_high)
        very_low = ratio < th.update_ratio_low / th.extreme
        very_high = ratio > th.update_ratio_high * th.extreme
    for kind, holds, extreme, threshold in (
        ("update_ratio_low", low, very_low, th.update_ratio_low),
        ("update_ratio_high", high, very_high, th.update_ratio_high),
    ):
        hit = _first(holds, th.persistence, extreme)
        out.append(_finding(kind, hit, its, rec.layer_names, ratio, threshold))
    return out


def _non_finite(rec: Records) -> Finding | None:
    """The monitor's exact event when the records carry one; else the first record whose
    gradient norm (or loss) is NaN or inf."""
    fixes = KIND_FIXES["non_finite"]
    event = rec.raw.get("nonfinite_iteration")
    if event is not None and int(np.asarray(event)) >= 0:
        layer = str(np.asarray(rec.raw.get("nonfinite_layer", "?")))
        detail = str(np.asarray(rec.raw.get("nonfinite_detail", "")))
        return make_finding(
            "non_finite",
            layer,
            int(np.asarray(event)),
            math.nan,
            math.inf,
            "problem",
            fixes,
            detail,
        )
    bad = ~np.isfinite(rec.grad) & rec.present
    rows = np.flatnonzero(bad.any(axis=1))
    loss_row = None
    if "loss" in rec.raw:
        loss = np.asarray(rec.raw["loss"], dtype=np.float64).reshape(-1)
        loss_its = np.asarray(rec.raw.get("loss_iterations", rec.iterations)).reshape(-1)
        bad_loss = np.flatnonzero(~np.isfinite(loss))
        if bad_loss.size:
            loss_row = int(loss_its[bad_loss[0]])
    if rows.size == 0 and loss_row is None:
        return None
    grad_it = int(rec.iterations[rows[0]]) if rows.size else None
    if grad_it is not None and (loss_row is None or grad_it <= loss_row):
        c = int(np.flatnonzero(bad[rows[0]])[0])
        value = float(rec.grad[rows[0], c])
        return make_finding(
            "non_finite",
            rec.layer_names[c],
            grad_it,
            value,
            math.inf,
            "problem",
            fixes,
            f"its gradient norm is {value}",
        )
    return make_finding(
        "non_finite",
        "loss",
        loss_row,
        math.nan,
        math.inf,
        "problem",
        fixes,
        "the loss is NaN or inf",
    )


#: Keys whose rows are the records (``iterations``) or the update records.
_PER_RECORD = ("weight_grad_norm", "weight_grad_present", "bias_grad_norm", "saturated", "dead",
               "act_grad_norm", "act_mean", "act_std", "act_pct", "act_hist", "pre_mean",
               "pre_std", "pre_pct", "pre_hist")  # fmt: skip


def _before(records: Mapping[str, Any], iteration: int) -> dict:
    """The records of the iterations before ``iteration`` (and without the non-finite event)."""
    out = {k: v for k, v in records.items() if not k.startswith(("nonfinite_", "loss"))}
    keep = np.asarray(records["iterations"]).reshape(-1) < iteration
    out["iterations"] = np.asarray(records["iterations"]).reshape(-1)[keep]
    for key in _PER_RECORD:
        if key in records and np.ndim(records[key]) >= 1 and len(records[key]) == keep.size:
            out[key] = np.asarray(records[key])[keep]
    if "update_iterations" in records and "update_ratio" in records:
        its = np.asarray(records["update_iterations"]).reshape(-1)
        kept = its < iteration
        out["update_iterations"] = its[kept]
        ratio = np.asarray(records["update_ratio"])
        out["update_ratio"] = ratio.reshape(its.size, -1)[kept] if ratio.size else ratio
    return out


def diagnose(records: Mapping[str, Any], *, thresholds: Thresholds | None = None) -> list[Finding]:
    """Judge one run's per-layer records; return its findings, earliest first.

    Args:
        records: the dict that ``Diagnostics.arrays()``, ``load_diagnostics`` or
            :class:`koubai.torch.Monitor` produce (the format is in :mod:`koubai.diagnose`).
        thresholds: the rules' thresholds. Default: :class:`Thresholds` ().

    Returns:
        At most one finding per kind, sorted by iteration (then by kind, as in ``KINDS``).
    """
    if not isinstance(records, Mapping):
        raise ConfigError(f"records must be a mapping of arrays, got {type(records).__name__}")
    th = thresholds if thresholds is not None else Thresholds()
    if not isinstance(th, Thresholds):
        raise ConfigError(f"thresholds must be a koubai.diagnose.Thresholds, got {th!r}")
    rec = Records(records)
    found = [_non_finite(rec)]
    if found[0] is not None:  # what follows a NaN is not evidence of anything else
        rec = Records(_before(records, found[0].iteration))
    found += _gradient_rules(rec, th) + _unit_rules(rec, th) + _update_rules(rec, th)
    from koubai.diagnose.finding import KINDS

    return sorted(
        (f for f in found if f is not None), key=lambda f: (f.iteration, KINDS.index(f.kind))
    )
