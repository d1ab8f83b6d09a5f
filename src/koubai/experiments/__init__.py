"""Experiments: spec files, the built-in course experiments, and the runner.

The runner (and, through it, the figures and matplotlib) is imported on first use, so that a
worker process that only trains (:mod:`koubai.experiments.executors`) starts light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koubai.experiments.spec import (
    PROTOCOLS,
    RunSpec,
    Spec,
    builtin_names,
    builtin_text,
    load_spec,
    parse_spec,
)

if TYPE_CHECKING:
    from koubai.experiments.runner import ExperimentResult, resume_experiment, run_experiment

_FROM_RUNNER = ("ExperimentResult", "resume_experiment", "run_experiment")

__all__ = [
    "PROTOCOLS",
    "ExperimentResult",
    "RunSpec",
    "Spec",
    "builtin_names",
    "builtin_text",
    "load_spec",
    "parse_spec",
    "resume_experiment",
    "run_experiment",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_RUNNER:
        from koubai.experiments import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'koubai.experiments' has no attribute {name!r}")
