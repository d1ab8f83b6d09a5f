"""Verdicts from per-layer records: which layer has which training problem, and what to try.

``diagnose(records)`` judges the numbers a run recorded — from koubai's own training
(:class:`koubai.training.probes.Diagnostics`), from a user's PyTorch model
(:class:`koubai.torch.Monitor`) or from anything else that writes the same format — and returns
:class:`Finding` s. It is framework-free: NumPy only.

Record format
-------------
A mapping of arrays (``R`` records, ``A`` layers with weights in input → output order, the last
being the output layer; ``H`` hidden layers, i.e. nonlinearities, in forward order):

=======================  ==============  ========================================================
key                      shape           meaning
=======================  ==============  ========================================================
``iterations``           (R,)            the iteration (optimizer step) of each record
``weight_grad_norm``     (R, A)          ‖∂L/∂W‖ of each layer's weight (the gradient applied)
``bias_grad_norm``       (R, A)          ‖∂L/∂b‖ (NaN where a layer has no bias)
``act_mean/std``         (R, H)          each hidden layer's output statistics
``act_pct``, ``act_hist`` (R, H, ·)      its percentiles and histogram on ``act_edges``
``pre_*``                as ``act_*``    the same for the nonlinearity's input (``pre_edges``)
``saturated``            (R, H)          share of saturated sigmoid/tanh outputs (NaN: n/a)
``dead``                 (R, H)          share of ReLU units at 0 on the whole batch (NaN: n/a)
``update_iterations``    (U,)            the steps whose update ratio was measured
``update_ratio``         (U, A)          ‖ΔW‖/‖W‖ of each layer for that step
``meta``                 dict or JSON    ``activation``, ``batchnorm``, ``affine_layers``,
                                         ``hidden_layers``
=======================  ==============  ========================================================

Optional keys (written by :class:`koubai.torch.Monitor`; koubai's own runs work without them,
their layers then named "hidden layer 1", …, "output layer"):

=========================  ========  ==========================================================
``layer_names``            (A,)      names of the layers with weights (``model.named_modules``)
``hidden_names``           (H,)      names of the hidden (nonlinearity) layers
``activations``            (H,)      each hidden layer's kind: ``sigmoid``, ``relu``, …
``act_grad_norm``          (R, H)    ‖∂L/∂a‖ of each hidden layer's output (its error signal)
``weight_grad_present``    (R, A)    False where a layer had no gradient (frozen, unused)
``loss``                   (R,)      the loss at each record (``loss_iterations`` if not aligned)
``nonfinite_iteration``    ()        the first step with a NaN/inf gradient, -1 if none
``nonfinite_layer``        ()        the first module (forward order) that went non-finite
``nonfinite_detail``       ()        what went non-finite there, in words
=========================  ========  ==========================================================

Rules and thresholds are in :mod:`koubai.diagnose.rules` (:class:`Thresholds`).
"""

from __future__ import annotations

import os

from koubai.checks import check_language
from koubai.diagnose.finding import FIXES, KINDS, Finding
from koubai.diagnose.rules import KIND_FIXES, Thresholds, diagnose
from koubai.errors import ResultsError
from koubai.i18n import t

__all__ = [
    "FIXES",
    "KINDS",
    "KIND_FIXES",
    "Finding",
    "Thresholds",
    "diagnose",
    "diagnose_folder",
    "format_findings",
    "run_records",
]


def run_records(folder: str | os.PathLike) -> dict[str, dict]:
    """The diagnostics records of every run of a koubai results folder (run name → records),
    read from ``runs/*/diagnostics.npz``; a run that ``summary.csv`` marks ``diverged`` gets
    its non-finite event (the loss, at ``stopped_at``). The one place that knows the layout."""
    from koubai.results import ResultsFolder
    from koubai.training.probes import load_diagnostics

    folder = ResultsFolder(folder)
    if not folder.path.is_dir():
        raise ResultsError(f"{folder.path} does not exist; expected a koubai results folder")
    out = {name: load_diagnostics(p) for name, p in folder.run_diagnostics_paths().items()}
    for row in folder.read_summary():
        records = out.get(row.get("run", ""))
        if records is not None and row.get("status") == "diverged":
            records["nonfinite_iteration"] = int(float(row.get("stopped_at") or 0))
            records["nonfinite_layer"] = "loss"
            records["nonfinite_detail"] = "the loss became NaN or inf: the run diverged"
    return out


def diagnose_folder(
    path: str | os.PathLike, *, thresholds: Thresholds | None = None
) -> dict[str, list[Finding]]:
    """The findings of every run of a koubai results folder: run name → findings."""
    return {
        name: diagnose(records, thresholds=thresholds)
        for name, records in run_records(path).items()
    }


def format_findings(findings: list[Finding], lang: str = "en") -> str:
    """The findings as text, one line each; a line saying so when there are none."""
    check_language(lang)
    if not findings:
        return t("diagnose.none", lang)
    return "\n".join(
        f"[{t(f'diagnose.severity.{f.severity}', lang)}] {f.message(lang)}" for f in findings
    )
