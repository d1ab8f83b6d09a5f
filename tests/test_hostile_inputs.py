"""Hostile and careless input: every case fails with koubai's own error in one line, early.

One table, one parametrized test. A case builds its input files (``make``), then does the
hostile thing (``act``); the test asserts the exception class (or the CLI's exit status 1), a
one-line message with no "Traceback" and containing ``match``, and that nothing was created
anywhere in a sentinel folder around the case's working folder (every case here fails before
work starts). To add a case, append a :class:`Case` to :data:`CASES`.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from koubai import datasets
from koubai.checks import check_name
from koubai.cli import app
from koubai.datasets import from_arrays, read_idx
from koubai.engine.mlp import MLP
from koubai.engine.optim import make_optimizer
from koubai.errors import ConfigError, DatasetError, ModelFileError, ResourceLimitError
from koubai.experiments import load_spec
from koubai.io import load_mlp, save_mlp
from koubai.limits import check_training_memory
from koubai.training import TrainConfig, train

CLI_FAILS = 1  # the exit status of a one-line user error


@dataclass(frozen=True)
class Case:
    """One hostile input.

    Args:
        id: a short name (the test id).
        act: ``act(work, made)`` does the hostile thing in the folder ``work``; ``made`` is what
            ``make`` returned. A CLI case returns ``["args", ...]`` for ``koubai`` instead.
        expect: the exception class, or :data:`CLI_FAILS` for a CLI case.
        match: a fragment the one-line message must contain. Default: "" (any).
        make: ``make(work)`` writes the input files before the folder is listed. Default: none.
        env: environment variables set for the case. Default: none.
        absent: fragments the message must not contain (e.g. "offline?"). Default: none.
    """

    id: str
    act: Callable[[Path, Any], Any]
    expect: type[BaseException] | int
    match: str = ""
    make: Callable[[Path], Any] = lambda work: None
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


# -- builders of hostile files -------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _spec(body: str, name: str = "spec.toml"):
    return lambda work: _write(work / name, body)


def _run_name_spec(run_name: str) -> str:
    return f'name = "x"\n[[group]]\nname = "g"\n[[group.runs]]\nname = {json.dumps(run_name)}\n'


def _grid(n: int, m: int) -> str:
    return (
        f'name = "big"\n[[group]]\nname = "g"\n[group.grid]\nlr = {[0.1] * n}\n'
        f"init_std = {[0.01] * m}\n"
    )


def _npz(work: Path, name: str = "data.npz", **changes: Any) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 4, 4), dtype=np.uint8),
        "y_train": np.arange(40) % 4,
        "x_test": rng.integers(0, 256, (12, 4, 4), dtype=np.uint8),
        "y_test": np.arange(12) % 4,
    }
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = work / name
    np.savez(path, **arrays)
    return path


def _truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _npy_member_declaring(work: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose y_test header declares ``shape`` but stores 8 bytes."""
    path = _npz(work)

    header = {"descr": "<i8", "fortran_order": False, "shape": shape}
    text = repr(header).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + bytes(8)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as z:
        warnings.simplefilter("ignore")  # "Duplicate name": meant
        z.writestr("y_test.npy", npy)  # a second y_test.npy: the last one wins in a zip
    return path


def _idx(work: Path, header: bytes, data: bytes = b"", *, compress: bool = False) -> Path:
    payload = header + data
    path = work / ("f.idx.gz" if compress else "f.idx")
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def _net(work: Path, name: str = "net.npz", **state_changes: Any) -> Path:
    net = MLP(16, [8, 4], 3, batchnorm=True, seed=0)
    path = save_mlp(net, work / name)
    if state_changes:
        state = net.state_dict()
        for key, value in state_changes.items():
            if value is None:
                state.pop(key)
            else:
                state[key] = value
        np.savez(path, **state)
    return path


