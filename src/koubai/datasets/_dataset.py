"""The :class:`Dataset` container, and the preparation every source shares (scale, shape, labels,
subsample), also offered for the user's own arrays through :func:`from_arrays`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from koubai import limits
from koubai.checks import check_numeric_dtype, check_seed
from koubai.datasets._sampling import stratified_choice
from koubai.errors import ConfigError, DatasetError

__all__ = ["Dataset", "Preparation", "RawData", "from_arrays", "prepare"]

#: Labels shown when some are wrong.
SHOW_LABELS = 5


def in_memory(x: np.ndarray, dtype: np.dtype, scale: float | None) -> np.ndarray:
    """``x`` as a new array of ``dtype``, divided by ``scale`` unless it is None."""
    out = x.astype(dtype, copy=True)
    if scale is not None:
        out /= dtype.type(scale)
    return out


#: How :func:`prepare` makes a split's inputs from the raw images, ``make(x, dtype, scale)`` as
#: :func:`in_memory`, which is the default; the local pool of :mod:`koubai.experiments` swaps in
#: one that writes them straight into shared memory
#: (:func:`koubai.experiments.pool.data_in_shared_memory`).
MAKE_INPUTS: ContextVar[Callable[[np.ndarray, np.dtype, float | None], np.ndarray]] = ContextVar(
    "koubai_make_inputs", default=in_memory
)


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
    if not 1 <= value <= upper:
        raise ConfigError(f"{what}={value} is out of range; choose 1 to {upper} (or None for all)")
    return int(value)


@dataclass(frozen=True)
class Preparation:
    """How a dataset's arrays are prepared: the options :func:`~koubai.datasets.load`,
    :func:`prepare` and :func:`from_arrays` share, checked once, here.

    Each of those functions also takes these fields as keyword arguments
    (``load("mnist-5k", subsample=500)``), or a whole ``prep=Preparation(...)``.

    Args:
        normalize: scale pixels to [0, 1]; False keeps the raw values (0..255). Default: True.
        flatten: rows of H*W features; False keeps ``(N, H, W)`` images. Default: True.
        one_hot: one-hot labels in ``dtype``; False gives int64 class indices. Default: False.
        dtype: dtype of the inputs (and of one-hot labels); an integer dtype needs
            ``normalize=False``. Default: float32.
        subsample: keep a seeded, stratified sample of this many training examples.
            Default: None (all).
        test_subsample: the same for the test set. Default: None (the whole test set).
        seed: seed of the train/test split (mnist-5k, digits) and of the subsamples. Default: 0.

    Raises:
        ConfigError: a value of the wrong type, a seed < 0, an unknown dtype, or an integer
            dtype with ``normalize=True``.
    """

    normalize: bool = True
    flatten: bool = True
    one_hot: bool = False
    dtype: DTypeLike = np.float32
    subsample: int | None = None
    test_subsample: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("normalize", "flatten", "one_hot"):
            if not isinstance(getattr(self, key), bool | np.bool_):
                raise ConfigError(f"{key} must be True or False, got {getattr(self, key)!r}")
        dt = check_numeric_dtype(self.dtype)
        if self.normalize and dt.kind != "f":
            raise ConfigError(
                f"normalize=True scales pixels to [0, 1] and needs a float dtype, got "
                f"{dt.name!r}; pass normalize=False for raw values"
            )
        object.__setattr__(self, "dtype", dt)
        object.__setattr__(self, "seed", check_seed(self.seed))
        for key in ("subsample", "test_subsample"):
            value = getattr(self, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | np.integer)
            ):
                raise ConfigError(f"{key} must be a whole number or None, got {value!r}")

    @classmethod
    def of(cls, prep: Preparation | None = None, /, **options: Any) -> Preparation:
        """``prep`` (or the defaults) with ``options`` applied; an unknown option is a
        :class:`ConfigError` listing the valid ones."""
        unknown = sorted(set(options) - set(PREPARATION_FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown option {unknown[0]!r}; valid options: {list(PREPARATION_FIELDS)}"
            )
        if prep is None:
            return cls(**options)
        if not isinstance(prep, Preparation):
            raise ConfigError(f"prep must be a Preparation, got {prep!r}")
        return dataclasses.replace(prep, **options) if options else prep


#: The names of :class:`Preparation`'s fields: the shared keyword options.
PREPARATION_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Preparation))


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into (preparation options, the rest)."""
    prep = {k: v for k, v in options.items() if k in PREPARATION_FIELDS}
    rest = {k: v for k, v in options.items() if k not in PREPARATION_FIELDS}
    return prep, rest


