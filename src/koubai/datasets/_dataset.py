"""The :class:`Dataset` container, and the preparation every source shares (scale, shape, labels,
subsample), also offered for the user's own arrays through :func:`from_arrays`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from koubai.datasets._sampling import stratified_choice
from koubai.errors import ConfigError, DatasetError

__all__ = ["Dataset", "RawData", "from_arrays", "prepare"]


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split of labelled images, ready for a network.

    Args:
        name: the dataset really used (``"mnist"``, ``"mnist-5k"``, a file name...); after
            ``load("auto")`` it says which one the fallback chose.
        x_train: training inputs, in the dtype asked for.
        y_train: training labels, int64 class indices or one-hot rows.
        x_test: test inputs.
        y_test: test labels.
        source: where the data came from, for people (a path, a package, a URL).
        n_classes: number of classes C.
        image_shape: the shape of one image, e.g. ``(28, 28)``.
        class_names: one name per class, when the dataset has them. Default: None.

    Shape:
        x: ``(N, H*W)`` when flattened, else ``(N, H, W)``; y: ``(N,)`` or ``(N, C)`` when one-hot.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    n_classes: int
    image_shape: tuple[int, ...]
    class_names: tuple[str, ...] | None = None

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return len(self.x_test)

    @property
    def n_features(self) -> int:
        """Inputs per example once flattened (784 for MNIST)."""
        return math.prod(self.image_shape)

    @property
    def one_hot(self) -> bool:
        """Whether the labels are one-hot rows rather than class indices."""
        return self.y_train.ndim == 2

    def labels(self, split: str = "train") -> np.ndarray:
        """Class indices of ``split`` ("train" or "test"), whatever the label encoding."""
        if split not in ("train", "test"):
            raise ConfigError(f"unknown split {split!r}; choose one of ['test', 'train']")
        y = self.y_train if split == "train" else self.y_test
        return y.argmax(axis=1) if y.ndim == 2 else y

    def describe(self) -> str:
        """One line: name, sizes, shape, classes, value range and source."""
        shape = "×".join(str(d) for d in self.image_shape)
        lo = min(self.x_train.min(initial=np.inf), self.x_test.min(initial=np.inf))
        hi = max(self.x_train.max(initial=-np.inf), self.x_test.max(initial=-np.inf))
        labels = f"one-hot {self.y_train.dtype.name}" if self.one_hot else self.y_train.dtype.name
        return (
            f"{self.name}: {self.n_train:,} train + {self.n_test:,} test images {shape} "
            f"({self.n_features} features), {self.n_classes} classes; "
            f"x {self.x_train.dtype.name} {list(self.x_train.shape[1:])} in [{lo:g}, {hi:g}], "
            f"labels {labels}; from {self.source}"
        )

    def __repr__(self) -> str:
        return f"Dataset({self.describe()})"


@dataclass(eq=False)
class RawData:
    """What a source hands over before preparation: unscaled images and integer labels.

    ``pixel_max`` is the value that means "full intensity" (255 for MNIST, 16 for ``digits``);
    None when the values are already in [0, 1]. :func:`prepare` consumes it: it lets go of each
    split's images once they are converted (``x_train``/``x_test`` become None).
    """

    x_train: np.ndarray | None  # None once prepare() has converted it
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray
    source: str
    image_shape: tuple[int, ...]
    n_classes: int
    pixel_max: float | None = 255.0
    class_names: tuple[str, ...] | None = None


def _check_count(value: Any, what: str, upper: int) -> int | None:
    """Validate an optional subsample size: None or an int in [1, upper]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{what} must be a whole number or None, got {value!r}")
    if not 1 <= value <= upper:
        raise ConfigError(f"{what}={value} is out of range; choose 1 to {upper} (or None for all)")
    return int(value)