def _config_with(**changes: Any) -> np.ndarray:
    config = dict(MLP(16, [8, 4], 3, batchnorm=True, seed=0).config, **changes)
    return np.array(json.dumps(config))


def _weights_with(key: str, index: tuple[int, ...], value: float) -> np.ndarray:
    array = MLP(16, [8, 4], 3, batchnorm=True, seed=0).state_dict()[key].copy()
    array[index] = value
    return array


def _fifo(work: Path) -> Path:
    path = work / "fifo.toml"
    os.mkfifo(path)
    return path


def _user_arrays(y_train=None, y_test=None):
    x = np.zeros((8, 4))
    y = np.arange(8) % 4
    return x, (y if y_train is None else y_train), x, (y if y_test is None else y_test)


def _text_file(work: Path, name: str) -> Path:
    return _write(work / name, "just some text\nnot an archive\n")


# -- the table -----------------------------------------------------------------------------------

CASES: list[Case] = [
    # spec files: names that would become paths
    Case(
        "spec-run-name-traversal",
        lambda w, p: load_spec(p).resolve(),
        ConfigError,
        "path separator",
        _spec(_run_name_spec("../../../../../../elsewhere/victim")),
    ),
    Case(
        "spec-absolute-experiment-name",
        lambda w, p: load_spec(p),
        ConfigError,
        "cannot be a folder name",
        _spec('name = "/tmp/koubai-victim"\n'),
    ),
    Case(
        "spec-group-name-dotdot",
        lambda w, p: load_spec(p),
        ConfigError,
        "'..'",
        _spec('[[group]]\nname = ".."\n'),
    ),
    Case(
        "spec-group-name-dotdot-inside",
        lambda w, p: load_spec(p),
        ConfigError,
        "'..'",
        _spec('[[group]]\nname = "a..b"\n'),
    ),
    Case(
        "spec-run-name-glob",
        lambda w, p: load_spec(p),
        ConfigError,
        "'*'",
        _spec(_run_name_spec("run*")),
    ),
    Case(
        "spec-run-name-control-char",
        lambda w, p: load_spec(p),
        ConfigError,
        "control character",
        _spec(_run_name_spec("a\u001b[31mred")),
    ),
    Case(
        "spec-run-name-space",
        lambda w, p: load_spec(p),
        ConfigError,
        "' '",
        _spec(_run_name_spec("my run")),
    ),
    Case(
        "spec-run-name-command-substitution",
        lambda w, p: load_spec(p),
        ConfigError,
        "'$'",
        _spec(_run_name_spec("$(rm -rf ~)")),
    ),
    Case(
        "spec-run-name-backquote",
        lambda w, p: load_spec(p),
        ConfigError,
        "'`'",
        _spec(_run_name_spec("`id`")),
    ),
    Case(
        "spec-run-name-too-long",
        lambda w, p: load_spec(p),
        ConfigError,
        "longer than 100",
        _spec(_run_name_spec("a" * 101)),
    ),
    Case(
        "spec-run-name-looks-like-an-option",
        lambda w, p: load_spec(p),
        ConfigError,
        "starts with '-'",
        _spec(_run_name_spec("-rf")),
    ),
    Case(
        "spec-name-override-traversal",
        lambda w, p: load_spec(p).resolve(overrides={"name": "../x"}),
        ConfigError,
        "path separator",
        _spec('name = "x"\n'),
    ),
    Case(
        "spec-duplicate-run-names",
        lambda w, p: load_spec(p).resolve(),
        ConfigError,
        "two runs would be called 'g-same'",
        _spec('name = "x"\n[[group]]\nname = "g"\nruns = [{name = "same"}, {name = "same"}]\n'),
    ),
    # spec files: the amount of work
    Case(
        "spec-grid-of-a-million",
        lambda w, p: load_spec(p),
        ResourceLimitError,
        "1,000,000 runs; the limit is 10,000",
        _spec(_grid(1000, 1000)),
    ),
    Case(
        "spec-a-million-seeds",
        lambda w, p: load_spec(p).resolve(seeds=1_000_000),
        ResourceLimitError,
        "KOUBAI_MAX_RUNS",
        _spec('name = "x"\n'),
    ),
    Case(
        "spec-runs-limit-from-environment",
        lambda w, p: load_spec(p).resolve(seeds=1),
        ResourceLimitError,
        "6 runs; the limit is 5",
        _spec(_grid(2, 3)),
        env={"KOUBAI_MAX_RUNS": "5"},
    ),
    Case(
        "spec-runs-limit-unreadable",
        lambda w, p: load_spec(p),
        ConfigError,
        "KOUBAI_MAX_RUNS='many'",
        _spec('name = "x"\n'),
        env={"KOUBAI_MAX_RUNS": "many"},
    ),
    Case(
        "spec-huge-hidden-layer",
        lambda w, p: load_spec(p).resolve(),
        ResourceLimitError,
        "TiB; the limit is 4 GiB",
        _spec('name = "x"\n[base]\nhidden_sizes = [1000000000]\n'),
    ),
    Case(
        "spec-huge-hidden-layer-set-override",
        lambda w, p: load_spec(p).resolve(overrides={"hidden_sizes": [10**9]}),
        ResourceLimitError,
        "KOUBAI_MAX_MEMORY",
        _spec('name = "x"\n'),
    ),
    Case(
        "spec-optimizer-args-bogus",
        lambda w, p: load_spec(p),
        ConfigError,
        "takes no argument 'bogus'",
        _spec('name = "x"\n[base]\noptimizer_args = {bogus = 1}\n'),
    ),
    Case(
        "spec-optimizer-args-of-another-optimizer",
        lambda w, p: load_spec(p).resolve(overrides={"optimizer": "adam"}),
        ConfigError,
        "['beta1', 'beta2', 'eps']",
        _spec('name = "x"\n[base]\noptimizer = "momentum"\noptimizer_args = {momentum = 0.5}\n'),
    ),
    # spec files: the file itself
    Case("spec-dev-zero", lambda w, p: load_spec("/dev/zero"), ConfigError, "not a regular file"),
    Case("spec-fifo", lambda w, p: load_spec(p), ConfigError, "not a regular file", _fifo),
    Case("spec-folder", lambda w, p: load_spec(w), ConfigError, "is a folder"),
    Case(
        "spec-larger-than-1-MiB",
        lambda w, p: load_spec(p),
        ResourceLimitError,
        "KOUBAI_MAX_SPEC_BYTES",
        _spec("#" * (2**20 + 1)),
    ),
    Case(
        "spec-not-utf8",
        lambda w, p: load_spec(p),
        ConfigError,
        "not UTF-8",
        lambda w: (w / "bin.toml").write_bytes(b"name = \xff\xfe") and w / "bin.toml",
    ),
    Case(
        "spec-nested-too-deeply",
        lambda w, p: load_spec(p),
        ConfigError,
        "spec.toml",
        _spec("a = " + "[" * 100_000),
    ),
    Case(
        "spec-not-toml",
        lambda w, p: load_spec(p),
        ConfigError,
        "not valid TOML",
        _spec("name = = 1\n"),
    ),
    Case("spec-missing", lambda w, p: load_spec(w / "absent.toml"), ConfigError, "no such spec"),
    # the CLI refuses these before any work or folder
    Case(
        "cli-run-traversal-name",
        lambda w, p: ["run", str(p), "--out", str(w / "out")],
        CLI_FAILS,
        "path separator",
        _spec(_run_name_spec("../../../../elsewhere/victim")),
    ),
    Case(
        "cli-run-dev-zero",
        lambda w, p: ["run", "/dev/zero", "--out", str(w / "out")],
        CLI_FAILS,
        "not a regular file",
    ),
    Case(
        "cli-run-grid-of-a-million",
        lambda w, p: ["run", str(p), "--out", str(w / "out")],
        CLI_FAILS,
        "KOUBAI_MAX_RUNS",
        _spec(_grid(1000, 1000)),
    ),
    Case(
        "cli-run-million-seeds",
        lambda w, p: ["run", "vanishing", "--seeds", "1000000", "--out", str(w / "out")],
        CLI_FAILS,
        "KOUBAI_MAX_RUNS",
    ),
    Case(
        "cli-run-huge-hidden-layer",
        lambda w, p: ["run", str(p), "--out", str(w / "out")],
        CLI_FAILS,
        "KOUBAI_MAX_MEMORY",
        _spec('name = "x"\n[base]\nhidden_sizes = [1000000000]\n'),
    ),
    Case(
        "cli-run-truncated-npz-dataset",
        lambda w, p: ["run", "vanishing", "-d", str(p), "--out", str(w / "out")],
        CLI_FAILS,
        "not a zip archive",
        lambda w: _truncated(_npz(w)),
    ),
    Case(
        "cli-datasets-fetch-unwritable-cache",
        lambda w, p: ["datasets", "fetch", "mnist", "--mirror", "http://127.0.0.1:9/"],
        CLI_FAILS,
        "KOUBAI_DATA_DIR",
        lambda w: _text_file(w, "cache-is-a-file"),
        env={"KOUBAI_DATA_DIR": "{work}/cache-is-a-file/sub"},
        absent=("offline?",),
    ),
    # .npz datasets
    Case(
        "npz-truncated",
        lambda w, p: datasets.load(p),
        DatasetError,
        "not a zip archive",
        lambda w: _truncated(_npz(w)),
    ),
    Case(
        "npz-text-file",
        lambda w, p: datasets.load(p),
        DatasetError,
        "not a zip archive",
        lambda w: _text_file(w, "notes.npz"),
        absent=("pickled",),
    ),
    Case(
        "npz-stray-label-255",
        lambda w, p: datasets.load(p),
        DatasetError,
        "1 labels lie outside 0..3 (y_train: first [255])",
        lambda w: _npz(w, y_train=np.r_[np.arange(39) % 4, 255]),
    ),
    Case(
        "npz-label-10-to-the-12",
        lambda w, p: datasets.load(p),
        DatasetError,
        "first [1000000000000]",
        lambda w: _npz(w, y_test=np.r_[np.arange(11) % 4, 10**12]),
    ),
    Case(
        "npz-labels-beyond-stated-classes",
        lambda w, p: datasets.load(p, n_classes=3),
        DatasetError,
        "10 labels outside 0..2, first [3, 3, 3, 3, 3] ...",
    ),
    Case(
        "npz-negative-labels",
        lambda w, p: datasets.load(p),
        DatasetError,
        "negative label -1",
        lambda w: _npz(w, y_train=np.arange(40) % 4 - 1),
    ),
    Case(
        "npz-fractional-labels",
        lambda w, p: datasets.load(p),
        DatasetError,
        "whole-number",
        lambda w: _npz(w, y_train=np.arange(40) % 4 + 0.5),
    ),
    Case(
        "npz-object-array",
        lambda w, p: datasets.load(p),
        DatasetError,
        "without pickle",
        lambda w: _npz(w, y_test=np.array([1, "x"] * 6, dtype=object)),
    ),
    Case(
        "npz-missing-array",
        lambda w, p: datasets.load(p),
        DatasetError,
        "missing arrays ['y_test']",
        lambda w: _npz(w, y_test=None),
    ),
    Case(
        "npz-header-declares-a-terabyte",
        lambda w, p: datasets.load(p),
        DatasetError,
        "stores 8 bytes",
        lambda w: _npy_member_declaring(w, (10**12,)),
    ),
    Case(
        "npz-over-memory-limit",
        lambda w, p: datasets.load(p),
        ResourceLimitError,
        "the limit is 512 B",
        lambda w: _npz(w),
        env={"KOUBAI_MAX_MEMORY": "512"},
    ),
    Case(
        "npz-huge-stated-class-count",
        lambda w, p: datasets.load(p, n_classes=10**12),
        ResourceLimitError,
        "KOUBAI_MAX_CLASSES",
        lambda w: _npz(w),
    ),
    Case("npz-folder", lambda w, p: datasets.load(p), DatasetError, "", lambda w: w / "."),
    Case("npz-missing", lambda w, p: datasets.load(w / "none.npz"), DatasetError, "not found"),
    # IDX files
    Case(
        "idx-dims-overflow-int64",
        lambda w, p: read_idx(p),
        DatasetError,
        "needs 18446744073709551616 bytes",
        lambda w: _idx(w, b"\x00\x00\x08\x03" + struct.pack(">III", 2**31, 2**31, 4)),
    ),
    Case(
        "idx-gzip-declares-more-than-it-can-hold",
        lambda w, p: read_idx(p),
        DatasetError,
        "holds at most",
        lambda w: _idx(w, b"\x00\x00\x08\x01" + struct.pack(">I", 2**31), compress=True),
    ),
    Case(
        "idx-gzip-bomb",
        lambda w, p: read_idx(p),
        DatasetError,
        "unexpected trailing bytes",
        lambda w: _idx(w, b"\x00\x00\x08\x01" + struct.pack(">I", 100), bytes(10**7), compress=1),
    ),
    Case(
        "idx-over-memory-limit",
        lambda w, p: read_idx(p),
        ResourceLimitError,
        "KOUBAI_MAX_MEMORY",
        lambda w: _idx(w, b"\x00\x00\x08\x01" + struct.pack(">I", 4096), bytes(4096)),
        env={"KOUBAI_MAX_MEMORY": "1KiB"},
    ),
    Case(
        "idx-truncated-gzip",
        lambda w, p: read_idx(p),
        DatasetError,
        "gzip",
        lambda w: _truncated(
            _idx(w, b"\x00\x00\x08\x01" + struct.pack(">I", 999), bytes(999), compress=1)
        ),
    ),
    Case("idx-dev-zero", lambda w, p: read_idx("/dev/zero"), DatasetError, "not a file"),
    Case(
        "idx-unknown-type-code",
        lambda w, p: read_idx(p),
        DatasetError,
        "0x0A",
        lambda w: _idx(w, b"\x00\x00\x0a\x01" + struct.pack(">I", 1), b"x"),
    ),
    # network files
    Case(
        "model-truncated",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "not a koubai network file",
        lambda w: _truncated(_net(w)),
    ),
    Case(
        "model-text-file",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "not a zip archive",
        lambda w: _text_file(w, "net.npz"),
        absent=("pickled",),
    ),
    Case(
        "model-declares-a-billion-units",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "declares",
        lambda w: _net(w, __config__=_config_with(hidden_sizes=[10**9, 4])),
    ),
    Case(
        "model-over-memory-limit",
        lambda w, p: load_mlp(p),
        ResourceLimitError,
        "KOUBAI_MAX_MEMORY",
        lambda w: _net(w),
        env={"KOUBAI_MAX_MEMORY": "256"},
    ),
    Case(
        "model-config-nested-deeply",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "nested too deeply",
        lambda w: _net(w, __config__=np.array("[" * 10_000)),
    ),
    Case(
        "model-config-huge",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "configuration of 100,000 characters",
        lambda w: _net(w, __config__=np.array("[" * 100_000)),
    ),
    Case(
        "model-config-bad-json",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "not valid JSON",
        lambda w: _net(w, __config__=np.array("{'input_size': 16")),
    ),
    Case(
        "model-config-missing",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "'__config__' entry is missing",
        lambda w: _net(w, __config__=None),
    ),
    Case(
        "model-nan-weight",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "layers.0.W holds 1 NaN",
        lambda w: _net(w, **{"layers.0.W": _weights_with("layers.0.W", (0, 0), np.nan)}),
    ),
    Case(
        "model-inf-running-variance",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "layers.1.running_var",
        lambda w: _net(
            w, **{"layers.1.running_var": _weights_with("layers.1.running_var", (0,), np.inf)}
        ),
    ),
    Case(
        "model-weight-shape-mismatch",
        lambda w, p: load_mlp(p),
        ModelFileError,
        "the configuration declares (16, 8)",
        lambda w: _net(w, **{"layers.0.W": np.zeros((17, 8), np.float32)}),
    ),
    Case("model-missing", lambda w, p: load_mlp(w / "none.npz"), ModelFileError, "no such"),
    Case("model-dev-zero", lambda w, p: load_mlp("/dev/zero"), ModelFileError, "regular file"),
    # Python API
    Case(
        "api-from-arrays-negative-seed",
        lambda w, p: from_arrays(*_user_arrays(), normalize=False, seed=-1),
        ConfigError,
        "seed must be a non-negative integer",
    ),
    Case(
        "api-from-arrays-one-class",
        lambda w, p: from_arrays(*_user_arrays(np.zeros(8, int), np.zeros(8, int))),
        DatasetError,
        "only class 0",
    ),
    Case(
        "api-from-arrays-stated-one-class",
        lambda w, p: from_arrays(*_user_arrays(), n_classes=1),
        ConfigError,
        "at least 2",
    ),
    Case(
        "api-load-unknown-option",
        lambda w, p: datasets.load("mnist-5k", bogus=1),
        ConfigError,
        "'bogus'",
    ),
    Case(
        "api-load-integer-dtype-normalized",
        lambda w, p: datasets.load("mnist-5k", dtype="int8"),
        ConfigError,
        "normalize=False",
    ),
    Case(
        "api-preparation-not-a-bool",
        lambda w, p: datasets.Preparation(flatten="no"),
        ConfigError,
        "flatten must be True or False",
    ),
    Case(
        "api-optimizer-bogus-argument",
        lambda w, p: make_optimizer("sgd", 0.1, bogus=1),
        ConfigError,
        "takes no argument 'bogus'",
    ),
    Case(
        "api-check-name-unicode-traversal",
        lambda w, p: check_name("実験/../x"),
        ConfigError,
        "path separator",
    ),
    Case(
        "api-training-memory-limit",
        lambda w, p: check_training_memory(784, [10**9], 10, batch_size=100),
        ResourceLimitError,
        "6.9 TiB",
    ),
    Case(
        "api-memory-limit-unreadable",
        lambda w, p: check_training_memory(784, [40], 10, batch_size=100),
        ConfigError,
        "KOUBAI_MAX_MEMORY='lots'",
        env={"KOUBAI_MAX_MEMORY": "lots"},
    ),
    # -- the command line, the runner and the training API -----------------------------------
    Case(
        "cli-train-hidden-1e9",
        lambda w, m: ["train", "--hidden", "1000000000", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "asks for",
    ),
    Case(
        "cli-set-hidden-sizes-1e9",
        lambda w, m: ["run", "vanishing", "--set", "hidden_sizes=[1000000000]", "-d", str(m)],
        CLI_FAILS,
        "asks for",
    ),
    Case("cli-markup-in-a-file-name", lambda w, m: ["run", "[/x].toml"], CLI_FAILS, "[/x].toml"),
    Case(
        "cli-train-name-escapes",
        lambda w, m: ["train", "--name", "../evil", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "cannot be a folder name",
    ),
    Case(
        "cli-train-name-absolute",
        lambda w, m: ["train", "--name", str(w.parent / "abs"), "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "cannot be a folder name",
    ),
    Case(
        "cli-train-seed-negative",
        lambda w, m: ["train", "--seed", "-1", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "seed must be a non-negative integer, got -1",
    ),
    Case(
        "cli-optimizer-args-bogus",
        lambda w, m: ["run", "vanishing", "--set", "optimizer_args={bogus=1}", "-d", str(m)],
        CLI_FAILS,
        "bogus",
    ),
    Case(
        "cli-a-million-seeds",
        lambda w, m: ["run", "vanishing", "--seeds", "1000000", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "10,000",
    ),
    Case(
        "cli-max-runs",
        lambda w, m: ["run", "vanishing", "--max-runs", "3", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "12",
    ),
    Case(
        "cli-report-missing-folder",
        lambda w, m: ["report", str(w / "nowhere")],
        CLI_FAILS,
        "does not exist",
    ),
    Case(
        "cli-one-class-data",
        lambda w, m: ["train", "-d", str(m), "-o", "out", "--iters", "5"],
        CLI_FAILS,
        "a classifier needs 2+",
        make=lambda w: _npz(w, y_train=np.zeros(40, dtype=int), y_test=np.zeros(12, dtype=int)),
    ),
    Case(
        "cli-bn-batch-of-one",
        lambda w, m: ["train", "--batchnorm", "--batch-size", "1", "-d", str(m), "-o", "out"],
        CLI_FAILS,
        "batch_size >= 2",
    ),
    Case("api-iterations-2.5", lambda w, m: TrainConfig(iterations=2.5), ConfigError, "2.5"),
    Case("api-batch-size-true", lambda w, m: TrainConfig(batch_size=True), ConfigError, "True"),
    Case("api-seed-negative", lambda w, m: TrainConfig(seed=-5), ConfigError, "-5"),
    Case("api-lr-a-string", lambda w, m: TrainConfig(lr="0.1"), ConfigError, "a number"),
    Case(
        "api-optimizer-args-unknown",
        lambda w, m: TrainConfig(optimizer="adam", optimizer_args={"momentum": 0.9}),
        ConfigError,
        "momentum",
    ),
    Case(
        "api-gradient-of-an-empty-batch",
        lambda w, m: MLP(4, [3], 2).gradient(np.zeros((0, 4)), np.zeros(0, dtype=int)),
        ConfigError,
        "empty batch",
    ),
    Case(
        "api-train-hidden-1e9",
        lambda w, m: train(TrainConfig(hidden_sizes=(10**9,)), datasets.load(str(m))),
        ResourceLimitError,
        "asks for",
    ),
]


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = tmp_path / "sentinel"
    work = sentinel / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(sentinel / "cache"))
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(work=work))
    made = case.make(work)
    if made is None:
        made = _npz(work)  # a plain input for the cases that need one file
    before = _listing(sentinel)

    if case.expect == CLI_FAILS:
        result = CliRunner().invoke(app, case.act(work, made))
        assert result.exit_code == CLI_FAILS, result.output
        message = result.output.strip()
    else:
        with pytest.raises(case.expect) as info:  # type: ignore[arg-type]
            case.act(work, made)
        message = str(info.value)

    assert message and "\n" not in message, message
    assert "Traceback" not in message
    assert case.match in message
    for fragment in case.absent:
        assert fragment not in message
    assert _listing(sentinel) == before  # nothing written, inside or outside the work folder


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)


def test_a_huge_init_std_is_recorded_as_diverged_not_a_crash(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--init", "gauss", "--init-std", "1e308", "--iters", "30", "-d", "digits"]
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    summary = (folder / "summary.csv").read_text()
    assert ",diverged," in summary


def test_no_hidden_layer_is_softmax_regression_with_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["train", "--hidden", "", "--iters", "30", "-d", "digits", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    (run,) = (folder / "runs").iterdir()
    assert run.name.endswith("linear")
    assert (run / "accuracy.png").stat().st_size > 0
    assert (run / "gradient-flow.png").stat().st_size > 0
