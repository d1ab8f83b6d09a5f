"""Experiment specs: a base configuration, groups of variations, seeds and a protocol.

A spec is a TOML file::

    name = "vanishing"
    title = "..."
    title_ja = "..."            # optional: the title in Japanese reports (also per group),
    description_ja = "..."      # and the description
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

Names become folder names: the experiment's, each group's and each run's ``name`` must pass
:func:`koubai.checks.check_name` (no ``/``, ``..``, spaces or shell wildcards; 実験 is fine);
derived run names are made safe with :func:`koubai.checks.safe_name`. The number of runs is
counted before any grid is expanded and refused above the ``runs`` limit
(:mod:`koubai.limits`), and so is each network's training memory and the spec file's size.
"""

from __future__ import annotations

import itertools
import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from koubai import limits
from koubai.checks import check_name, safe_name
from koubai.engine.optim import OPTIMIZERS, check_optimizer_args
from koubai.errors import ConfigError
from koubai.i18n import tr
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

SPEC_KEYS = {
    *("name", "title", "title_ja", "description", "description_ja"),
    *("base", "group", "seeds", "protocol"),
}
GROUP_KEYS = {"name", "title", "title_ja", "set", "grid", "runs"}


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
    title_ja: str = ""  # the title in Japanese ("": the English one serves)

    def title_in(self, lang: str) -> str:
        return tr(lang, self.title, self.title_ja or self.title)


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
    title_ja: str = ""  # the title in Japanese ("": the English one serves)
    description_ja: str = ""

    def title_in(self, lang: str) -> str:
        """The title for ``lang`` ("en" or "ja")."""
        return tr(lang, self.title, self.title_ja or self.title)

    def count(self, seeds: int = 1) -> int:
        """The number of runs with ``seeds`` seeds, without building any configuration."""
        return sum(len(g.points) for g in self.groups) * seeds

    def resolve(
        self,
        *,
        protocol: str | None = None,
        seeds: int | None = None,
        overrides: dict[str, Any] | None = None,
        max_runs: int | None = None,
        n_inputs: int = 784,
        n_classes: int = 10,
    ) -> list[RunSpec]:
        """Every run of the experiment, validated (a bad value is a :class:`ConfigError`).

        Args:
            protocol: "course" or "careful". Default: the spec's, else "course".
            seeds: seeds per configuration. Default: the spec's, else the protocol's.
            overrides: field values that win over the spec's (``--set``). Default: none.
            max_runs: the most runs allowed. Default: None (the ``runs`` limit,
                ``$KOUBAI_MAX_RUNS``, 10,000).
            n_inputs: input width the memory estimate assumes. Default: 784 (MNIST).
            n_classes: classes the memory estimate assumes. Default: 10.

        Raises:
            ConfigError: a bad value, name or option. ResourceLimitError: more runs than
                allowed (counted before any configuration is built), or a network whose
                training would need more memory than the limit.
        """
        protocol = check_protocol(protocol or self.protocol or "course")
        n_seeds = seeds if seeds is not None else self.seeds or DEFAULT_SEEDS[protocol]
        if not isinstance(n_seeds, int) or isinstance(n_seeds, bool) or n_seeds < 1:
            raise ConfigError(f"seeds must be a positive integer, got {n_seeds!r}")
        n_points = self.count()
        limits.check_count(
            n_points * n_seeds,
            f"experiment {self.name!r} ({n_points:,} configurations × {n_seeds:,} seeds)",
            name="runs",
            allowed=max_runs,
        )
        overrides = overrides or {}
        runs: list[RunSpec] = []
        for group in self.groups:
            where = f"{self.source or self.name} (group {group.name!r})"
            for point in group.points:
                values = {
                    **EXPERIMENT_DEFAULTS,
                    **PROTOCOLS[protocol],
                    **self.base,
                    **point,
                    **overrides,
                }
                _check_point(values, where)
                base_seed = values.pop("seed", 0)
                for k in range(n_seeds):
                    config = TrainConfig.from_dict({**values, "seed": base_seed + k}, where=where)
                    if k == 0:
                        limits.check_config_memory(config, n_inputs, n_classes)
                    suffix = f"-s{config.seed}" if n_seeds > 1 else ""
                    name = safe_name(f"{group.name}-{config.label}{suffix}")
                    runs.append(RunSpec(group.name, name, config))
        seen: set[str] = set()
        for run in runs:  # O(n): a set, not names.count()
            if run.name in seen:
                raise ConfigError(
                    f"{self.name}: two runs would be called {run.name!r}; give them names"
                )
            seen.add(run.name)
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


