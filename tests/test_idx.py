"""The IDX reader and writer: round trips, and clear errors for every kind of broken file."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from koubai.datasets.idx import read_idx, read_idx_pair, write_idx
from koubai.errors import ConfigError, DatasetError

rng = np.random.default_rng(0)


def _random_array(dtype, shape) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _raw_idx(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (4, 6, 2)])
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, dtype, shape, compress):
    array = _random_array(dtype, shape)
    path = write_idx(tmp_path / "a.idx", array, gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") is compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_written_file_is_big_endian_idx(tmp_path):
    """The bytes follow the published layout: magic 00 00 0C 02, sizes, big-endian int32 data."""
    path = write_idx(tmp_path / "x.idx", np.array([[1, 2], [3, 258]], dtype=np.int32), gzip=False)
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x02"
    assert struct.unpack(">II", raw[4:12]) == (2, 2)
    assert struct.unpack(">4i", raw[12:]) == (1, 2, 3, 258)


def test_reads_a_handmade_mnist_like_file(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    (tmp_path / "i.gz").write_bytes(gzip.compress(_raw_idx(0x08, (2, 3, 3), images.tobytes())))
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz"), images)


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(tmp_path_factory, array, compress):
    path = write_idx(tmp_path_factory.mktemp("idx") / "p.idx", array, gzip=compress)
    back = read_idx(path)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)  # NaNs compare equal here


def _expect_error(path, *fragments):
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_bad_magic_number(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 3) + b"abc")
    _expect_error(path, "magic", "01000801")


def test_unknown_type_code(tmp_path):
    path = tmp_path / "code.idx"
    path.write_bytes(_raw_idx(0x0A, (3,), b"abc"))
    _expect_error(path, "0x0A", "0x08")


def test_zero_dimensions(tmp_path):
    path = tmp_path / "zero.idx"
    path.write_bytes(b"\x00\x00\x08\x00")
    _expect_error(path, "0 dimensions")


def test_header_shorter_than_its_dimension_count(tmp_path):
    path = tmp_path / "dims.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 2))  # says 3 dims, gives 1
    _expect_error(path, "truncated IDX header", "3 dimensions")


def test_file_shorter_than_a_header(tmp_path):
    path = tmp_path / "tiny.idx"
    path.write_bytes(b"\x00\x00")
    _expect_error(path, "shorter than the header")


def test_truncated_data(tmp_path):
    path = write_idx(tmp_path / "t.idx.gz", _random_array(np.uint8, (10, 4, 4)))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-5]))
    _expect_error(path, "truncated IDX data", "(10, 4, 4)", "160", "155")


def test_trailing_garbage(tmp_path):
    path = write_idx(tmp_path / "g.idx", _random_array(np.int32, (3,)), gzip=False)
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    _expect_error(path, "2 unexpected trailing bytes")


def test_truncated_gzip_stream(tmp_path):
    path = write_idx(tmp_path / "z.gz", _random_array(np.uint8, (50, 8, 8)))
    path.write_bytes(path.read_bytes()[:-30])
    _expect_error(path, "gzip")


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nowhere.gz", "not found")


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ConfigError, match=r"int64.*uint8"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ConfigError, match=r"1 to 255 dimensions"):
        write_idx(tmp_path / "x.idx", np.array(5, dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_pair_round_trip(tmp_path):
    images = _random_array(np.uint8, (6, 28, 28))
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    x, y = read_idx_pair(write_idx(tmp_path / "i.gz", images), write_idx(tmp_path / "l.gz", labels))
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_pair_count_mismatch_names_both_files(tmp_path):
    images = write_idx(tmp_path / "imgs.gz", _random_array(np.uint8, (6, 28, 28)))
    labels = write_idx(tmp_path / "labs.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(DatasetError) as info:
        read_idx_pair(images, labels)
    message = str(info.value)
    assert "mismatch" in message and "6 images" in message and "5 labels" in message
    assert str(images) in message and str(labels) in message


def test_pair_wrong_dimension_count(tmp_path):
    flat = write_idx(tmp_path / "flat.gz", _random_array(np.uint8, (6, 784)))
    labels = write_idx(tmp_path / "labs.gz", np.zeros(6, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"flat\.gz.*\(N, H, W\)"):
        read_idx_pair(flat, labels)
    images = write_idx(tmp_path / "imgs.gz", _random_array(np.uint8, (6, 28, 28)))
    with pytest.raises(DatasetError, match=r"imgs\.gz.*\(N,\)"):
        read_idx_pair(images, images)


def test_pair_wrong_element_type(tmp_path):
    images = write_idx(tmp_path / "f.gz", _random_array(np.float32, (6, 28, 28)))
    labels = write_idx(tmp_path / "l.gz", np.zeros(6, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"f\.gz: expected uint8 data, got float32"):
        read_idx_pair(images, labels)
