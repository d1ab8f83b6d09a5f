"""A finished results folder, read through :class:`~koubai.results.ResultsFolder`, as the runs
a paper's claims are computed from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from koubai.results import ResultsFolder


@dataclass
class RunData:
    """One finished run: its configuration, status, metrics and diagnostics."""

    name: str
    group: str
    config: dict[str, Any]
    status: str
    metrics: dict[str, np.ndarray]
    diagnostics: dict | None

    @property
    def final_test_acc(self) -> float:
        acc = self.metrics.get("test_acc")
        return float(acc[-1]) if acc is not None and acc.size else math.nan

    def steps_to(self, accuracy: float) -> float:
        """The first evaluated iteration whose test accuracy reaches ``accuracy`` (inf: never)."""
        acc, its = self.metrics["test_acc"], self.metrics["iteration"]
        hit = np.flatnonzero(acc >= accuracy)
        return float(its[hit[0]]) if hit.size else math.inf

    def diag(self, key: str) -> np.ndarray:
        """A diagnostics array (records × layers); empty when the run recorded none."""
        if self.diagnostics is None or key not in self.diagnostics:
            return np.empty((0, 0))
        return np.asarray(self.diagnostics[key], dtype=float)


class Runs:
    """The runs of a results folder, to select by group and configuration."""

    def __init__(self, folder: ResultsFolder) -> None:
        self.folder = folder
        self.spec = folder.read_spec()
        status = {row["run"]: row["status"] for row in folder.read_summary()}
        self.runs: list[RunData] = []
        for entry in self.spec.get("run", []):
            name = entry["name"]
            if name not in status:  # planned, never finished
                continue
            config = {k: v for k, v in entry.items() if k not in ("name", "group")}
            self.runs.append(
                RunData(
                    name,
                    entry["group"],
                    config,
                    status[name],
                    folder.read_metrics(name),
                    folder.read_diagnostics(name),
                )
            )

    @classmethod
    def of(cls, runs: list[RunData], spec: dict[str, Any] | None = None) -> Runs:
        """Runs made by hand (what the claim logic is tested on), without a folder."""
        made = cls.__new__(cls)
        made.folder, made.spec, made.runs = None, spec or {}, list(runs)
        return made

    @property
    def dataset(self) -> str:
        return str(self.spec.get("dataset", ""))

    def select(self, group: str | None = None, **config: Any) -> list[RunData]:
        """Runs of ``group`` (any when None) whose configuration has these values."""
        return [
            r
            for r in self.runs
            if (group is None or r.group == group)
            and all(r.config.get(k) == v for k, v in config.items())
        ]

    def first(self, group: str | None = None, **config: Any) -> RunData | None:
        found = self.select(group, **config)
        return found[0] if found else None