def check_seed(seed: Any) -> int:
    """Validate a seed: a non-negative int."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_dtype(dtype: DTypeLike, normalize: bool) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype {dtype!r} is not a NumPy dtype") from None
    if dt.kind not in "fiu":
        raise ConfigError(f"dtype must be a float or integer type, got {dt.name!r}")
    if normalize and dt.kind != "f":
        raise ConfigError(
            f"normalize=True scales pixels to [0, 1] and needs a float dtype, got {dt.name!r}; "
            "pass normalize=False for raw values"
        )
    return dt


def prepare(
    raw: RawData,
    *,
    name: str,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    dtype: DTypeLike = np.float32,
    subsample: int | None = None,
    test_subsample: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Scale, shape, encode and subsample a source's raw arrays into a :class:`Dataset`.

    The subsample draws use their own random streams derived from ``seed`` (independent of any
    train/test split the source made with the same seed). ``raw`` is consumed: each split's raw
    images are released once converted, so the peak memory is the float data plus one split's
    raw images (not both splits in both forms: 30 MB less for MNIST in float32).
    """
    if raw.x_train is None or raw.x_test is None:
        raise ValueError("this RawData was prepared already: prepare() consumes its images")
    dt = _check_dtype(dtype, normalize)
    seed = check_seed(seed)
    subsample = _check_count(subsample, "subsample", len(raw.x_train))
    test_subsample = _check_count(test_subsample, "test_subsample", len(raw.x_test))
    # Stream 0 is the source's split stream (see koubai.datasets.load); 1 and 2 are ours.
    _, sub_seq, test_seq = np.random.SeedSequence(seed).spawn(3)

    def part(x: np.ndarray, y: np.ndarray, k: int | None, seq) -> tuple[np.ndarray, np.ndarray]:
        if k is not None:
            idx = stratified_choice(y, k, np.random.default_rng(seq))
            x, y = x[idx], y[idx]
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), *raw.image_shape)
        x = x.astype(dt, copy=True)
        if normalize and raw.pixel_max is not None:
            x /= dt.type(raw.pixel_max)
        y = y.astype(np.int64, copy=True)
        if one_hot:
            y = np.eye(raw.n_classes, dtype=dt)[y]
        return x, y

    x_train, y_train = part(raw.x_train, raw.y_train, subsample, sub_seq)
    raw.x_train = None  # the caller's reference too: the uint8 copy can go before the test split's
    x_test, y_test = part(raw.x_test, raw.y_test, test_subsample, test_seq)
    raw.x_test = None
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=raw.source,
        n_classes=raw.n_classes,
        image_shape=tuple(raw.image_shape),
        class_names=raw.class_names,
    )


