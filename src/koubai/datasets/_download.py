"""Downloads with mirrors, checksums and a per-user cache (through pooch), and a quick probe.

A download goes to a temporary file in the cache folder and is moved into place only when its
checksum matches (pooch does this), so a failed or corrupt download leaves no file behind. A cached
file whose checksum matches is used without any network access.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from koubai.errors import ConfigError, DownloadError

__all__ = ["DATA_DIR_ENV", "data_dir", "download", "reachable", "resolve_mirrors"]

#: Environment variable that overrides the cache folder.
DATA_DIR_ENV = "KOUBAI_DATA_DIR"
#: Seconds to wait for a server to accept the connection (reading then gets more time).
CONNECT_TIMEOUT = 4.0
READ_TIMEOUT = 60.0
OFFLINE_HINT = "offline? use the bundled subset: --dataset mnist-5k"
OTHER_MIRROR_HINT = (
    "nothing was kept; try another mirror (--mirror URL), or the bundled subset: --dataset mnist-5k"
)


def data_dir() -> Path:
    """The cache folder: ``$KOUBAI_DATA_DIR`` if set, else the per-user cache (``~/.cache/koubai``
    on Linux). Nothing is created."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    import pooch

    return Path(pooch.os_cache("koubai"))


def resolve_mirrors(mirrors: str | Sequence[str] | None, env_var: str, default: Sequence[str]):
    """The mirror base URLs to try, in order: ``mirrors`` if given, else ``$env_var``
    (comma- or space-separated), else ``default``. Each ends with a slash."""
    if mirrors is None:
        mirrors = os.environ.get(env_var) or None
    if mirrors is None:
        mirrors = default
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    result = []
    for url in mirrors:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https", "ftp"):
            raise ConfigError(f"mirror {url!r} is not an http(s):// or ftp:// URL")
        result.append(url if url.endswith("/") else url + "/")
    if not result:
        raise ConfigError(f"no mirror to download from (mirrors={mirrors!r})")
    return tuple(result)


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's "Downloading ..." info lines; koubai reports for itself."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _reason(exc: BaseException) -> str:
    """A short reason for a failed attempt, for the one-line error."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}".strip()
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    if isinstance(exc, ValueError) and "hash" in str(exc).lower():
        return "checksum mismatch"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:120]


def download(
    fname: str,
    md5: str,
    folder: Path,
    mirrors: Sequence[str],
    *,
    timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Return ``folder/fname``, downloading it from the first mirror that works when it is not
    cached with the right MD5.

    Args:
        fname: file name, appended to each mirror's base URL.
        md5: the expected MD5 (hex).
        folder: the cache folder for this dataset (created when needed).
        mirrors: base URLs, tried in order.
        timeout: seconds to wait for a connection. Default: 4.

    Raises:
        DownloadError: no mirror delivered a file with the right checksum, or the cache cannot
            be written. The one-line message names the file, each mirror with its reason, and a
            hint: "offline?" only when every mirror failed to answer; a read-only cache or a
            full disk names the folder or file instead.
    """
    import pooch
    import requests

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(_cache_error(exc, folder, fname)) from None
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=(timeout, READ_TIMEOUT))
    failures = []
    network_only = True
    with _quiet_pooch():
        for base in mirrors:
            try:
                path = pooch.retrieve(
                    url=base + fname,
                    known_hash=f"md5:{md5}",
                    fname=fname,
                    path=folder,
                    downloader=downloader if base.startswith("http") else None,
                )
                return Path(path)
            except requests.RequestException as exc:
                if not isinstance(exc, requests.ConnectionError | requests.Timeout):
                    network_only = False  # the server answered (HTTP 404...): we are online
                failures.append(f"{base} ({_reason(exc)})")
            except OSError as exc:  # the cache, not the network: the next mirror won't help
                raise DownloadError(_cache_error(exc, folder, fname)) from None
            except ValueError as exc:
                network_only = False
                failures.append(f"{base} ({_reason(exc)})")
    hint = OFFLINE_HINT if network_only else OTHER_MIRROR_HINT
    raise DownloadError(
        f"could not download {fname!r} (MD5 {md5}) from any mirror: {'; '.join(failures)} — {hint}"
    )


def _cache_error(exc: OSError, folder: Path, fname: str) -> str:
    """One line for a failure to write the cache: which file or folder, and what to do."""
    where = exc.filename or folder / fname
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {where}; free some space"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write to the dataset cache {where} ({exc.strerror}); set {DATA_DIR_ENV} "
            "to a writable folder"
        )
    return (
        f"cannot write {where} in the dataset cache: {exc.strerror or exc}; set {DATA_DIR_ENV} "
        "to a writable folder"
    )


def reachable(urls: Sequence[str], timeout: float = 2.0) -> bool:
    """Whether any of the ``urls``' servers accepts a TCP connection within ``timeout`` seconds.

    The attempts (name lookup included, which ignores socket timeouts) run in daemon threads, so
    the answer comes within ``timeout`` even on a machine whose DNS hangs.
    """
    done = threading.Event()
    ok: list[bool] = []
    pending = [len(urls)]
    lock = threading.Lock()

    def attempt(url: str) -> None:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80, "ftp": 21}.get(parts.scheme, 80)
        success = False
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                success = True
        except (OSError, ValueError):
            pass
        with lock:
            pending[0] -= 1
            if success:
                ok.append(True)
            if success or pending[0] == 0:
                done.set()

    for url in urls:
        threading.Thread(target=attempt, args=(url,), daemon=True, name="koubai-probe").start()
    if urls:
        done.wait(timeout)
    return bool(ok)
