"""Experiments: spec files, the built-in course experiments, and the runner."""

from koubai.experiments.runner import ExperimentResult, resume_experiment, run_experiment
from koubai.experiments.spec import (
    PROTOCOLS,
    RunSpec,
    Spec,
    builtin_names,
    builtin_text,
    load_spec,
    parse_spec,
)

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
