"""Read and write IDX files, the format of MNIST and Fashion-MNIST (LeCun et al., 1998).

An IDX file is a 4-byte magic number, one 4-byte big-endian size per dimension, then the data in
C order, big-endian::

    magic = 0x00 0x00 <type code> <ndim>
    type codes: 0x08 uint8 · 0x09 int8 · 0x0B int16 · 0x0C int32 · 0x0D float32 · 0x0E float64

Files may be gzip-compressed (recognised by their content, not their name). The reader checks the
magic number, the dimensions and that the data has exactly the announced length: a truncated or
corrupt file raises :class:`~koubai.errors.DatasetError` naming the file and the problem, never
returns a silently wrong array.
"""

from __future__ import annotations

import gzip as _gzip
import math
import os
import stat
import tempfile
import zlib
from pathlib import Path

import numpy as np

from koubai import limits
from koubai.errors import ConfigError, DatasetError

__all__ = ["IDX_DTYPES", "read_idx", "read_idx_pair", "write_idx"]

#: IDX type code -> big-endian NumPy dtype. (0x0A is not assigned by the format.)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


#: Deflate cannot expand data more than about 1032-fold: a gzip file of ``n`` bytes holds at
#: most ``1032 * n`` bytes (a declared size beyond that is a truncated file, known unread).
GZIP_MAX_RATIO = 1032


def _open_checked(path: Path):
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"IDX file not found: {path}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"expected an IDX file, got a directory: {path}")
    if not stat.S_ISREG(info.st_mode):
        raise DatasetError(f"expected an IDX file, got something that is not a file: {path}")
    return info.st_size


def _header(stream, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """The element type, shape and header length, read from the start of ``stream``."""
    head = stream.read(4)
    if len(head) < 4:
        raise DatasetError(f"{path}: not an IDX file: {len(head)} bytes, shorter than the header")
    zero0, zero1, code, ndim = head
    if zero0 != 0 or zero1 != 0:
        raise DatasetError(
            f"{path}: not an IDX file: bad magic number {head.hex()} "
            "(an IDX file starts with two zero bytes)"
        )
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{path}: unknown IDX type code 0x{code:02X}; valid codes: {valid}")
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header announces 0 dimensions (need at least 1)")
    header_len = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_len} bytes, "
            f"the file has {4 + len(dims)}"
        )
    shape = tuple(int.from_bytes(dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
    return IDX_DTYPES[code], shape, header_len


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into a native-endian array.

    The header is read first; the data size it declares is computed with Python integers and
    compared with what the file can hold (its size, or 1032 times it for gzip) and with the
    memory limit (:mod:`koubai.limits`) before the data is read, and gzip data is decompressed
    only up to the declared size plus one byte: a small file cannot make koubai allocate much.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        The array, with the dimensions and element type the header announces (uint8 for MNIST).

    Raises:
        DatasetError: the file is missing, its magic number is invalid, or its data is shorter or
            longer than its dimensions announce. The message names the file.
        ResourceLimitError: the declared data is larger than the memory limit.

    Shape:
        ``(d0, d1, ..., d_{ndim-1})`` as written in the header, e.g. ``(60000, 28, 28)``.
    """
    path = Path(path)
    file_size = _open_checked(path)
    try:
        with open(path, "rb") as fh:
            compressed = fh.read(2) == _GZIP_MAGIC
            fh.seek(0)
            stream = _gzip.GzipFile(fileobj=fh, mode="rb") if compressed else fh
            return _read_stream(stream, path, file_size, compressed)
    except (EOFError, zlib.error, _gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None


def _read_stream(stream, path: Path, file_size: int, compressed: bool) -> np.ndarray:
    dtype, shape, header_len = _header(stream, path)
    name = dtype.newbyteorder("=").name
    expected = math.prod(shape) * dtype.itemsize  # Python ints: (2**31, 2**31, 4) is exact
    room = file_size * GZIP_MAX_RATIO if compressed else file_size - header_len
    if expected > room:
        holds = (
            f"a gzip file of {file_size} bytes holds at most {room}"
            if compressed
            else (f"the file has {room}")
        )
        raise DatasetError(
            f"{path}: truncated IDX data: shape {shape} of {name} needs {expected} bytes "
            f"after the header, {holds}"
        )
    limits.check_bytes(expected, f"IDX file {path} (shape {shape} of {name})")
    data = stream.read(expected + 1)
    if len(data) < expected:
        raise DatasetError(
            f"{path}: truncated IDX data: shape {shape} of {name} needs "
            f"{expected} bytes after the header, the file has {len(data)}"
        )
    if len(data) > expected:
        extra = f"{room - expected} " if not compressed else ""
        raise DatasetError(
            f"{path}: {extra}unexpected trailing bytes after the IDX data "
            f"(shape {shape} of {name} needs {expected} bytes)"
        )
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, gzip: bool = True) -> Path:
    """Write an array as an IDX file, atomically (a temporary file renamed into place).

    Args:
        path: the file to write; its parent folder must exist.
        array: the data; dtype one of uint8, int8, int16, int32, float32, float64.
        gzip: compress the file with gzip. Default: True.

    Returns:
        The path written.

    Raises:
        ConfigError: the dtype has no IDX type code, or the array has 0 or more than 255
            dimensions, or a dimension does not fit in 32 bits.

    Shape:
        Any ``(d0, ..., d_{k-1})`` with 1 <= k <= 255.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        valid = sorted(dt.name for dt in _CODE_OF)
        raise ConfigError(f"IDX cannot store dtype {array.dtype.name!r}; use one of {valid}")
    if not 1 <= array.ndim <= 255:
        raise ConfigError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    if any(d >= 2**32 for d in array.shape):
        raise ConfigError(f"IDX dimensions must be below 2**32, got shape {array.shape}")
    code = _CODE_OF[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if gzip:
        payload = _gzip.compress(payload, mtime=0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Read an image file and its label file, checking that they belong together.

    Args:
        images_path: IDX file of uint8 images, 3 dimensions ``(N, H, W)``.
        labels_path: IDX file of uint8 labels, 1 dimension ``(N,)``.

    Returns:
        ``(images, labels)`` as uint8 arrays.

    Raises:
        DatasetError: either file is invalid, has the wrong number of dimensions or element type,
            or the two files hold a different number of items.

    Shape:
        images ``(N, H, W)``, labels ``(N,)``.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DatasetError(
            f"{images_path}: expected images of shape (N, H, W), got {images.ndim} dimensions "
            f"{images.shape}"
        )
    if labels.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected labels of shape (N,), got {labels.ndim} dimensions "
            f"{labels.shape}"
        )
    for p, a in ((images_path, images), (labels_path, labels)):
        if a.dtype != np.uint8:
            raise DatasetError(f"{p}: expected uint8 data, got {a.dtype.name}")
    if len(images) != len(labels):
        raise DatasetError(
            f"image/label count mismatch: {images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels"
        )
    return images, labels
