"""Training: the loop, its configuration and the diagnostics probes."""

from koubai.training.config import TrainConfig
from koubai.training.loop import BatchSampler, EvalRecord, RunResult, build_net, train

__all__ = ["BatchSampler", "EvalRecord", "RunResult", "TrainConfig", "build_net", "train"]
