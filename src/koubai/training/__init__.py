"""Training: configuration, the loop, its mini-batches, evaluation points and diagnostics."""

from koubai.training.config import TrainConfig
from koubai.training.data import Batches, BatchSampler, TrainingArrays
from koubai.training.evaluation import EvalRecord, Evaluator
from koubai.training.loop import RunInterrupted, RunResult, build_net, train

__all__ = [
    "BatchSampler",
    "Batches",
    "EvalRecord",
    "Evaluator",
    "RunInterrupted",
    "RunResult",
    "TrainConfig",
    "TrainingArrays",
    "build_net",
    "train",
]
