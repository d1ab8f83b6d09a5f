"""Reading ``.npz`` files that may be hostile: no pickle, no unbounded allocation, one-line errors.

``np.load`` trusts a file: an array header may declare 10¹² elements, a compressed member may
expand a thousandfold, a text file is reported as "pickled data", and a truncated archive raises
``zipfile.BadZipFile``. :func:`read_npz` checks each member's declared shape against its stored
size and the whole against the memory limit (:mod:`koubai.limits`) before reading any array, and
turns every failure into the caller's error class with the file's name.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from koubai import limits
from koubai.errors import KoubaiError

__all__ = ["read_npz"]

#: What reading a damaged archive can raise (RuntimeError: encrypted members, and its subclass
#: NotImplementedError: unknown compression methods or zip versions; RecursionError too).
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError)


def _header(fp) -> tuple[tuple[int, ...], bool, np.dtype]:
    major, _minor = np.lib.format.read_magic(fp)
    if major == 1:
        return np.lib.format.read_array_header_1_0(fp)
    if major == 2:
        return np.lib.format.read_array_header_2_0(fp)
    raise ValueError(f"unsupported .npy format version {major}")


def read_npz(
    path: str | os.PathLike,
    *,
    error: type[KoubaiError],
    what: str = "file",
    keys: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (all, or ``keys``), read without pickle.

    Args:
        path: the file.
        error: the exception class to raise (``DatasetError``, ``ModelFileError``).
        what: what the file should be, for messages ("dataset", "network file").
        keys: the arrays to read; a missing one is an error listing what the file holds.
            Default: None (every array).

    Raises:
        ``error``: missing, not a regular file, not a zip archive, truncated, corrupt, an
            array of Python objects, or a header that disagrees with the stored bytes.
        ResourceLimitError: the arrays would take more than the memory limit.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"no such {what}: {path}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {path} is not a regular file")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_members(archive, path, error, what, keys)
    except KoubaiError:
        raise
    except _READ_ERRORS as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in reason.lower():
            reason = "not a zip archive (an .npz file is one), or truncated"
        raise error(f"{path} is not a {what} (.npz): {reason}") from None


def _read_members(
    archive: zipfile.ZipFile,
    path: Path,
    error: type[KoubaiError],
    what: str,
    keys: Sequence[str] | None,
) -> dict[str, np.ndarray]:
    members = {
        info.filename.removesuffix(".npy"): info
        for info in archive.infolist()
        if info.filename.endswith(".npy")
    }
    wanted = list(members) if keys is None else list(keys)
    missing = [k for k in wanted if k not in members]
    if missing:
        raise error(
            f"{path}: missing arrays {missing}; a {what} needs {list(wanted)}, "
            f"found {sorted(members)}"
        )
    declared = 0
    for key in wanted:
        declared += _check_member(archive, members[key], path, error, key)
    limits.check_bytes(declared, f"{path} (arrays {wanted})")
    out = {}
    for key in wanted:
        with archive.open(members[key]) as fp:
            out[key] = np.lib.format.read_array(fp, allow_pickle=False)
    return out


def _check_member(archive, info: zipfile.ZipInfo, path: Path, error, key: str) -> int:
    """The bytes member ``key`` declares, after checking its header against its stored size."""
    with archive.open(info) as fp:
        shape, _fortran, dtype = _header(fp)
        header_len = fp.tell()
    if dtype.hasobject:
        raise error(
            f"{path}: array {key!r} holds Python objects; koubai reads arrays without pickle "
            "(numbers only)"
        )
    nbytes = math.prod(int(d) for d in shape) * dtype.itemsize  # Python ints: no overflow
    stored = info.file_size - header_len
    if nbytes != stored:
        raise error(
            f"{path}: array {key!r} declares shape {tuple(shape)} of {dtype.name} "
            f"({nbytes:,} bytes) but stores {max(stored, 0):,} bytes"
        )
    return nbytes