def prepare(raw: RawData, *, name: str, prep: Preparation | None = None, **options: Any) -> Dataset:
    """Scale, shape, encode and subsample a source's raw arrays into a :class:`Dataset`.

    Args:
        raw: the source's arrays (consumed, see below).
        name: the dataset's name.
        prep: a :class:`Preparation`. Default: None (its defaults).
        **options: :class:`Preparation` fields, e.g. ``subsample=500``; they win over ``prep``.

    The subsample draws use their own random streams derived from ``seed`` (independent of any
    train/test split the source made with the same seed). ``raw`` is consumed: each split's raw
    images are released once converted, so the peak memory is the float data plus one split's
    raw images (not both splits in both forms: 30 MB less for MNIST in float32).
    """
    p = Preparation.of(prep, **options)
    if raw.x_train is None or raw.x_test is None:
        raise ValueError("this RawData was prepared already: prepare() consumes its images")
    dt = p.dtype
    subsample = _check_count(p.subsample, "subsample", len(raw.x_train))
    test_subsample = _check_count(p.test_subsample, "test_subsample", len(raw.x_test))
    # Stream 0 is the source's split stream (see koubai.datasets.load); 1 and 2 are ours.
    _, sub_seq, test_seq = np.random.SeedSequence(p.seed).spawn(3)

    def part(x: np.ndarray, y: np.ndarray, k: int | None, seq) -> tuple[np.ndarray, np.ndarray]:
        if k is not None:
            idx = stratified_choice(y, k, np.random.default_rng(seq))
            x, y = x[idx], y[idx]
        x = x.reshape(len(x), -1) if p.flatten else x.reshape(len(x), *raw.image_shape)
        scale = raw.pixel_max if p.normalize and raw.pixel_max is not None else None
        x = MAKE_INPUTS.get()(x, dt, scale)
        y = y.astype(np.int64, copy=True)
        if p.one_hot:
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


def _first(values: np.ndarray) -> str:
    shown = [int(v) for v in values[:SHOW_LABELS]]
    return f"{shown}{' ...' if len(values) > SHOW_LABELS else ''}"


def _check_labels(y: Any, what: str, n: int, n_classes: int | None) -> np.ndarray:
    """1-D whole-number labels, none negative, all below ``n_classes`` when it is given."""
    y = np.asarray(y)
    if y.ndim != 1:
        hint = f" (one-hot? pass {what}.argmax(axis=1))" if y.ndim == 2 else ""
        raise DatasetError(f"{what} must be 1-D class indices, got shape {y.shape}{hint}")
    if len(y) != n:
        raise DatasetError(f"{what} has {len(y)} labels but its images number {n}")
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            bad = y[~whole]
            raise DatasetError(
                f"{what} must hold whole-number class indices; {len(bad):,} of {len(y):,} are "
                f"not, first {[float(v) for v in bad[:SHOW_LABELS]]}"
            )
        if len(y) and np.abs(y).max() >= 2**62:
            raise DatasetError(f"{what} holds label {y[np.abs(y).argmax()]:g}, far too large")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise DatasetError(f"{what} must hold integer class indices, got dtype {y.dtype.name!r}")
    if len(y) and y.min() < 0:
        bad = y[y < 0]
        raise DatasetError(
            f"{what} holds a negative label {int(y.min())} ({len(bad):,} negative labels, "
            f"first {_first(bad)}); labels are 0..C-1"
        )
    if n_classes is not None and len(y) and y.max() >= n_classes:
        bad = y[y >= n_classes]
        raise DatasetError(
            f"{what} holds {len(bad):,} labels outside 0..{n_classes - 1}, first {_first(bad)} "
            f"(largest label {int(y.max())} but n_classes={n_classes}; labels are 0..C-1)"
        )
    return y.astype(np.int64)