def _check_labels(y: Any, what: str, n: int, n_classes: int | None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        hint = f" (one-hot? pass {what}.argmax(axis=1))" if y.ndim == 2 else ""
        raise DatasetError(f"{what} must be 1-D class indices, got shape {y.shape}{hint}")
    if len(y) != n:
        raise DatasetError(f"{what} has {len(y)} labels but its images number {n}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DatasetError(f"{what} must hold whole-number class indices, got {y.dtype.name}")
    elif y.dtype.kind not in "iu":
        raise DatasetError(f"{what} must hold integer class indices, got dtype {y.dtype.name!r}")
    if len(y) and y.min() < 0:
        raise DatasetError(f"{what} holds a negative label {int(y.min())}; labels are 0..C-1")
    if n_classes is not None and len(y) and y.max() >= n_classes:
        raise DatasetError(
            f"{what} holds label {int(y.max())} but n_classes={n_classes} (labels are 0..C-1)"
        )
    return y.astype(np.int64)


def _check_images(x: Any, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise DatasetError(f"{what} must be numeric, got dtype {x.dtype.name!r}")
    if x.ndim < 2:
        raise DatasetError(f"{what} must be (N, D) or (N, H, W), got shape {x.shape}")
    if len(x) == 0:
        raise DatasetError(f"{what} is empty (shape {x.shape})")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DatasetError(f"{what} contains NaN or infinite values")
    return x


def from_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    name: str = "arrays",
    source: str = "user arrays",
    n_classes: int | None = None,
    class_names: tuple[str, ...] | None = None,
    pixel_max: float | None = None,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    dtype: DTypeLike = np.float32,
    subsample: int | None = None,
    test_subsample: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Wrap the user's own arrays as a :class:`Dataset`, after checking them.

    Args:
        x_train: training images, numeric.
        y_train: training labels, whole numbers 0..C-1.
        x_test: test images, same per-image shape as ``x_train``.
        y_test: test labels.
        name: the dataset's name. Default: "arrays".
        source: where the arrays came from, for people. Default: "user arrays".
        n_classes: C. Default: None (one more than the largest label).
        class_names: one name per class. Default: None.
        pixel_max: the value meaning full intensity, divided out when ``normalize``. Default:
            None (255 for integer images; float images must already lie in [0, 1]).
        normalize: scale pixels to [0, 1]. Default: True.
        flatten: return ``(N, D)`` rows rather than images. Default: True.
        one_hot: one-hot labels in ``dtype`` instead of int64 indices. Default: False.
        dtype: dtype of the inputs (and one-hot labels). Default: float32.
        subsample: keep a seeded stratified sample of this many training examples. Default: None.
        test_subsample: the same for the test set. Default: None (the whole test set).
        seed: seed of the subsample draws. Default: 0.

    Raises:
        DatasetError: shapes, labels or values are inconsistent (the message says which).
        ConfigError: an option is invalid.

    Shape:
        x ``(N, D)`` or ``(N, H, W)``; a 2-D input whose D is a perfect square (784) is taken as
        square images (28×28) for ``flatten=False``. y ``(N,)``.
    """
    xs = [_check_images(x_train, "x_train"), _check_images(x_test, "x_test")]
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise DatasetError(
            f"x_train images have shape {xs[0].shape[1:]} but x_test images {xs[1].shape[1:]}"
        )
    if n_classes is not None and (isinstance(n_classes, bool) or n_classes < 1):
        raise ConfigError(f"n_classes must be a positive integer, got {n_classes!r}")
    ys = [
        _check_labels(y_train, "y_train", len(xs[0]), n_classes),
        _check_labels(y_test, "y_test", len(xs[1]), n_classes),
    ]
    if n_classes is None:
        n_classes = int(max(ys[0].max(), ys[1].max())) + 1
    if class_names is not None and len(class_names) != n_classes:
        raise ConfigError(f"class_names has {len(class_names)} names for {n_classes} classes")
    image_shape = xs[0].shape[1:]
    if len(image_shape) == 1 and math.isqrt(image_shape[0]) ** 2 == image_shape[0]:
        image_shape = (math.isqrt(image_shape[0]),) * 2
    if normalize:
        if pixel_max is None:
            pixel_max = 255.0 if xs[0].dtype.kind in "iu" else None
        hi = 1.0 if pixel_max is None else float(pixel_max)
        if hi <= 0:
            raise ConfigError(f"pixel_max must be positive, got {pixel_max!r}")
        for what, x in zip(("x_train", "x_test"), xs, strict=True):
            lo_x, hi_x = float(x.min()), float(x.max())
            if lo_x < 0 or hi_x > hi:
                raise DatasetError(
                    f"{what} values lie in [{lo_x:g}, {hi_x:g}], outside [0, {hi:g}]; pass "
                    "normalize=False to keep them as they are, or pixel_max= their full scale"
                )
    raw = RawData(
        x_train=xs[0],
        y_train=ys[0],
        x_test=xs[1],
        y_test=ys[1],
        source=source,
        image_shape=tuple(int(d) for d in image_shape),
        n_classes=int(n_classes),
        pixel_max=pixel_max,
        class_names=tuple(class_names) if class_names is not None else None,
    )
    return prepare(
        raw,
        name=name,
        normalize=normalize,
        flatten=flatten,
        one_hot=one_hot,
        dtype=dtype,
        subsample=subsample,
        test_subsample=test_subsample,
        seed=seed,
    )
