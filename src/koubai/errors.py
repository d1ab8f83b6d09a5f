"""koubai's exceptions, all in one hierarchy: each is a user mistake or an unavailable
resource, never a bug.

The CLI turns every :class:`KoubaiError` (and ``OSError`` and ``MemoryError``) into a one-line
message and exit status 1. Any other exception is a bug: the CLI says "internal error" and
writes the traceback to a file.

===================  ==========================================================================
class                raised when
===================  ==========================================================================
ConfigError          a configuration value, spec file, option or argument is invalid
DatasetError         a dataset cannot be found, downloaded, verified or parsed
DownloadError        a download failed on every mirror, or its checksum did not match
ModelFileError       a saved network (``.npz``) is missing, corrupt or inconsistent
ResultsError         a results folder is missing, incomplete or not koubai's
ResourceLimitError   an input asks for more memory, runs or bytes than the set limit
FontError            no installed font can draw the labels of the requested language
GradientCheckError   back-propagation disagrees with central differences
===================  ==========================================================================
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


class ModelFileError(KoubaiError):
    """A saved network file is missing, corrupt or inconsistent."""


class ResultsError(KoubaiError):
    """A results folder is missing, incomplete or not a koubai results folder."""


class ResourceLimitError(KoubaiError):
    """An input asks for more memory, runs or bytes than the limit allows."""


class FontError(KoubaiError):
    """No installed font can draw the labels of the requested language."""


class GradientCheckError(KoubaiError, AssertionError):
    """Back-propagation disagrees with central differences (or a layer broke a rule)."""
