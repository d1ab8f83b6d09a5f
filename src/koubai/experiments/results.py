"""The folder an experiment leaves: resolved spec, summary, per-run metrics, arrays, figures.

::

    <name>-<time>/
      spec.toml            the experiment as run: protocol, dataset, every run's configuration
      summary.csv          one row per run
      summary-by-config.csv  one row per configuration: mean, std, min, max over its seeds
      comparison-<group>.png|svg, gradient-flow-<group>.png|svg, nonlinearity-inputs-<group>...
      report.html          everything in one self-contained page
      runs/<run>/metrics.csv, accuracy.png|svg, model.npz, diagnostics.npz and the
                 diagnostics figures gradient-flow.png, activations.png, saturation-updates.png
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import tomli_w

from koubai.training.loop import RunResult

SUMMARY_COLUMNS = [
    "run",
    "group",
    "activation",
    "init",
    "batchnorm",
    "hidden_sizes",
    "optimizer",
    "lr",
    "iterations",
    "seed",
    "final_train_acc",
    "final_test_acc",
    "status",
    "stopped_at",
    "seconds",
]
METRIC_COLUMNS = ["iteration", "loss", "train_acc", "test_acc"]


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so no half-written file remains."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _csv(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def metrics_csv(result: RunResult) -> str:
    """The run's evaluation points: iteration, loss, train accuracy, test accuracy."""
    rows = [
        (r.iteration, f"{r.loss:.6g}", f"{r.train_acc:.4f}", f"{r.test_acc:.4f}")
        for r in result.records
    ]
    return _csv(rows, METRIC_COLUMNS)


def summary_row(name: str, group: str, result: RunResult) -> dict[str, object]:
    c = result.config
    return {
        "run": name,
        "group": group,
        "activation": c.activation,
        "init": c.init if c.init != "gauss" else f"gauss({c.init_std:g})",
        "batchnorm": c.batchnorm,
        "hidden_sizes": "-".join(str(h) for h in c.hidden_sizes),
        "optimizer": c.optimizer,
        "lr": c.lr,
        "iterations": c.iterations,
        "seed": c.seed,
        "final_train_acc": round(result.final_train_acc, 4),
        "final_test_acc": round(result.final_test_acc, 4),
        "status": result.status,
        "stopped_at": result.stopped_at,
        "seconds": round(result.seconds, 2),
    }


def summary_csv(rows: Sequence[dict[str, object]]) -> str:
    return _csv([[row[k] for k in SUMMARY_COLUMNS] for row in rows], SUMMARY_COLUMNS)


AGGREGATE_COLUMNS = [
    "group",
    "config",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_min",
    "test_acc_max",
    "train_acc_mean",
    "diverged",
]


def aggregate(rows: Iterable[tuple[str, str, RunResult]]) -> list[dict[str, object]]:
    """Final accuracies per (group, configuration) over its seeds, in first-seen order."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for group, config, res in rows:
        groups.setdefault((group, config), []).append(res)
    out = []
    for (group, config), results in groups.items():
        test = np.array([r.final_test_acc for r in results])
        train = np.array([r.final_train_acc for r in results])
        out.append(
            {
                "group": group,
                "config": config,
                "seeds": len(results),
                "test_acc_mean": round(float(test.mean()), 4),
                "test_acc_std": round(float(test.std(ddof=1)) if len(test) > 1 else 0.0, 4),
                "test_acc_min": round(float(test.min()), 4),
                "test_acc_max": round(float(test.max()), 4),
                "train_acc_mean": round(float(train.mean()), 4),
                "diverged": sum(r.status == "diverged" for r in results),
            }
        )
    return out


def aggregate_csv(rows: Sequence[dict[str, object]]) -> str:
    return _csv([[row[k] for k in AGGREGATE_COLUMNS] for row in rows], AGGREGATE_COLUMNS)


def spec_toml(meta: dict[str, object], runs: Sequence[tuple[str, str, dict]]) -> str:
    """The resolved experiment: ``meta`` at the top, then one ``[[run]]`` table per run."""
    doc = dict(meta)
    doc["run"] = [{"name": name, "group": group, **config} for name, group, config in runs]
    return tomli_w.dumps(doc)


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` through a temporary file (loadable with ``allow_pickle=False``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