def _infer_classes(ys: list[np.ndarray], whats: tuple[str, ...]) -> int:
    """C for labels given without ``n_classes``: one more than the largest label, unless most of
    the classes 0..C-1 would have no example, the mark of a stray label (255 among 0..9 would
    make 246 empty classes of 256): then an error that counts the labels beyond the first gap
    and shows the first few. No array as large as the largest label is ever made."""
    present = np.unique(np.concatenate(ys))
    if len(present) == 0:
        raise DatasetError("no labels: the dataset is empty")
    k = int(present[-1]) + 1
    empty = k - len(present)
    if empty > len(present):
        gaps = np.nonzero(present != np.arange(len(present)))[0]
        first_gap = int(gaps[0])  # classes 0..first_gap-1 all have examples
        counts = [(what, y[y >= first_gap]) for what, y in zip(whats, ys, strict=True)]
        n_bad = sum(len(bad) for _, bad in counts)
        what, bad = next((w, b) for w, b in counts if len(b))
        raise DatasetError(
            f"labels must be 0..C-1: they reach {k - 1}, but only {len(present):,} of those "
            f"{k:,} classes have examples; {n_bad:,} labels lie outside 0..{max(first_gap - 1, 0)}"
            f" ({what}: first {_first(bad)}); fix them, or pass n_classes={k} if they are "
            "real classes"
        )
    if len(present) < 2:
        raise DatasetError(f"the labels hold only class {int(present[0])}; a classifier needs 2+")
    limits.check_count(k, "the dataset's labels", name="classes")
    return k


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
    prep: Preparation | None = None,
    **options: Any,
) -> Dataset:
    """Wrap the user's own arrays as a :class:`Dataset`, after checking them.

    Args:
        x_train: training images, numeric.
        y_train: training labels, whole numbers 0..C-1.
        x_test: test images, same per-image shape as ``x_train``.
        y_test: test labels.
        name: the dataset's name. Default: "arrays".
        source: where the arrays came from, for people. Default: "user arrays".
        n_classes: C. Default: None: the labels must then be exactly 0..C-1, each class with
            an example (one stray label 255 among 0..9 is an error, not 256 classes).
        class_names: one name per class. Default: None.
        pixel_max: the value meaning full intensity, divided out when ``normalize``. Default:
            None (255 for integer images; float images must already lie in [0, 1]).
        prep: a :class:`Preparation`. Default: None (its defaults).
        **options: :class:`Preparation` fields: ``normalize``, ``flatten``, ``one_hot``,
            ``dtype``, ``subsample``, ``test_subsample``, ``seed``.

    Raises:
        DatasetError: shapes, labels or values are inconsistent (the message says which).
        ConfigError: an option is invalid.

    Shape:
        x ``(N, D)`` or ``(N, H, W)``; a 2-D input whose D is a perfect square (784) is taken as
        square images (28×28) for ``flatten=False``. y ``(N,)``.
    """
    p = Preparation.of(prep, **options)
    xs = [_check_images(x_train, "x_train"), _check_images(x_test, "x_test")]
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise DatasetError(
            f"x_train images have shape {xs[0].shape[1:]} but x_test images {xs[1].shape[1:]}"
        )
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
            raise ConfigError(f"n_classes must be a whole number >= 2, got {n_classes!r}")
        if n_classes < 2:
            raise ConfigError(f"n_classes must be at least 2 (a classifier), got {n_classes!r}")
        limits.check_count(int(n_classes), "n_classes", name="classes")
    ys = [
        _check_labels(y_train, "y_train", len(xs[0]), n_classes),
        _check_labels(y_test, "y_test", len(xs[1]), n_classes),
    ]
    if n_classes is None:
        n_classes = _infer_classes(ys, ("y_train", "y_test"))
    if class_names is not None and len(class_names) != n_classes:
        raise ConfigError(f"class_names has {len(class_names)} names for {n_classes} classes")
    image_shape = xs[0].shape[1:]
    if len(image_shape) == 1 and math.isqrt(image_shape[0]) ** 2 == image_shape[0]:
        image_shape = (math.isqrt(image_shape[0]),) * 2
    if p.normalize:
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
    return prepare(raw, name=name, prep=p)
