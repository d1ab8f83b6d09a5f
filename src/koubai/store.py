"""The run store: one SQLite index of every run of every experiment on this machine.

The results folders are the truth; the store is an index of them, rebuilt from them at any time
(:meth:`Store.reindex`, ``koubai runs reindex DIR...``). It lives at
``$KOUBAI_HOME/runs.sqlite`` when ``KOUBAI_HOME`` is set, else in the user's data directory
(``platformdirs.user_data_dir("koubai")``: ``~/.local/share/koubai/runs.sqlite`` on Linux).

SQLite in WAL mode, with a busy timeout: several experiments can index their folders at once
(each folder is rewritten in one transaction), and readers never wait for writers.

Each run row holds its key (:func:`koubai.results.run_key`), experiment, folder, status,
dataset, protocol, configuration (JSON), final accuracies and times. A run is addressed as
``<folder name>/<run name>`` (its id), by its folder path or by a unique prefix of its key.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from koubai.checks import check_choice, did_you_mean
from koubai.errors import ConfigError, ResultsError
from koubai.results import RUN_STATES, ResultsFolder, process_gone

FILE_NAME = "runs.sqlite"
#: Columns a ``--where KEY=VALUE`` may name besides the configuration's fields.
COLUMNS = ("experiment", "status", "dataset", "protocol", "group", "run", "key", "folder")

#: Version 2 added ``runs_order``, the index ``koubai runs list`` reads its newest rows from;
#: a version-1 store gains it and keeps its rows.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    folder TEXT PRIMARY KEY, name TEXT, title TEXT, state TEXT, planned INTEGER,
    done INTEGER, dataset TEXT, protocol TEXT, created TEXT, mtime REAL, pid INTEGER, host TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT NOT NULL, folder TEXT NOT NULL, experiment TEXT, run TEXT NOT NULL, "group" TEXT,
    key TEXT, status TEXT, error TEXT, dataset TEXT, protocol TEXT, config TEXT,
    final_train_acc REAL, final_test_acc REAL, stopped_at INTEGER, seconds REAL, created TEXT,
    PRIMARY KEY (folder, run)
);
CREATE INDEX IF NOT EXISTS runs_id ON runs(id);
CREATE INDEX IF NOT EXISTS runs_folder ON runs(folder);
CREATE INDEX IF NOT EXISTS runs_key ON runs(key);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment);
CREATE INDEX IF NOT EXISTS runs_order ON runs(created DESC, folder DESC);
"""
RUN_FIELDS = (
    "id",
    "folder",
    "experiment",
    "run",
    "group",
    "key",
    "status",
    "error",
    "dataset",
    "protocol",
    "config",
    "final_train_acc",
    "final_test_acc",
    "stopped_at",
    "seconds",
    "created",
)


def default_path() -> Path:
    """``$KOUBAI_HOME/runs.sqlite``, else ``<user data dir>/koubai/runs.sqlite``."""
    home = os.environ.get("KOUBAI_HOME")
    if home:
        return Path(home).expanduser() / FILE_NAME
    import platformdirs

    return Path(platformdirs.user_data_dir("koubai", appauthor=False)) / FILE_NAME


