"""Export a results folder as TensorBoard event files, next to a user's own runs.

Every run becomes one TensorBoard run (``<logdir>/<run>/``) with:

* scalars ``loss``, ``accuracy/train``, ``accuracy/test`` at each evaluation point;
* per layer, ``grad_norm/<layer>`` (‖∂L/∂W‖), ``update_ratio/<layer>`` (‖ΔW‖/‖W‖) and
  ``saturated/<layer>`` or ``dead/<layer>``;
* per hidden layer, ``activations/<layer>``: the histogram of its output at each diagnostics
  point (the probe's fixed bins, written as TensorBoard's raw histogram).

It uses ``tensorboardX`` (no TensorFlow needed): ``pip install "koubai[tensorboard]"``. The
files are read from the folder (``metrics.csv``, ``diagnostics.npz``), never from memory.
:func:`read_events` reads event files back without TensorBoard (the tests use it).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from koubai.errors import ConfigError
from koubai.results import ResultsFolder

INSTALL_HINT = 'the TensorBoard export needs tensorboardX: pip install "koubai[tensorboard]"'


def _writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return SummaryWriter


def _layer_names(n: int) -> list[str]:
    return [f"hidden{k + 1}" for k in range(n - 1)] + ["output"]


def export_tensorboard(
    folder: str | os.PathLike, logdir: str | os.PathLike | None = None
) -> list[Path]:
    """Write one TensorBoard run per run of ``folder`` into ``logdir``; return the run folders.

    Args:
        folder: a koubai results folder.
        logdir: where to write. Default: ``<folder>/tensorboard``.
    """
    results = ResultsFolder.open(folder)
    writer_class = _writer_class()
    root = Path(logdir) if logdir is not None else results.tensorboard_dir()
    written = []
    for row in results.read_summary():
        run = row["run"]
        target = root / run
        with writer_class(logdir=str(target)) as writer:
            _scalars(writer, results.read_metrics(run))
            d = results.read_diagnostics(run)
            if d is not None:
                _diagnostics(writer, d)
        written.append(target)
    return written


def _scalars(writer, m: dict[str, np.ndarray]) -> None:
    for k, step in enumerate(m["iteration"].astype(int)):
        writer.add_scalar("loss", float(m["loss"][k]), int(step))
        writer.add_scalar("accuracy/train", float(m["train_acc"][k]), int(step))
        writer.add_scalar("accuracy/test", float(m["test_acc"][k]), int(step))


def _diagnostics(writer, d: dict) -> None:
    names = _layer_names(d["weight_grad_norm"].shape[1])
    its = d["iterations"].astype(int)
    share_key = "dead" if d["meta"]["activation"] in ("relu", "leaky_relu") else "saturated"
    for row, step in enumerate(its):
        for k, name in enumerate(names):
            writer.add_scalar(f"grad_norm/{name}", float(d["weight_grad_norm"][row, k]), int(step))
        for k, value in enumerate(d[share_key][row]):
            if np.isfinite(value):
                writer.add_scalar(f"{share_key}/{names[k]}", float(value), int(step))
        for k in range(d["act_hist"].shape[1]):
            _histogram(writer, f"activations/{names[k]}", d["act_hist"][row, k], d, int(step))
    for row, step in enumerate(d["update_iterations"].astype(int)):
        for k, name in enumerate(names):
            ratio = float(d["update_ratio"][row, k])
            if np.isfinite(ratio):
                writer.add_scalar(f"update_ratio/{name}", ratio, int(step))


def _histogram(writer, tag: str, counts: np.ndarray, d: dict, step: int) -> None:
    edges = np.asarray(d["act_edges"], dtype=float)
    counts = np.asarray(counts, dtype=float)
    if counts.sum() <= 0:
        return
    centers = (edges[:-1] + edges[1:]) / 2
    writer.add_histogram_raw(
        tag,
        min=float(edges[0]),
        max=float(edges[-1]),
        num=float(counts.sum()),
        sum=float((centers * counts).sum()),
        sum_squares=float((centers**2 * counts).sum()),
        bucket_limits=edges[1:].tolist(),
        bucket_counts=counts.tolist(),
        global_step=step,
    )


def read_events(run_dir: str | os.PathLike) -> Iterator[tuple[str, int, float | list[float]]]:
    """The summaries of a run's event files: (tag, step, scalar value or histogram counts).

    A plain reader of TensorBoard's record format (length, CRC, event, CRC), so checking an
    export needs neither TensorBoard nor TensorFlow.
    """
    from tensorboardX.proto import event_pb2

    for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("histo"):
                    yield value.tag, event.step, list(value.histo.bucket)
                else:
                    yield value.tag, event.step, value.simple_value
