"""What a page may ask of the playground server: the messages, their fields and their limits.

Every message from the page is one JSON object with a ``type``:

==========  ===============================================================================
type        meaning
==========  ===============================================================================
config      ``{"type": "config", "config": {...}}``: a new setup (fields below); resets
play        train continuously, streaming an update about ten times a second
pause       stop training (the state is kept)
step        one training step, then one update
reset       the same setup from its first iteration
lang        ``{"type": "lang", "lang": "ja"}``: the findings' language, without a reset
==========  ===============================================================================

:func:`parse_message` checks a message against this schema and :func:`parse_config` a setup;
either raises :class:`~koubai.errors.ConfigError` with one line naming the field, the value got
and what is valid. Nothing in a message names a file: a dataset is one of a fixed list.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from koubai.checks import check_choice, check_int, check_language, check_number, check_seed
from koubai.errors import ConfigError
from koubai.playground.toys import TOYS

#: The limits a page cannot exceed.
MAX_DEPTH = 20
MIN_WIDTH, MAX_WIDTH = 2, 512
MAX_BATCH = 1000
MIN_LR, MAX_LR = 1e-5, 10.0
MIN_STD, MAX_STD = 1e-4, 10.0
MAX_MESSAGE_BYTES = 4096

MESSAGE_TYPES = ("config", "play", "pause", "step", "reset", "lang")
#: The fields each message type takes besides ``type``.
_MESSAGE_FIELDS = {"config": {"config"}, "lang": {"lang"}}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
#: The initializers offered: gauss (a fixed std), the course's "xavier" (LeCun-normal,
#: sqrt(1/fan_in)), Glorot & Bengio's normal (sqrt(2/(fan_in+fan_out))) and He (sqrt(2/fan_in)).
INITS = ("gauss", "xavier", "glorot_normal", "he")
OPTIMIZERS = ("sgd", "momentum", "adam")
BN_CONVENTIONS = ("course", "torch", "keras")
#: Compare mode: run B is run A with these changes (the seed's two comparisons).
COMPARE = {
    "off": {},
    "relu-he": {"activation": "relu", "init": "he"},
    "batchnorm": {"batchnorm": None},  # None: the opposite of run A's
}
IMAGE_DATASETS = ("mnist-5k", "digits", "fashion-mnist")

_FIELDS = (
    "dataset",
    "hidden",
    "activation",
    "init",
    "init_std",
    "batchnorm",
    "bn_convention",
    "optimizer",
    "lr",
    "batch_size",
    "seed",
    "compare",
    "lang",
)


@dataclass(frozen=True)
class PlaygroundConfig:
    """One setup of the playground: the network, its training and the data.

    Args:
        dataset: one of :data:`IMAGE_DATASETS` (when available here) or :data:`TOYS`.
            Default: "mnist-5k".
        hidden: the hidden layers' widths, 1 to :data:`MAX_DEPTH` of them, each 2 to 512.
            Default: (40, 20), the seed net.
        activation, init, init_std, batchnorm, bn_convention: as :class:`koubai.engine.MLP`.
            Defaults: sigmoid, gauss, 0.01, off, "course".
        optimizer: "sgd", "momentum" or "adam". Default: "sgd".
        lr: learning rate in [1e-5, 10]. Default: 0.1.
        batch_size: 1 to 1000 (at least 2 with batch norm). Default: 100.
        seed: seed of the weights and of the batches. Default: 0.
        compare: "off", or a preset of :data:`COMPARE` that adds a run B. Default: "off".
        lang: "en" or "ja", the language of the findings. Default: "en".
    """

    dataset: str = "mnist-5k"
    hidden: tuple[int, ...] = (40, 20)
    activation: str = "sigmoid"
    init: str = "gauss"
    init_std: float = 0.01
    batchnorm: bool = False
    bn_convention: str = "course"
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 100
    seed: int = 0
    compare: str = "off"
    lang: str = "en"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    def run_b(self) -> PlaygroundConfig | None:
        """Run B of compare mode: this setup with the preset's changes, or None."""
        changes = dict(COMPARE[self.compare])
        if not changes:
            return None
        if "batchnorm" in changes:
            changes["batchnorm"] = not self.batchnorm
        return replace(self, compare="off", **changes)


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, got {value!r}")
    return value