def read_spec_file(path: str | os.PathLike) -> str:
    """The text of a spec file, read with the ``spec_bytes`` limit (1 MiB): only a regular
    file is opened (``/dev/zero`` or a FIFO would never end), and no more than the limit + 1
    bytes are read.

    Raises:
        ConfigError: missing, not a regular file, unreadable or not UTF-8.
        ResourceLimitError: larger than the limit.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"no such spec file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ConfigError(f"spec file {path} is {kind}; give the path of a .toml file")
    allowed = limits.limit("spec_bytes")
    limits.check_bytes(info.st_size, f"spec file {path}", name="spec_bytes")
    try:
        with open(path, "rb") as fh:
            data = fh.read(allowed + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    limits.check_bytes(len(data), f"spec file {path}", name="spec_bytes")  # it grew meanwhile
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"spec file {path} is not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None


def load_spec(name_or_path: str | Path) -> Spec:
    """A built-in experiment by name, or a spec file by path (see :func:`read_spec_file`)."""
    text_name = str(name_or_path)
    if text_name in builtin_names():
        return parse_spec(builtin_text(text_name), source=f"built-in {text_name!r}")
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return parse_spec(read_spec_file(path), source=str(path))
    raise ConfigError(
        f"unknown experiment {text_name!r}; choose one of {builtin_names()} "
        "or give the path of a .toml spec file"
    )


def parse_spec(text: str, *, source: str = "spec") -> Spec:
    """Parse and check a spec's TOML text; every mistake is a one-line :class:`ConfigError`."""
    if not isinstance(text, str):
        raise ConfigError(f"{source}: a spec is TOML text, got {type(text).__name__}")
    limits.check_bytes(len(text.encode("utf-8", "replace")), f"spec {source}", name="spec_bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: TOML nested too deeply") from None
    _no_unknown(data, SPEC_KEYS, source)
    if "name" in data:
        name = check_name(data["name"], f"{source}: experiment name")
    else:
        name = safe_name(Path(source).stem if source else "", default="experiment")
    base = _table(data.get("base", {}), "base", source)
    _check_point(base, f"{source} [base]")
    TrainConfig.from_dict(base, where=f"{source} [base]")  # fail early, with the right place
    raw_groups = data.get("group", [{"name": "main"}])
    if not isinstance(raw_groups, list) or not raw_groups:
        raise ConfigError(f"{source}: [[group]] must be one or more tables")
    n_points = 0
    for i, raw in enumerate(raw_groups):  # count before expanding any grid
        n_points += _count_points(raw, i, source)
    limits.check_count(n_points, f"experiment {name!r} ({source})", name="runs")
    groups = tuple(_group(g, i, source, base) for i, g in enumerate(raw_groups))
    seen_groups: set[str] = set()
    for g in groups:
        if g.name in seen_groups:
            names = [g.name for g in groups]
            raise ConfigError(f"{source}: group names must differ, got {names}")
        seen_groups.add(g.name)
    seeds = data.get("seeds")
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise ConfigError(f"{source}: seeds must be a positive integer, got {seeds!r}")
    protocol = data.get("protocol")
    if protocol is not None:
        check_protocol(protocol)
    return Spec(
        name=name,
        title=str(data.get("title", name)),
        title_ja=str(data.get("title_ja", "")),
        description=" ".join(str(data.get("description", "")).split()),
        description_ja=" ".join(str(data.get("description_ja", "")).split()),
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


def _check_point(values: dict[str, Any], where: str) -> None:
    """The checks a configuration table gets beyond TrainConfig's: a safe ``name`` and
    ``optimizer_args`` that the chosen optimizer really takes."""
    if "name" in values and values["name"] != "":
        check_name(values["name"], f"{where}: run name")
    args = values.get("optimizer_args")
    if args is not None:
        optimizer = values.get("optimizer", "sgd")
        if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:  # else TrainConfig's
            try:  # message names the bad optimizer
                check_optimizer_args(optimizer, args)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None


def _group_parts(raw: Any, index: int, source: str):
    """A group's checked pieces: (where, name, fixed, grid, runs)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: group {index + 1} must be a table, got {raw!r}")
    where = f"{source} group {index + 1}"
    _no_unknown(raw, GROUP_KEYS, where)
    name = check_name(raw.get("name", f"group{index + 1}"), f"{where}: group name")
    fixed = _table(raw.get("set", {}), "set", where)
    grid = _table(raw.get("grid", {}), "grid", where)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid.{key} must be a non-empty list, got {values!r}")
    runs = raw.get("runs", [{}])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ConfigError(f"{where}: runs must be a list of tables, got {runs!r}")
    return where, name, fixed, grid, runs


def _count_points(raw: Any, index: int, source: str) -> int:
    """How many configurations a group declares: runs × the product of the grid's list
    lengths, computed without expanding anything."""
    _, _, _, grid, runs = _group_parts(raw, index, source)
    return len(runs) * math.prod(len(v) for v in grid.values())


def _group(raw: Any, index: int, source: str, base: dict[str, Any] | None = None) -> Group:
    where, name, fixed, grid, runs = _group_parts(raw, index, source)
    keys = list(grid)
    points = []
    for run in runs:
        for combo in itertools.product(*(grid[k] for k in keys)):
            point = {**fixed, **run, **dict(zip(keys, combo, strict=True))}
            _check_point({**(base or {}), **point}, where)
            TrainConfig.from_dict(point, where=where)  # unknown keys and types, early
            points.append(point)
    title, title_ja = str(raw.get("title", name)), str(raw.get("title_ja", ""))
    return Group(name=name, title=title, points=tuple(points), title_ja=title_ja)