class Store:
    """The index (see the module docstring). Use as a context manager, or call :meth:`close`.

    Args:
        path: the SQLite file. Default: :func:`default_path`.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if self._version() != SCHEMA_VERSION:
                self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise ResultsError(f"cannot open the run store {self.path}: {exc}") from None

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        """Make the tables, under the write lock, after reading the version again there: two
        processes opening a new store at once must not both make it (the second would drop
        the first's rows). Version 1 lacks only an index, which SCHEMA adds; an older layout
        is made anew, empty (`koubai runs reindex` refills it); a newer one is left alone."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            found = self._version()
            if found > SCHEMA_VERSION:
                raise ResultsError(
                    f"the run store {self.path} was written by a newer koubai (schema "
                    f"{found}, this one reads {SCHEMA_VERSION}); upgrade koubai or set "
                    "KOUBAI_HOME to another folder"
                )
            if found not in (0, 1, SCHEMA_VERSION):
                self.db.execute("DROP TABLE IF EXISTS runs")
                self.db.execute("DROP TABLE IF EXISTS experiments")
            if found != SCHEMA_VERSION:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @classmethod
    def open_default(cls) -> Store:
        return cls()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- writing ------------------------------------------------------------------------------
    def index_folder(self, folder: str | os.PathLike) -> int:
        """(Re)index one results folder in one transaction; return its number of runs."""
        rows, experiment = _folder_rows(ResultsFolder.open(folder))
        self._write(experiment, rows)
        return len(rows)

    def _write(self, experiment: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        marks = ", ".join("?" for _ in RUN_FIELDS)
        names = ", ".join(f'"{f}"' for f in RUN_FIELDS)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM runs WHERE folder = ?", (experiment["folder"],))
            self.db.execute(
                f"INSERT OR REPLACE INTO experiments ({', '.join(experiment)}) "
                f"VALUES ({', '.join('?' for _ in experiment)})",
                tuple(experiment.values()),
            )
            self.db.executemany(
                f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})",
                [tuple(r[f] for f in RUN_FIELDS) for r in rows],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise ResultsError(f"cannot write the run store {self.path}: {exc}") from None

    def reindex(self, roots: Iterable[str | os.PathLike] = ()) -> tuple[int, int]:
        """Index every results folder under ``roots`` (a folder with a ``spec.toml``, or a
        parent of such folders); re-read every folder already indexed and forget those that are
        gone. Returns (folders, runs) indexed."""
        folders = {Path(f) for f in self._folders()}
        for root in roots:
            root = Path(root)
            if not root.is_dir():
                raise ResultsError(f"{root} is not a folder")
            if (root / ResultsFolder.SPEC).is_file():
                folders.add(root.resolve())
            folders.update(p.parent.resolve() for p in root.glob(f"*/{ResultsFolder.SPEC}"))
        n_runs = 0
        for folder in sorted(folders):
            if (folder / ResultsFolder.SPEC).is_file():
                n_runs += self.index_folder(folder)
            else:
                self.forget_folder(folder)
        return len(self._folders()), n_runs

    def refresh(self) -> None:
        """Re-read every indexed folder whose manifest or summary changed since it was indexed
        (a stale index) or whose experiment's process was killed, and forget folders that are
        gone."""
        rows = self.db.execute("SELECT folder, mtime, state, pid, host FROM experiments")
        for row in rows.fetchall():
            folder = row["folder"]
            if not os.path.isfile(os.path.join(folder, ResultsFolder.SPEC)):
                self.forget_folder(folder)
            elif _mtime(folder) != row["mtime"] or (
                row["state"] == "running" and process_gone(row["pid"], row["host"])
            ):  # changed, or its process was killed
                self.index_folder(folder)

    def forget_folder(self, folder: str | os.PathLike) -> None:
        with self.db:
            self.db.execute("DELETE FROM runs WHERE folder = ?", (str(folder),))
            self.db.execute("DELETE FROM experiments WHERE folder = ?", (str(folder),))

    def forget_runs(self, rows: Sequence[dict[str, Any]]) -> None:
        """Drop these runs (rows as :meth:`select` returns them) from the index."""
        with self.db:
            self.db.executemany(
                "DELETE FROM runs WHERE folder = ? AND run = ?",
                [(r["folder"], r["run"]) for r in rows],
            )

    # -- reading ------------------------------------------------------------------------------
    def _folders(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT folder FROM experiments")]

    def experiment(self, folder: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM experiments WHERE folder = ?", (folder,)).fetchone()
        return dict(row) if row else None

    def select(
        self,
        where: Sequence[str] = (),
        *,
        experiment: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs matching every ``KEY=VALUE`` of ``where`` (a column of :data:`COLUMNS` or a
        configuration field; values read as TOML, so ``lr=0.1``, ``batchnorm=true``), newest
        experiment first, then in run order. An unknown key or status (one of
        :data:`~koubai.results.RUN_STATES`) is a :class:`ConfigError`, not an empty answer."""
        sql, args = self._query("SELECT *", where, experiment, status)
        sql += " ORDER BY created DESC, folder DESC, rowid"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            return [dict(r) for r in self.db.execute(sql, args)]
        except sqlite3.Error as exc:
            raise ResultsError(f"cannot read the run store {self.path}: {exc}") from None

    def count(
        self, where: Sequence[str] = (), *, experiment: str | None = None, status: str | None = None
    ) -> int:
        """How many runs :meth:`select` would return."""
        sql, args = self._query("SELECT COUNT(*)", where, experiment, status)
        return self.db.execute(sql, args).fetchone()[0]

    def incomplete(self) -> list[dict[str, Any]]:
        """Every indexed experiment that is not complete."""
        found = self.db.execute("SELECT * FROM experiments WHERE state != 'complete'")
        return [dict(r) for r in found]

    def _query(self, head: str, where, experiment, status) -> tuple[str, list[Any]]:
        clauses, args = [], []
        for item in where:
            key, value = _parse_where(item)
            self._check_where_key(key)
            clause, value = _where(key, value)
            if key == "status":
                check_choice(value, "status", RUN_STATES)
            clauses.append(clause)
            args.append(value)
        if experiment is not None:
            clauses.append("(experiment = ? OR folder LIKE ?)")
            args += [experiment, f"%/{experiment}"]
        if status is not None:
            check_choice(status, "status", RUN_STATES)
            clauses.append("status = ?")
            args.append(status)
        return f"{head} FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else ""), args

    def _check_where_key(self, key: str) -> None:
        """Refuse a ``--where`` key that is neither a column nor a :class:`TrainConfig` field.

        The newest indexed run's configuration holds every field, so a known key is checked
        without importing the training code (and NumPy); only a key missing there (a typo, or a
        field that koubai gained since that run) asks :func:`config_fields`.
        """
        if key in COLUMNS:
            return
        newest = self.db.execute("SELECT config FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()
        if newest is not None and key in json.loads(newest[0]):
            return
        fields = config_fields()
        if key not in fields:
            raise ConfigError(
                f"unknown --where key {key!r}{did_you_mean(key, (*COLUMNS, *fields))}; choose "
                f"a configuration field ({', '.join(fields)}) or one of {', '.join(COLUMNS)}"
            )

    def find(self, ref: str) -> dict[str, Any]:
        """One run by id (``<folder name>/<run>``), by its folder path (``<folder>/runs/<run>``,
        as ``koubai runs show`` prints it, or ``<folder>/<run>``; relative or absolute) or by a
        unique key prefix (6+ hex digits)."""
        path = Path(ref).resolve()
        places = [(str(path.parent), path.name)]
        if path.parent.name == ResultsFolder.RUNS:  # <folder>/runs/<run>: the run's own folder
            places.append((str(path.parent.parent), path.name))
        either = " OR ".join("(folder = ? AND run = ?)" for _ in places)
        args = [ref, *(x for place in places for x in place)]
        rows = [
            dict(r) for r in self.db.execute(f"SELECT * FROM runs WHERE id = ? OR {either}", args)
        ]
        by_key = False
        if not rows and len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref):
            found = self.db.execute("SELECT * FROM runs WHERE key LIKE ?", (ref + "%",))
            rows, by_key = [dict(r) for r in found], True
        if not rows:
            raise ConfigError(f"no run {ref!r} in the store; see koubai runs list")
        if len(rows) > 1:
            raise ConfigError(_ambiguous(ref, rows, by_key))
        return rows[0]


def _ambiguous(ref: str, rows: list[dict[str, Any]], by_key: bool) -> str:
    """Why ``ref`` names several runs, and what names one of them: a longer key only when their
    keys differ (one configuration in two groups or folders has one key), else the id or the
    folder path; the path alone when the ids are the same too (two folders of one name)."""
    ids = [r["id"] for r in rows]
    if len(set(ids)) < len(ids):
        names = [str(Path(r["folder"]) / ResultsFolder.RUNS / r["run"]) for r in rows]
        ask = "give the run's folder path"
    else:
        names, ask = ids, "give the run's id or folder path"
    same = ""
    if by_key and len({r["key"] for r in rows}) > 1:
        ask = ask.replace("give the", "give a longer key, or the")
    elif by_key:
        same = " with the same key"
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return f"{ref!r} names {len(rows)} runs{same} ({shown}); {ask}"


def config_fields() -> tuple[str, ...]:
    """The fields of :class:`~koubai.training.config.TrainConfig`, in order: the configuration
    keys a ``--where`` may name besides :data:`COLUMNS`. Imports the training code (NumPy)."""
    import dataclasses

    from koubai.training.config import TrainConfig

    return tuple(f.name for f in dataclasses.fields(TrainConfig))


def _parse_where(item: str) -> tuple[str, Any]:
    """``"lr=0.1"`` → ``("lr", 0.1)``: the value read as TOML, else as the text given."""
    import tomllib

    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--where takes KEY=VALUE, got {item!r}")
    try:
        return key, tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, text.strip()


def _where(key: str, value: Any) -> tuple[str, Any]:
    """A ``--where`` key and value → (SQL clause, value)."""
    if key in COLUMNS:
        return f'"{key}" = ?', str(value)
    if not key.isidentifier():
        raise ConfigError(f"--where key {key!r} is not a column or a configuration field")
    if isinstance(value, list):
        return f"json_extract(config, '$.{key}') = json(?)", json.dumps(value)
    if isinstance(value, bool):
        value = int(value)
    return f"json_extract(config, '$.{key}') = ?", value


def _mtime(folder: str | os.PathLike) -> float:
    """The newest modification time of a folder's manifest, summary and spec (0.0: none).

    :meth:`Store.refresh` asks this of every indexed folder before every ``koubai runs``
    command, hence ``os.stat`` on strings: for 835 folders ~8 ms, against ~20 ms with ``pathlib``.
    """
    stamps = []
    for name in (ResultsFolder.MANIFEST, ResultsFolder.SUMMARY, ResultsFolder.SPEC):
        try:
            stamps.append(os.stat(os.path.join(folder, name)).st_mtime)
        except OSError:
            pass
    return max(stamps, default=0.0)


def _folder_rows(folder: ResultsFolder) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows a folder contributes: one per run of its spec, and its experiment row."""
    doc, manifest = folder.read_spec(), folder.read_manifest()
    summary = {row["run"]: row for row in folder.read_summary()}
    path = str(folder.path.resolve())
    states = {r["name"]: r for r in manifest.runs} if manifest else {}
    created = str(doc.get("created", ""))
    rows = []
    for name, group, config in folder.read_runs():
        row = summary.get(name, {})
        entry = states.get(name, {})
        status = row.get("status") or entry.get("state") or "pending"
        if entry.get("state") in ("failed", "removed", "running"):
            status = entry["state"]
        if status == "running" and manifest.live_state() != "running":
            status = "interrupted"  # its process is gone
        if status == "removed":
            continue
        rows.append(
            {
                "id": f"{folder.path.name}/{name}",
                "folder": path,
                "experiment": str(doc.get("name", "")),
                "run": name,
                "group": group,
                "key": entry.get("key", ""),
                "status": status,
                "error": entry.get("error"),
                "dataset": str(doc.get("dataset", "")),
                "protocol": str(doc.get("protocol", "")),
                "config": json.dumps(config, sort_keys=True),
                "final_train_acc": _num(row.get("final_train_acc")),
                "final_test_acc": _num(row.get("final_test_acc")),
                "stopped_at": int(row["stopped_at"]) if row.get("stopped_at") else None,
                "seconds": _num(row.get("seconds")),
                "created": created,
            }
        )
    experiment = {
        "folder": path,
        "name": str(doc.get("name", "")),
        "title": str(doc.get("title", "")),
        "state": manifest.live_state() if manifest else "complete",
        "planned": manifest.planned if manifest else len(rows),
        "done": manifest.done if manifest else len(summary),
        "dataset": str(doc.get("dataset", "")),
        "protocol": str(doc.get("protocol", "")),
        "created": created,
        "mtime": _mtime(folder.path),
        "pid": manifest.pid if manifest else 0,
        "host": manifest.host if manifest else "",
    }
    return rows, experiment


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