def _check_hidden(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DEPTH:
        raise ConfigError(
            f"hidden must be a list of 1 to {MAX_DEPTH} layer widths, got {_short(value)}"
        )
    return tuple(
        check_int(w, f"hidden layer {i} width", minimum=MIN_WIDTH, maximum=MAX_WIDTH)
        for i, w in enumerate(value, start=1)
    )


def _check_range(value: Any, what: str, lo: float, hi: float) -> float:
    value = check_number(value, what)
    if not lo <= value <= hi:
        raise ConfigError(f"{what} must lie in [{lo:g}, {hi:g}], got {value!r}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_config(data: Any, datasets: tuple[str, ...] = (*IMAGE_DATASETS, *TOYS)):
    """A :class:`PlaygroundConfig` from a page's JSON object; unknown or bad fields are errors.

    Args:
        data: the ``config`` object of a message; missing fields take their defaults.
        datasets: the dataset names offered here (Fashion-MNIST only when it is installed).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"config must be an object, got {_short(data)}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown config field {unknown[0]!r}; the fields are {list(_FIELDS)}")
    d = PlaygroundConfig()
    get = data.get
    cfg = PlaygroundConfig(
        dataset=check_choice(get("dataset", d.dataset), "dataset", datasets),
        hidden=_check_hidden(get("hidden", list(d.hidden))),
        activation=check_choice(get("activation", d.activation), "activation", ACTIVATIONS),
        init=check_choice(get("init", d.init), "init", INITS),
        init_std=_check_range(get("init_std", d.init_std), "init_std", MIN_STD, MAX_STD),
        batchnorm=_check_bool(get("batchnorm", d.batchnorm), "batchnorm"),
        bn_convention=check_choice(
            get("bn_convention", d.bn_convention), "bn_convention", BN_CONVENTIONS
        ),
        optimizer=check_choice(get("optimizer", d.optimizer), "optimizer", OPTIMIZERS),
        lr=_check_range(get("lr", d.lr), "lr", MIN_LR, MAX_LR),
        batch_size=check_int(
            get("batch_size", d.batch_size), "batch_size", minimum=1, maximum=MAX_BATCH
        ),
        seed=check_seed(get("seed", d.seed)),
        compare=check_choice(get("compare", d.compare), "compare", COMPARE),
        lang=check_language(get("lang", d.lang)),
    )
    if (cfg.batchnorm or cfg.compare == "batchnorm") and cfg.batch_size < 2:
        raise ConfigError(f"batch norm needs batch_size >= 2, got {cfg.batch_size}")
    return cfg


def parse_message(text: str | bytes) -> dict[str, Any]:
    """The page's message as a dict with a valid ``type`` (its ``config`` not yet checked)."""
    if isinstance(text, bytes):
        raise ConfigError("messages must be JSON text, got binary data")
    if len(text.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
        raise ConfigError(f"message too long: at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ConfigError(f"message is not JSON: {_short(text)}") from None
    if not isinstance(message, dict):
        raise ConfigError(f"message must be a JSON object, got {_short(message)}")
    kind = message.get("type")
    check_choice(kind, "message type", MESSAGE_TYPES)
    fields = _MESSAGE_FIELDS.get(kind, set())
    extra = sorted(set(message) - fields - {"type"})
    if extra:
        raise ConfigError(f"a {kind!r} message takes no field {extra[0]!r}")
    if kind == "config" and "config" not in message:
        raise ConfigError("a 'config' message needs a 'config' object")
    if kind == "lang":
        check_language(message.get("lang"))
    return message
