"""Experiment specs: a base configuration, groups of variations, seeds and a protocol.

A spec is a TOML file::

    name = "vanishing"
    title = "..."
    [base]                      # TrainConfig fields shared by every run
    lr = 0.1
    [[group]]                   # one figure each
    name = "shallow"
    set = { iterations = 2000 } # fields for this group
    [group.grid]                # every combination of these lists
    activation = ["sigmoid", "relu"]
    init = ["gauss", "xavier", "he"]
    # or: runs = [ { activation = "relu", init = "he" }, ... ]

A run's configuration is, from weakest to strongest: TrainConfig's defaults,
:data:`EXPERIMENT_DEFAULTS` (diagnostics on), the protocol, the
spec's ``[base]``, the group's ``set``, the grid point or ``runs`` entry, and the user's
``--set`` overrides; then one run per seed.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from koubai.errors import ConfigError
from koubai.training.config import TrainConfig

Protocol = Literal["course", "careful"]

#: What each protocol changes. ``course`` is faithful to the notebooks; ``careful`` fixes their
#: flaws: training accuracy on a fixed subset (not the noisy current batch), shuffled epochs
#: (not batches drawn with replacement), several seeds, and batch norm's γ and β trained
#: (the notebook's update loop never touches them).
PROTOCOLS: dict[str, dict[str, Any]] = {
    "course": {"train_accuracy": "batch", "sampling": "replacement", "bn_affine_trainable": False},
    "careful": {"train_accuracy": "subset", "sampling": "epoch", "bn_affine_trainable": True},
}
DEFAULT_SEEDS = {"course": 1, "careful": 3}
#: Defaults of every experiment run beyond TrainConfig's own: diagnostics are on.
EXPERIMENT_DEFAULTS: dict[str, Any] = {"diagnostics_every": 10}

SPEC_KEYS = {"name", "title", "description", "base", "group", "seeds", "protocol"}
GROUP_KEYS = {"name", "title", "set", "grid", "runs"}


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: its group, its name and its full configuration."""

    group: str
    name: str
    config: TrainConfig


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    points: tuple[dict[str, Any], ...]  # one override table per configuration


@dataclass(frozen=True)
class Spec:
    """A parsed experiment spec (see the module docstring for the file format)."""

    name: str
    title: str
    description: str
    base: dict[str, Any]
    groups: tuple[Group, ...]
    seeds: int | None = None
    protocol: str | None = None
    source: str = ""
    text: str = field(default="", repr=False)

    def resolve(
        self,
        *,
        protocol: str | None = None,
        seeds: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> list[RunSpec]:
        """Every run of the experiment, validated (a bad value is a :class:`ConfigError`)."""
        protocol = check_protocol(protocol or self.protocol or "course")
        n_seeds = seeds if seeds is not None else self.seeds or DEFAULT_SEEDS[protocol]
        if not isinstance(n_seeds, int) or isinstance(n_seeds, bool) or n_seeds < 1:
            raise ConfigError(f"seeds must be a positive integer, got {n_seeds!r}")
        overrides = overrides or {}
        runs: list[RunSpec] = []
        for group in self.groups:
            for point in group.points:
                values = {
                    **EXPERIMENT_DEFAULTS,
                    **PROTOCOLS[protocol],
                    **self.base,
                    **point,
                    **overrides,
                }
                where = f"{self.source or self.name} (group {group.name!r})"
                base_seed = values.pop("seed", 0)
                for k in range(n_seeds):
                    config = TrainConfig.from_dict({**values, "seed": base_seed + k}, where=where)
                    suffix = f"-s{config.seed}" if n_seeds > 1 else ""
                    runs.append(RunSpec(group.name, f"{group.name}-{config.label}{suffix}", config))
        names = [r.name for r in runs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(
                f"{self.name}: two runs would be called {dupes[0]!r}; give them names"
            )
        return runs


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    return protocol


def builtin_names() -> list[str]:
    """Names of the experiments that ship with koubai."""
    folder = resources.files("koubai.experiments") / "specs"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def builtin_text(name: str) -> str:
    """The TOML text of a built-in experiment."""
    if name not in builtin_names():
        raise ConfigError(
            f"unknown experiment {name!r}; choose one of {builtin_names()} "
            "or give the path of a .toml spec file"
        )
    return (resources.files("koubai.experiments") / "specs" / f"{name}.toml").read_text("utf-8")


def load_spec(name_or_path: str | Path) -> Spec:
    """A built-in experiment by name, or a spec file by path."""
    text_name = str(name_or_path)
    if text_name in builtin_names():
        return parse_spec(builtin_text(text_name), source=f"built-in {text_name!r}")
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise ConfigError(f"no such spec file: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read spec file {path}: {exc}") from None
        return parse_spec(text, source=str(path))
    raise ConfigError(
        f"unknown experiment {text_name!r}; choose one of {builtin_names()} "
        "or give the path of a .toml spec file"
    )


def parse_spec(text: str, *, source: str = "spec") -> Spec:
    """Parse and check a spec's TOML text; every mistake is a one-line :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    _no_unknown(data, SPEC_KEYS, source)
    name = data.get("name", Path(source).stem if source else "experiment")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{source}: name must be a non-empty string, got {name!r}")
    base = _table(data.get("base", {}), "base", source)
    TrainConfig.from_dict(base, where=f"{source} [base]")  # fail early, with the right place
    raw_groups = data.get("group", [{"name": "main"}])
    if not isinstance(raw_groups, list) or not raw_groups:
        raise ConfigError(f"{source}: [[group]] must be one or more tables")
    groups = tuple(_group(g, i, source) for i, g in enumerate(raw_groups))
    group_names = [g.name for g in groups]
    if len(set(group_names)) != len(group_names):
        raise ConfigError(f"{source}: group names must differ, got {group_names}")
    seeds = data.get("seeds")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise ConfigError(f"{source}: seeds must be a positive integer, got {seeds!r}")
    protocol = data.get("protocol")
    if protocol is not None:
        check_protocol(protocol)
    return Spec(
        name=name,
        title=str(data.get("title", name)),
        description=" ".join(str(data.get("description", "")).split()),
        base=base,
        groups=groups,
        seeds=seeds,
        protocol=protocol,
        source=source,
        text=text,
    )


def _no_unknown(table: dict, valid: set[str], where: str) -> None:
    for key in table:
        if key not in valid:
            raise ConfigError(f"unknown key {key!r} in {where}; valid keys: {sorted(valid)}")


def _table(value: Any, what: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {what} must be a table, got {value!r}")
    return dict(value)


def _group(raw: Any, index: int, source: str) -> Group:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: group {index + 1} must be a table, got {raw!r}")
    where = f"{source} group {index + 1}"
    _no_unknown(raw, GROUP_KEYS, where)
    name = raw.get("name", f"group{index + 1}")
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise ConfigError(f"{where}: name must be a plain non-empty string, got {name!r}")
    fixed = _table(raw.get("set", {}), "set", where)
    grid = _table(raw.get("grid", {}), "grid", where)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid.{key} must be a non-empty list, got {values!r}")
    runs = raw.get("runs", [{}])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ConfigError(f"{where}: runs must be a list of tables, got {runs!r}")
    keys = list(grid)
    points = []
    for run in runs:
        for combo in itertools.product(*(grid[k] for k in keys)):
            point = {**fixed, **run, **dict(zip(keys, combo, strict=True))}
            TrainConfig.from_dict(point, where=where)  # unknown keys and types, early
            points.append(point)
    return Group(name=name, title=str(raw.get("title", name)), points=tuple(points))
