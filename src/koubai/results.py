"""The folder an experiment leaves, and the one class that knows its layout.

::

    <name>-<time>/
      spec.toml              the experiment as run: protocol, dataset, every run's configuration
      summary.csv            one row per run
      summary-by-config.csv  one row per configuration: mean, std, min, max over its seeds
      comparison-<group>.png|svg, gradient-flow-<group>.png|svg, nonlinearity-inputs-<group>...
      report.html            everything in one self-contained page, in the language asked
      manifest.json          the experiment's state and each run's state and key (see Manifest)
      runs/<run>/metrics.csv, model.npz, diagnostics.npz, accuracy.png|svg and the diagnostics
                 figures gradient-flow.png, activations.png, saturation-updates.png
      tensorboard/<run>/     event files, when `koubai export tensorboard` wrote them here

Japanese figures carry ``-ja`` before the suffix (``accuracy-ja.png``); no name holds a
character that bash or zsh would expand (:func:`koubai.checks.check_name`).

:class:`ResultsFolder` owns every file name, CSV column and figure stem of that layout, and
writes every file atomically (a temporary file beside it, then ``os.replace``; the temporary
file is removed if anything fails), so a killed or failing write leaves the old file or none,
never half of one. Every path it writes is checked to lie inside the folder. The runner, the
summary writer and the HTML report all go through it; so does anything that reads a folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import tomli_w

from koubai.checks import check_name
from koubai.errors import ConfigError, ResultsError
from koubai.i18n import tr

if TYPE_CHECKING:
    import numpy as np

# NumPy is imported by the methods that read or write arrays: the run store, which only reads
# the CSV and JSON files, starts without it.

SUMMARY_COLUMNS = [
    "run",
    "group",
    "activation",
    "init",
    "batchnorm",
    "hidden_sizes",
    "optimizer",
    "lr",
    "iterations",
    "seed",
    "final_train_acc",
    "final_test_acc",
    "status",
    "stopped_at",
    "seconds",
]
METRIC_COLUMNS = ["iteration", "loss", "train_acc", "test_acc"]
#: ``claims.csv``: one row per claim of a paper experiment (:mod:`koubai.papers`).
CLAIM_COLUMNS = ["claim", "paper_value", "measured", "spread", "reproduced", "note"]
AGGREGATE_COLUMNS = [
    "group",
    "config",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_min",
    "test_acc_max",
    "train_acc_mean",
    "diverged",
]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any] | bytes | str) -> Path:
    """Write ``path`` through a temporary file beside it, renamed into place at the end.

    ``write`` is the content (``bytes``, or ``str`` written as UTF-8) or a function that writes
    into the open binary file. On any failure (a full disk, an exception, Ctrl-C) the temporary
    file is removed and the old file, if any, is left as it was. An ``OSError`` names the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            if isinstance(write, str):
                fh.write(write.encode("utf-8"))
            elif isinstance(write, bytes):
                fh.write(write)
            else:
                write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _csv(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def summary_row(name: str, group: str, result) -> dict[str, object]:
    """One ``summary.csv`` row for a :class:`~koubai.training.RunResult`."""
    c = result.config
    return {
        "run": name,
        "group": group,
        "activation": c.activation,
        "init": c.init if c.init != "gauss" else f"gauss({c.init_std:g})",
        "batchnorm": c.batchnorm,
        "hidden_sizes": "-".join(str(h) for h in c.hidden_sizes),
        "optimizer": c.optimizer,
        "lr": c.lr,
        "iterations": c.iterations,
        "seed": c.seed,
        "final_train_acc": round(result.final_train_acc, 4),
        "final_test_acc": round(result.final_test_acc, 4),
        "status": result.status,
        "stopped_at": result.stopped_at,
        "seconds": round(result.seconds, 2),
    }


def aggregate(rows: Iterable[tuple[str, str, Any]]) -> list[dict[str, object]]:
    """Final accuracies per (group, configuration) over its seeds, in first-seen order."""
    import numpy as np

    groups: dict[tuple[str, str], list] = {}
    for group, config, res in rows:
        groups.setdefault((group, config), []).append(res)
    out = []
    for (group, config), results in groups.items():
        test = np.array([r.final_test_acc for r in results])
        train = np.array([r.final_train_acc for r in results])
        out.append(
            {
                "group": group,
                "config": config,
                "seeds": len(results),
                "test_acc_mean": round(float(test.mean()), 4),
                "test_acc_std": round(float(test.std(ddof=1)) if len(test) > 1 else 0.0, 4),
                "test_acc_min": round(float(test.min()), 4),
                "test_acc_max": round(float(test.max()), 4),
                "train_acc_mean": round(float(train.mean()), 4),
                "diverged": sum(r.status == "diverged" for r in results),
            }
        )
    return out


def aggregate_rows(rows: Iterable[dict[str, str]]) -> list[dict[str, object]]:
    """:func:`aggregate` over ``summary.csv`` rows read back (strings), as after a resume."""

    @dataclass
    class _Row:
        final_test_acc: float
        final_train_acc: float
        status: str

    def config_of(row: dict[str, str]) -> str:
        run, group, seed = row["run"], row["group"], row["seed"]
        label = run[len(group) + 1 :] if run.startswith(f"{group}-") else run
        return label.removesuffix(f"-s{seed}")

    return aggregate(
        (
            r["group"],
            config_of(r),
            _Row(_float(r["final_test_acc"]), _float(r["final_train_acc"]), r["status"]),
        )
        for r in rows
    )


def _without_name(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "name"}


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


# -- the manifest ---------------------------------------------------------------------------------

#: An experiment's states: ``running`` while a process works on it (or until it was killed:
#: see :meth:`Manifest.live_state`), then ``complete`` (every run finished or diverged),
#: ``interrupted`` (Ctrl-C, SIGTERM, or killed) or ``failed`` (some run raised an error).
EXPERIMENT_STATES = ("running", "complete", "interrupted", "failed")
#: A run's states. ``finished`` and ``diverged`` are done; ``--resume`` runs every other one
#: except ``removed`` (taken out by ``koubai runs rm --files``).
RUN_STATES = ("pending", "running", "finished", "diverged", "interrupted", "failed", "removed")
DONE_STATES = ("finished", "diverged")


def run_key(config: dict[str, Any], dataset: str, protocol: str) -> str:
    """A run's stable key: the first 16 hex digits of the SHA-256 of its full configuration,
    dataset and protocol written as canonical JSON (sorted keys, no spaces). The same run in
    another experiment, folder or machine has the same key; any changed field changes it."""
    text = json.dumps(
        {"config": config, "dataset": dataset, "protocol": protocol},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def process_gone(pid: int, host: str) -> bool:
    """True when process ``pid`` of this machine (``host``) no longer exists; False for a
    process of another machine, which cannot be checked from here."""
    return host == _host() and not _pid_alive(pid)


@dataclass
class Manifest:
    """``manifest.json``: the experiment's state and, per run in spec order, its name, group,
    key (:func:`run_key`), state (:data:`RUN_STATES`) and, for a failed run, its one-line error.

    The runner rewrites it atomically at every change of state, so a kill at any moment leaves
    a manifest that says which runs are done.
    """

    experiment: str
    dataset: str
    protocol: str
    runs: list[dict[str, Any]]
    state: str = "running"
    created: str = ""
    updated: str = ""
    pid: int = 0
    host: str = ""
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    FORMAT = 1

    def run(self, name: str) -> dict[str, Any]:
        for entry in self.runs:
            if entry["name"] == name:
                return entry
        raise ResultsError(f"no run {name!r} in the manifest of {self.experiment}")

    def set_run(self, name: str, state: str, error: str | None = None) -> None:
        """Set one run's state (and its error, or clear it)."""
        if state not in RUN_STATES:
            raise ConfigError(f"unknown run state {state!r}; choose one of {RUN_STATES}")
        entry = self.run(name)
        entry["state"] = state
        entry.pop("error", None)
        if error:
            entry["error"] = " ".join(str(error).split())
        self.updated = _now()

    @property
    def planned(self) -> int:
        """Runs the experiment is meant to have (those removed by hand do not count)."""
        return sum(r["state"] != "removed" for r in self.runs)

    @property
    def done(self) -> int:
        return sum(r["state"] in DONE_STATES for r in self.runs)

    @property
    def failed(self) -> int:
        return sum(r["state"] == "failed" for r in self.runs)

    def completeness(self) -> str:
        """``"6 of 12 runs"``."""
        return f"{self.done} of {self.planned} runs"

    def todo(self) -> list[str]:
        """The runs ``--resume`` trains again: neither done nor removed."""
        return [r["name"] for r in self.runs if r["state"] not in (*DONE_STATES, "removed")]

    def live_state(self) -> str:
        """The state, with ``running`` read as ``interrupted`` when the process that wrote it
        on this machine is gone (killed with -9, or by the OOM killer)."""
        if self.state == "running" and process_gone(self.pid, self.host):
            return "interrupted"
        return self.state

    def claim(self) -> None:
        """This process runs the experiment now (a resume): state ``running``, one more
        attempt, this process's id and host."""
        self.state, self.attempts = "running", self.attempts + 1
        self.pid, self.host, self.updated = os.getpid(), _host(), _now()

    def finish(self, interrupted: bool) -> str:
        """The final state after the runner stopped: interrupted, failed or complete."""
        if interrupted or any(r["state"] in ("pending", "running") for r in self.runs):
            self.state = "interrupted"
        elif self.failed:
            self.state = "failed"
        else:
            self.state = "complete"
        self.updated = _now()
        return self.state

    def to_json(self) -> str:
        doc = {"format": self.FORMAT, **{k: getattr(self, k) for k in _MANIFEST_FIELDS}}
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != cls.FORMAT:
                raise ValueError("not a koubai manifest of format 1")
            m = cls(**{k: doc[k] for k in _MANIFEST_FIELDS if k in doc})
            if m.state not in EXPERIMENT_STATES or not isinstance(m.runs, list):
                raise ValueError(f"state {m.state!r}")
            for r in m.runs:
                if not {"name", "group", "key", "state"} <= set(r) or r["state"] not in RUN_STATES:
                    raise ValueError(f"bad run entry {r!r}")
        except (ValueError, TypeError, KeyError) as exc:
            raise ResultsError(f"{where} is not a valid manifest: {exc}") from None
        return m


_MANIFEST_FIELDS = (
    "experiment",
    "state",
    "dataset",
    "protocol",
    "created",
    "updated",
    "pid",
    "host",
    "attempts",
    "runs",
    "extra",
)


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def _host() -> str:
    return os.uname().nodename if hasattr(os, "uname") else ""


def new_manifest(experiment: str, dataset: str, protocol: str, runs: Sequence[tuple]) -> Manifest:
    """A manifest in state ``running`` for ``runs``: ``(name, group, config dict)`` triples."""
    now = _now()
    return Manifest(
        experiment=experiment,
        dataset=dataset,
        protocol=protocol,
        runs=[
            {"name": n, "group": g, "key": run_key(c, dataset, protocol), "state": "pending"}
            for n, g, c in runs
        ],
        created=now,
        updated=now,
        pid=os.getpid(),
        host=_host(),
    )


def in_language(entry: Mapping[str, Any], key: str, lang: str, default: str = "") -> str:
    """A text of a spec entry (``spec.toml``'s top level or one of its groups) in ``lang``:
    ``key`` (``"title"``, ``"description"``), or ``key_ja`` for Japanese where the entry has
    one; ``default`` when it has neither."""
    text = str(entry.get(key) or default)
    return tr(lang, text, str(entry.get(f"{key}_ja") or text))


class ResultsFolder:
    """An experiment's results folder: every file name, column and figure stem, and the only
    code that writes or reads them.

    Args:
        path: the folder (see :meth:`create` for a new one and :meth:`open` for an existing one).
    """

    SPEC = "spec.toml"
    SUMMARY = "summary.csv"
    BY_CONFIG = "summary-by-config.csv"
    REPORT = "report.html"
    MANIFEST = "manifest.json"
    RUNS = "runs"
    METRICS = "metrics.csv"
    MODEL = "model.npz"
    DIAGNOSTICS = "diagnostics.npz"
    #: The diagnosis findings of a monitored PyTorch model (``koubai.torch.Monitor.report``).
    FINDINGS = "findings.json"
    CLAIMS = "claims.csv"
    #: A paper experiment's figures are ``paper-<part>.png|svg`` (:mod:`koubai.papers`).
    PAPER_FIGURE_PREFIX = "paper-"
    #: Per-run figures: the note's accuracy figure (PNG and SVG) and the diagnostics (PNG).
    RUN_FIGURES = ("accuracy", "gradient-flow", "activations", "saturation-updates")
    #: Per-group figures, ``<kind>-<group>.png|svg``.
    GROUP_FIGURES = ("comparison", "gradient-flow", "nonlinearity-inputs")
    #: Where ``koubai export tensorboard`` writes its event files by default.
    TENSORBOARD = "tensorboard"
    #: The spec's meta keys for the group titles and the number of classes of the data.
    GROUPS_KEY = "groups"
    CLASSES_KEY = "classes"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ResultsFolder({str(self.path)!r})"

    # -- creating and opening --------------------------------------------------------------------
    @classmethod
    def create(cls, parent: str | os.PathLike, name: str) -> ResultsFolder:
        """A new folder ``<parent>/<name>-<time>`` (``-2``, ``-3``… when taken)."""
        check_name(name, "experiment name")
        parent = Path(parent)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for k in range(1, 1000):
                folder = parent / (f"{name}-{stamp}" if k == 1 else f"{name}-{stamp}-{k}")
                try:
                    folder.mkdir()
                    return cls(folder)
                except FileExistsError:
                    continue
        except OSError as exc:
            raise ConfigError(
                f"cannot write results to {parent}: {exc.strerror or exc}; choose another --out"
            ) from None
        raise ConfigError(f"cannot find a free folder name for {name} in {parent}")

    @classmethod
    def open(cls, path: str | os.PathLike) -> ResultsFolder:
        """An existing results folder; a missing path or a folder without ``spec.toml`` is a
        :class:`~koubai.errors.ResultsError` saying which."""
        path = Path(path)
        if not path.exists():
            raise ResultsError(f"{path} does not exist")
        if not path.is_dir():
            raise ResultsError(f"{path} is a file, not a koubai results folder")
        if not (path / cls.SPEC).is_file():
            raise ResultsError(f"{path} is not a koubai results folder (no {cls.SPEC})")
        return cls(path)

    # -- paths ------------------------------------------------------------------------------------
    def _inside(self, *parts: str) -> Path:
        """``path / parts``, refused unless it resolves inside the folder."""
        target = self.path.joinpath(*parts)
        root = self.path.resolve()
        if not target.resolve().is_relative_to(root):
            raise ConfigError(f"{'/'.join(parts)!r} would be written outside {self.path}")
        return target

    @property
    def claims_path(self) -> Path:
        return self.path / self.CLAIMS

    @property
    def report_path(self) -> Path:
        return self.path / self.REPORT

    def run_dir(self, run: str, *, create: bool = False) -> Path:
        """The folder of run ``run``."""
        folder = self._inside(self.RUNS, check_name(run, "run name"))
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def figure_stem(stem: str, lang: str = "en") -> str:
        """A figure's file stem in ``lang``: English keeps ``stem``, Japanese adds ``-ja``
        (``accuracy.png``, ``accuracy-ja.png``), so the two languages never overwrite each
        other."""
        from koubai.checks import check_language

        return stem if check_language(lang) == "en" else f"{stem}-{lang}"

    def run_figure(self, run: str, kind: str, lang: str = "en") -> Path:
        """The stem (no suffix) of one of a run's :data:`RUN_FIGURES` in ``lang``."""
        if kind not in self.RUN_FIGURES:
            raise ConfigError(f"unknown run figure {kind!r}; choose one of {self.RUN_FIGURES}")
        return self.run_dir(run) / self.figure_stem(kind, lang)

    def group_figure(self, kind: str, group: str, lang: str = "en") -> Path:
        """The stem (no suffix) of one of a group's :data:`GROUP_FIGURES` in ``lang``."""
        if kind not in self.GROUP_FIGURES:
            raise ConfigError(f"unknown group figure {kind!r}; choose one of {self.GROUP_FIGURES}")
        stem = f"{kind}-{check_name(group, 'group name')}"
        return self._inside(self.figure_stem(stem, lang))

    def tensorboard_dir(self) -> Path:
        """The default folder of the TensorBoard event files."""
        return self._inside(self.TENSORBOARD)

    # -- writing ----------------------------------------------------------------------------------
    def write_spec(self, meta: dict[str, object], runs: Sequence[tuple[str, str, dict]]) -> Path:
        """The resolved experiment: ``meta`` at the top, then one ``[[run]]`` table per run: its
        ``name``, ``group`` and every configuration field (the configuration's own ``name``, the
        label, is written as ``label``; :meth:`read_runs` reads it back)."""
        doc = dict(meta)
        doc["run"] = [
            {"name": name, "group": group, "label": config.get("name", ""), **_without_name(config)}
            for name, group, config in runs
        ]
        return atomic_write(self._inside(self.SPEC), tomli_w.dumps(doc))

    def write_summary(self, rows: Sequence[dict[str, object]]) -> Path:
        """``summary.csv``: one row per run (see :func:`summary_row`)."""
        text = _csv([[row[k] for k in SUMMARY_COLUMNS] for row in rows], SUMMARY_COLUMNS)
        return atomic_write(self._inside(self.SUMMARY), text)

    def write_by_config(self, rows: Sequence[dict[str, object]]) -> Path:
        """``summary-by-config.csv``: one row per configuration (see :func:`aggregate`)."""
        text = _csv([[row[k] for k in AGGREGATE_COLUMNS] for row in rows], AGGREGATE_COLUMNS)
        return atomic_write(self._inside(self.BY_CONFIG), text)

    def write_run(self, run: str, result, diagnostics: dict | None) -> Path:
        """A run's data files: ``metrics.csv``, ``model.npz`` and ``diagnostics.npz`` (when
        ``diagnostics``, the probe's arrays, is given). Returns the run's folder."""
        import numpy as np

        folder = self.run_dir(run, create=True)
        rows = [
            (r.iteration, f"{r.loss:.6g}", f"{r.train_acc:.4f}", f"{r.test_acc:.4f}")
            for r in result.records
        ]
        atomic_write(folder / self.METRICS, _csv(rows, METRIC_COLUMNS))
        self._save_arrays(folder / self.MODEL, result.net.state_dict())
        if diagnostics is not None:
            meta = diagnostics["meta"]
            arrays = {
                **diagnostics,
                "meta": np.array(meta if isinstance(meta, str) else json.dumps(meta)),
            }
            self._save_arrays(folder / self.DIAGNOSTICS, arrays)
        return folder

    def write_manifest(self, manifest: Manifest) -> Path:
        """``manifest.json`` (see :class:`Manifest`)."""
        return atomic_write(self._inside(self.MANIFEST), manifest.to_json())

    def drop_runs(self, names: Iterable[str]) -> None:
        """Take runs out of the folder: their files, their ``summary.csv`` rows (the summary by
        configuration recomputed) and, in the manifest, state ``removed``."""
        import shutil

        names = set(names)
        for name in names:
            shutil.rmtree(self.run_dir(name), ignore_errors=True)
        rows = [row for row in self.read_summary() if row["run"] not in names]
        self.write_summary(rows)
        self.write_by_config(aggregate_rows(rows))
        manifest = self.read_manifest()
        if manifest is not None:
            for entry in manifest.runs:
                if entry["name"] in names:
                    entry["state"] = "removed"
            self.write_manifest(manifest)

    def paper_figure(self, part: str) -> Path:
        """The stem (no suffix) of a paper experiment's figure ``part`` (``"fig1"``, …)."""
        return self._inside(self.PAPER_FIGURE_PREFIX + check_name(part, "figure name"))

    def paper_figures(self, suffix: str = ".png") -> list[Path]:
        """The paper figures drawn in this folder, by name."""
        return sorted(self.path.glob(f"{self.PAPER_FIGURE_PREFIX}*{suffix}"))

    def write_claims(self, rows: Sequence[dict[str, object]]) -> Path:
        """``claims.csv``: one row per claim, :data:`CLAIM_COLUMNS`."""
        text = _csv([[row[k] for k in CLAIM_COLUMNS] for row in rows], CLAIM_COLUMNS)
        return atomic_write(self._inside(self.CLAIMS), text)

    def read_claims(self) -> list[dict[str, str]]:
        """``claims.csv``'s rows (strings), or ``[]`` when the experiment checks no claim."""
        return self._read_csv(self.path / self.CLAIMS)

    def write_report(self, page: str) -> Path:
        """``report.html``."""
        return atomic_write(self.report_path, page)

    @staticmethod
    def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
        import numpy as np

        atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))

    # -- reading ----------------------------------------------------------------------------------
    def read_spec(self) -> dict[str, Any]:
        """``spec.toml`` as a dict (``run``: the list of runs)."""
        path = self.path / self.SPEC
        try:
            return tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ResultsError(
                f"{self.path} is not a koubai results folder (no {self.SPEC})"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(f"{path} is not valid TOML: {exc}") from None

    def read_manifest(self) -> Manifest | None:
        """``manifest.json``, or None in a folder written before manifests existed."""
        path = self.path / self.MANIFEST
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as exc:
            raise ResultsError(f"{path} is not a valid manifest: {exc}") from None
        return Manifest.from_json(text, str(path))

    def completeness(self) -> str | None:
        """``"6 of 12 runs"`` and the state when the experiment is not complete, else None."""
        manifest = self.read_manifest()
        if manifest is None or manifest.live_state() == "complete":
            return None
        return f"{manifest.completeness()} ({manifest.live_state()})"

    def read_runs(self) -> list[tuple[str, str, dict[str, Any]]]:
        """``(name, group, configuration)`` of every run in ``spec.toml``, in run order."""
        out = []
        for entry in self.read_spec().get("run", []):
            config = {k: v for k, v in entry.items() if k not in ("name", "group", "label")}
            if "label" in entry:
                config["name"] = entry["label"]
            if not isinstance(entry.get("name"), str) or not isinstance(entry.get("group"), str):
                raise ResultsError(f"{self.path}: a run in {self.SPEC} has no name or group")
            out.append((entry["name"], entry["group"], config))
        return out

    def _read_csv(self, path: Path) -> list[dict[str, str]]:
        if not path.exists():
            return []
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def read_summary(self) -> list[dict[str, str]]:
        """``summary.csv``'s rows (strings), or ``[]`` before the first run finished."""
        return self._read_csv(self.path / self.SUMMARY)

    def read_by_config(self) -> list[dict[str, str]]:
        return self._read_csv(self.path / self.BY_CONFIG)

    def read_metrics(self, run: str) -> dict[str, np.ndarray]:
        """A run's ``metrics.csv`` as float columns keyed by :data:`METRIC_COLUMNS`."""
        import numpy as np

        rows = self._read_csv(self.run_dir(run) / self.METRICS)
        return {c: np.array([float(r[c]) for r in rows]) for c in METRIC_COLUMNS}

    def read_diagnostics(self, run: str) -> dict | None:
        """A run's ``diagnostics.npz`` (``meta`` decoded), or None when it recorded none."""
        from koubai.training.probes import load_diagnostics

        path = self.run_dir(run) / self.DIAGNOSTICS
        return load_diagnostics(path) if path.exists() else None

    def has_diagnostics(self, run: str) -> bool:
        """Whether run ``run`` recorded diagnostics."""
        return (self.run_dir(run) / self.DIAGNOSTICS).is_file()

    def read_model(self, run: str):
        """A run's trained network (:func:`koubai.io.load_mlp`)."""
        from koubai.io import load_mlp

        return load_mlp(self.run_dir(run) / self.MODEL)

    def run_status(self, run: str) -> str:
        """A run's status in ``summary.csv`` ("finished", "diverged", ...; "" if not there)."""
        return next((r["status"] for r in self.read_summary() if r["run"] == run), "")

    def classes(self) -> int:
        """The number of classes of the experiment's data (10 when the spec does not say)."""
        return int(self.read_spec().get(self.CLASSES_KEY, 10))

    def group_title(self, group: str, lang: str = "en") -> str:
        """A group's title from the spec, in Japanese for ``lang="ja"`` where the spec has one
        (its name when the spec has no title)."""
        for entry in self.read_spec().get(self.GROUPS_KEY, []):
            if entry.get("name") == group:
                return in_language(entry, "title", lang, default=group)
        return group

    def figure(self, stem: Path, suffix: str = ".png") -> Path | None:
        """The file of a figure stem (from :meth:`run_figure` or :meth:`group_figure`), if it
        was drawn."""
        path = stem.with_name(stem.name + suffix)
        return path if path.exists() else None

    def run_diagnostics_paths(self) -> dict[str, Path]:
        """Run name → its ``diagnostics.npz``, for the runs that recorded diagnostics; a
        single-run folder (``Monitor.report``'s) has it at the top, named after the folder."""
        paths = sorted(self.path.glob(f"{self.RUNS}/*/{self.DIAGNOSTICS}"))
        if not paths and (self.path / self.DIAGNOSTICS).exists():
            return {self.path.name: self.path / self.DIAGNOSTICS}
        return {p.parent.name: p for p in paths}

    def groups(self) -> list[str]:
        """The groups of the experiment, in spec order."""
        out: list[str] = []
        for run in self.read_spec().get("run", []):
            if run.get("group") not in out:
                out.append(run.get("group"))
        return out
