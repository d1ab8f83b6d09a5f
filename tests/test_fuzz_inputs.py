"""Fuzzing the readers of untrusted bytes: random and mutated IDX files, .npz datasets, network
files and spec files may only give a result or raise koubai's own errors, within a memory bound.

The memory bound is real: each example runs with the process's address space limited
(``RLIMIT_AS``) to what it already uses plus :data:`HEADROOM`, and with ``KOUBAI_MAX_MEMORY`` at
64 MiB, so a reader that trusted a declared size would fail with ``MemoryError`` (not a koubai
error) and the test with it.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koubai import datasets
from koubai.datasets.idx import read_idx, write_idx
from koubai.engine.mlp import MLP
from koubai.errors import KoubaiError
from koubai.experiments import parse_spec
from koubai.io import load_mlp, save_mlp

#: Address space an example may add to what the process already maps.
HEADROOM = 1 << 30
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _mapped_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_bound() -> Iterator[None]:
    """Limit the address space to what is mapped now + HEADROOM (the soft limit, restored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    bound = _mapped_bytes() + HEADROOM
    if hard != resource.RLIM_INFINITY:
        bound = min(bound, hard)
    resource.setrlimit(resource.RLIMIT_AS, (bound, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOUBAI_MAX_MEMORY", "64MiB")


def only_koubai_errors(read: Callable[[], object]) -> None:
    """Run ``read`` under the memory bound: a result, or one of koubai's errors in one line."""
    try:
        with memory_bound():
            read()
    except KoubaiError as exc:
        assert "\n" not in str(exc) and str(exc)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with a few bytes replaced, some inserted or deleted, maybe truncated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            data[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _idx_bytes(compress: bool) -> bytes:
    array = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    raw = bytes([0, 0, 0x08, 3]) + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()
    return gzip.compress(raw, mtime=0) if compress else raw


IDX_PLAIN = _idx_bytes(False)
IDX_GZIP = _idx_bytes(True)


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


DATASET = _npz_bytes(
    x_train=np.arange(64, dtype=np.uint8).reshape(4, 4, 4),
    y_train=np.array([0, 1, 0, 1]),
    x_test=np.arange(32, dtype=np.uint8).reshape(2, 4, 4),
    y_test=np.array([1, 0]),
)
SPEC = """name = "fuzz"
[base]
hidden_sizes = [8, 4]
iterations = 5
optimizer = "momentum"
optimizer_args = { momentum = 0.5 }
[[group]]
name = "g"
[group.grid]
activation = ["sigmoid", "relu"]
"""


@pytest.fixture(scope="module")
def network_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = save_mlp(MLP(6, [5, 4], 3, batchnorm=True, seed=0), tmp_path_factory.mktemp("n") / "n")
    return path.read_bytes()


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), mutated(IDX_PLAIN), mutated(IDX_GZIP)))
def test_fuzz_idx_reader(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "f.idx"
    path.write_bytes(data)
    only_koubai_errors(lambda: read_idx(path))


def test_the_idx_seeds_are_valid(tmp_path: Path) -> None:
    """The fuzzed files start from real IDX files (the mutations matter, not the seeds)."""
    for raw in (IDX_PLAIN, IDX_GZIP):
        path = tmp_path / "ok.idx"
        path.write_bytes(raw)
        assert read_idx(path).shape == (3, 4, 5)
    assert read_idx(write_idx(tmp_path / "w.idx", np.zeros(3, np.uint8))).shape == (3,)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), mutated(DATASET)))
def test_fuzz_npz_dataset_loader(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    path.write_bytes(data)
    only_koubai_errors(lambda: datasets.load(path, normalize=False))


@FUZZ
@given(data=st.data())
def test_fuzz_network_loader(data: st.DataObject, network_bytes: bytes, tmp_path: Path) -> None:
    raw = data.draw(st.one_of(st.binary(max_size=200), mutated(network_bytes)))
    path = tmp_path / "n.npz"
    path.write_bytes(raw)
    only_koubai_errors(lambda: load_mlp(path))


def _text_mutation(draw_bytes: bytes) -> str:
    return draw_bytes.decode("utf-8", "replace")


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=200),
        mutated(SPEC.encode()).map(_text_mutation),
        st.just(SPEC).map(lambda s: s.replace("[8, 4]", "[100000000, 4]")),
    )
)
def test_fuzz_spec_parser(text: str) -> None:
    only_koubai_errors(lambda: parse_spec(text, source="fuzz.toml").resolve())


def test_the_seeds_are_valid(network_bytes: bytes, tmp_path: Path) -> None:
    (tmp_path / "d.npz").write_bytes(DATASET)
    assert datasets.load(tmp_path / "d.npz", normalize=False).n_classes == 2
    (tmp_path / "n.npz").write_bytes(network_bytes)
    assert load_mlp(tmp_path / "n.npz").config["hidden_sizes"] == [5, 4]
    assert len(parse_spec(SPEC).resolve()) == 2


def test_the_memory_bound_is_real() -> None:
    """What the bound is for: an allocation that trusted a declared size fails inside it."""
    with pytest.raises(MemoryError), memory_bound():
        np.ones(2 * HEADROOM, dtype=np.uint8)


def _zip_field_mutations(archive: bytes) -> Iterator[bytes]:
    """``archive`` with one zip header field changed: version needed, flags (encrypted,
    patched data) or compression method, in each local and central header."""
    fields = {b"PK\x03\x04": (4, 6, 8), b"PK\x01\x02": (6, 8, 10)}  # offsets after signature
    for signature, offsets in fields.items():
        start = archive.find(signature)
        while start != -1:
            for offset, value in itertools.product(offsets, (0x01, 0x20, 0x3F, 0x63, 0xFF)):
                data = bytearray(archive)
                data[start + offset] = value
                yield bytes(data)
            start = archive.find(signature, start + 1)


def test_zip_header_fields_give_koubai_errors(network_bytes: bytes, tmp_path: Path) -> None:
    """Found by exhaustive one-byte mutation: an "encrypted" member (RuntimeError), an unknown
    compression method or zip version (NotImplementedError) must be koubai errors too."""
    path = tmp_path / "z.npz"
    checked = 0
    for seed, read in (
        (DATASET, lambda: datasets.load(path)),
        (network_bytes, lambda: load_mlp(path)),
    ):
        for data in _zip_field_mutations(seed):
            path.write_bytes(data)
            only_koubai_errors(read)
            checked += 1
    assert checked > 100
