"""The small argument checks that every layer shares, each written once.

Each returns the value in its canonical form or raises :class:`~koubai.errors.ConfigError`
naming the argument (``what``), the value it got and what is valid.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from koubai.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

# NumPy is imported where a check needs it, not here: `koubai runs list` and the other commands
# that never touch an array start without it.

#: Languages of labels, reports and messages.
LANGUAGES: tuple[str, ...] = ("en", "ja")

#: Floating-point types the engine computes in.
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    import numpy as np

    return isinstance(value, np.integer)


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    import numpy as np

    return isinstance(value, np.integer | np.floating)


def check_int(value: Any, what: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number in ``[minimum, maximum]`` (``True`` and ``2.5`` are refused)."""
    if not _is_int(value):
        raise ConfigError(f"{what} must be a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        upper = f" and at most {maximum:,}" if maximum is not None else ""
        raise ConfigError(f"{what} must be {kind}{upper}, got {value!r}")
    return int(value)


def check_number(
    value: Any, what: str, *, minimum: float | None = None, positive: bool = False
) -> float:
    """A finite real number (``"0.1"`` and ``True`` are refused), ``> 0`` or ``>= minimum``."""
    bound = " > 0" if positive else f" >= {minimum:g}" if minimum is not None else ""
    if isinstance(value, bool) or not _is_number(value):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number{bound}, got {value!r}")
    if (positive and value <= 0) or (minimum is not None and value < minimum):
        raise ConfigError(f"{what} must be a finite number{bound}, got {value!r}")
    return float(value)


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed: a whole number >= 0."""
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"{what} must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_float_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    """``float32`` or ``float64`` (a name, a type or a ``np.dtype``) as a ``np.dtype``."""
    import numpy as np

    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"unknown {what} {dtype!r}; choose one of {list(FLOAT_DTYPES)}") from None
    if dt.name not in FLOAT_DTYPES:
        raise ConfigError(f"unsupported {what} {dt.name!r}; choose one of {list(FLOAT_DTYPES)}")
    return dt


def check_language(lang: Any) -> str:
    """``"en"`` or ``"ja"``."""
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}; choose one of {list(LANGUAGES)}")
    return lang


def check_choice(value: Any, what: str, valid) -> str:
    """One of ``valid`` (a collection of names)."""
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(
            f"unknown {what} {value!r}{did_you_mean(value, valid)}; choose one of {sorted(valid)}"
        )
    return value


def did_you_mean(got: Any, known) -> str:
    """`` (did you mean 'activation'?)`` for a near miss of one of ``known``, else ``""``."""
    import difflib

    near = difflib.get_close_matches(str(got), [str(k) for k in known], n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def check_numeric_dtype(dtype: Any, what: str = "dtype") -> np.dtype:
    """A float or integer NumPy dtype (a name, a type or a ``np.dtype``) as a ``np.dtype``."""
    import numpy as np

    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"{what} {dtype!r} is not a NumPy dtype") from None
    if dt.kind not in "fiu":
        raise ConfigError(f"{what} must be a float or integer type, got {dt.name!r}")
    return dt


# -- names that become folder and file names ---------------------------------------------------

#: Longest name, in characters and in UTF-8 bytes (a folder name may hold 255 bytes; the rest is
#: room for a time stamp or a suffix).
MAX_NAME_CHARS = 100
MAX_NAME_BYTES = 200
#: Characters a name may hold besides letters and digits (any script: 実験 is a name). Nothing
#: here is special to a file system or to bash/zsh word splitting, globbing or expansion.
NAME_PUNCTUATION = "-_.+@"


def _name_char_ok(ch: str) -> bool:
    return ch.isalnum() or ch in NAME_PUNCTUATION


def _name_problem(name: str) -> str | None:
    """Why ``name`` (NFC) cannot be a folder name, or None when it can."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_CHARS} characters ({MAX_NAME_BYTES} UTF-8 bytes)"
    bad = next((ch for ch in name if not _name_char_ok(ch)), None)
    if bad is not None:
        if bad in "/\\":
            return f"it contains a path separator {bad!r}"
        if not bad.isprintable():
            return f"it contains the control character {bad!r}"
        return f"it contains {bad!r}"
    if ".." in name:
        return "it contains '..'"
    if name[0] in "-.":
        return f"it starts with {name[0]!r}"
    return None


def check_name(value: Any, what: str = "name") -> str:
    """A name that is safe as one folder or file name: letters and digits of any script and
    ``- _ . + @``; not starting with ``-`` or ``.``, no ``..``, at most :data:`MAX_NAME_CHARS`
    characters. So it cannot leave the results folder (no ``/``, ``..`` or absolute path) and
    needs no quoting in a shell (no spaces, ``* ? [ ] { } ~ $ ! ; & | < > ' " \\`` or backquote).

    Returns the name in Unicode NFC form (the form macOS and Linux agree on).
    """
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {value!r}")
    name = unicodedata.normalize("NFC", value)
    problem = _name_problem(name)
    if problem is not None:
        raise ConfigError(
            f"{what} {value!r} cannot be a folder name: {problem}; use letters, digits "
            f"and {' '.join(NAME_PUNCTUATION)} (e.g. {safe_name(value)!r})"
        )
    return name


def safe_name(text: Any, default: str = "run") -> str:
    """``text`` turned into a name that :func:`check_name` accepts: every run of other
    characters becomes one ``-``, leading ``-``/``.`` and ``..`` go, and the result is cut to
    :data:`MAX_NAME_CHARS` characters. ``"sigmoid-gauss-bn-[40,20]"`` becomes
    ``"sigmoid-gauss-bn-40-20"``; ``"../../x"`` becomes ``"x"``; ``"実験 1"`` becomes ``"実験-1"``.
    An empty result gives ``default``.
    """
    name = unicodedata.normalize("NFC", str(text))
    name = "".join(ch if _name_char_ok(ch) else "-" for ch in name)
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"-{2,}", "-", name)
    name = name.lstrip("-.").rstrip("-")
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        # cut, with a digest of the whole so that two long names that differ late stay apart
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        name = name[: MAX_NAME_CHARS - 9]
        while len(name.encode("utf-8")) > MAX_NAME_BYTES - 9:
            name = name[:-1]
        name = f"{name.rstrip('-')}-{digest}"
    name = name.rstrip("-")
    return name if name and _name_problem(name) is None else default
