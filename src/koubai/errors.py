"""Domain exceptions: each one is a user mistake or an unavailable resource, never a bug.

The CLI turns every :class:`KoubaiError` (and every ``ValueError`` raised by the engine for bad
arguments) into a one-line message and a non-zero exit code.
"""

from __future__ import annotations


class KoubaiError(Exception):
    """Base class of koubai's own errors."""


class ConfigError(KoubaiError, ValueError):
    """A configuration value, spec file or argument is invalid."""


class DatasetError(KoubaiError):
    """A dataset cannot be found, downloaded, verified or parsed."""


class DownloadError(DatasetError):
    """A download failed on every mirror, or its checksum did not match."""
