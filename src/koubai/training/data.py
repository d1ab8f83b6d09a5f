"""The arrays a run trains on, checked against its configuration, and its mini-batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from koubai.errors import ConfigError
from koubai.training.config import TrainConfig


class DataLike(Protocol):
    """Anything with train and test arrays: a :class:`koubai.datasets.Dataset`, say."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _labels(y: np.ndarray) -> np.ndarray:
    return y.argmax(axis=1) if y.ndim == 2 else y


def check_data(data: DataLike, config: TrainConfig) -> None:
    """Refuse data that ``config`` cannot train on, before anything is built or written."""
    for part in ("x_train", "y_train", "x_test", "y_test"):
        if not hasattr(data, part):
            raise ConfigError(f"training data needs {part}; got {type(data).__name__}")
    if np.ndim(data.x_train) != 2:
        raise ConfigError(
            f"training inputs must be flattened (N, D), got shape {np.shape(data.x_train)}"
        )
    n = np.shape(data.x_train)[0]
    if n == 0 or np.shape(data.x_test)[0] == 0:
        raise ConfigError("training needs at least one training and one test example")
    n_classes = getattr(data, "n_classes", None)
    if n_classes is not None and n_classes < 2:
        raise ConfigError(f"training needs at least 2 classes, got {n_classes}")
    for key in ("train_size", "probe_samples"):
        if getattr(config, key) > n:
            raise ConfigError(
                f"{key} {getattr(config, key)} exceeds the {n} training examples of the data"
            )
    n = config.train_size or n
    if config.batchnorm and n < 2:
        raise ConfigError("batch norm needs at least 2 training examples")
    if config.sampling == "epoch" and config.batch_size > n:
        raise ConfigError(
            f"batch_size {config.batch_size} exceeds the {n} training examples (sampling = 'epoch')"
        )


@dataclass
class TrainingArrays:
    """The run's arrays: the training set as stored (batches are gathered and converted one at
    a time: no float64 copy of 60,000 images), the test set and the fixed training subset (when
    ``train_accuracy = "subset"``) in the run's dtype, and labels as class indices."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_subset: np.ndarray | None
    y_subset: np.ndarray | None
    n_classes: int
    dtype: np.dtype
    x_probe: np.ndarray | None = None
    y_probe: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @classmethod
    def from_data(
        cls, data: DataLike, config: TrainConfig, n_classes: int | None = None
    ) -> TrainingArrays:
        check_data(data, config)
        dtype = np.dtype(config.dtype)
        x_train = np.asarray(data.x_train)
        y_train, y_test = _labels(np.asarray(data.y_train)), _labels(np.asarray(data.y_test))
        if n_classes is None:
            n_classes = (
                getattr(data, "n_classes", None) or int(max(y_train.max(), y_test.max())) + 1
            )
        if config.train_size:
            rows = balanced_rows(y_train, config.train_size, n_classes)
            x_train, y_train = x_train[rows], y_train[rows]
        x_probe = y_probe = None
        if config.probe_samples:
            rows = balanced_rows(y_train, config.probe_samples, n_classes)
            x_probe, y_probe = x_train[rows].astype(dtype), y_train[rows]
        x_sub = y_sub = None
        if config.train_accuracy == "subset":
            k = min(config.train_subset, x_train.shape[0])
            rng = np.random.default_rng([config.seed, 2])
            rows = np.sort(rng.choice(x_train.shape[0], k, replace=False))
            x_sub, y_sub = x_train[rows].astype(dtype), y_train[rows]
        x_test = np.asarray(data.x_test, dtype=dtype)
        return cls(
            x_train, y_train, x_test, y_test, x_sub, y_sub, n_classes, dtype, x_probe, y_probe
        )


def balanced_rows(labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Indices of ``k`` examples, the same number from each class (the first classes one more
    when ``k`` does not divide evenly): the first ones of each class in the data's order, so
    the choice is class-balanced even when the data are sorted by class. Sorted."""
    per, extra = divmod(k, n_classes)
    rows = []
    for c in range(n_classes):
        want = per + (c < extra)
        found = np.flatnonzero(labels == c)[:want]
        if found.size < want:
            raise ConfigError(
                f"{k} class-balanced examples need {want} of class {c}; the data have {found.size}"
            )
        rows.append(found)
    return np.sort(np.concatenate(rows))


class BatchSampler:
    """Draws mini-batch indices: with replacement (the course) or in shuffled epochs."""

    def __init__(self, n: int, batch_size: int, mode: str, rng: np.random.Generator) -> None:
        self.n, self.batch_size, self.mode, self.rng = n, batch_size, mode, rng
        self._order = np.empty(0, dtype=np.intp)
        self._pos = 0

    def next(self) -> np.ndarray:
        if self.mode == "replacement":
            return self.rng.integers(0, self.n, self.batch_size)
        if self._pos + self.batch_size > self._order.size:  # a new epoch (drop the remainder)
            self._order = self.rng.permutation(self.n)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx


class Batches:
    """The run's mini-batches, gathered into one reused buffer ``x`` in the run's dtype.

    ``next()`` returns ``(x, t)``: ``x`` is the same array every time, overwritten, so a caller
    that needs a batch later must copy it.
    """

    def __init__(self, arrays: TrainingArrays, config: TrainConfig) -> None:
        rng = np.random.default_rng([config.seed, 1])  # the batches: a stream apart from weights
        self.sampler = BatchSampler(
            arrays.x_train.shape[0], config.batch_size, config.sampling, rng
        )
        self.arrays = arrays
        self.x = np.empty((config.batch_size, arrays.n_features), dtype=arrays.dtype)
        same = arrays.x_train.dtype == arrays.dtype
        self._gathered = self.x if same else np.empty(self.x.shape, arrays.x_train.dtype)

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self.sampler.next()
        np.take(self.arrays.x_train, idx, axis=0, out=self._gathered, mode="clip")  # in range
        if self._gathered is not self.x:
            self.x[...] = self._gathered
        return self.x, self.arrays.y_train[idx]
