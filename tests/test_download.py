"""Downloads against a local HTTP server: checksums, cache, mirrors, failures, and "auto".

No test touches the internet: the MNIST source is pointed at a server on 127.0.0.1 that serves
small IDX files generated here, with the expected MD5s replaced by theirs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from koubai import datasets
from koubai.datasets import _download
from koubai.datasets.idx import write_idx
from koubai.datasets.sources import SOURCES, IdxFile
from koubai.errors import ConfigError, DownloadError

rng = np.random.default_rng(0)
N_TRAIN, N_TEST = 40, 20


class FileServer:
    """Serves ``root`` under any prefix: ``/good/F`` gives the file, ``/missing/F`` a 404,
    ``/corrupt/F`` the file with its first data byte changed. Counts requests per path."""

    def __init__(self, root: Path):
        self.root = root
        self.counts: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                owner.counts[self.path] += 1
                prefix, _, fname = self.path.lstrip("/").partition("/")
                path = owner.root / fname
                if prefix == "missing" or not fname or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if prefix == "corrupt":
                    body = body[:20] + bytes([body[20] ^ 0xFF]) + body[21:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def requests_for(self, prefix: str) -> int:
        return sum(n for path, n in self.counts.items() if path.startswith(f"/{prefix}/"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Small MNIST-format files on a local server, registered as the "mnist" source."""
    served = tmp_path / "served"
    served.mkdir()
    arrays = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(N_TRAIN, dtype=np.uint8) % 10,
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(N_TEST, dtype=np.uint8) % 10,
    }
    real = SOURCES["mnist"]
    files = {}
    for role, f in real.files.items():
        path = write_idx(served / f.fname, arrays[role])
        files[role] = IdxFile(f.fname, _md5(path))
    monkeypatch.setitem(SOURCES, "mnist", dataclasses.replace(real, files=files))
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KOUBAI_MNIST_MIRRORS", raising=False)
    server = FileServer(served)
    yield server, arrays, tmp_path / "cache" / "mnist"
    server.close()


def _cached_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_caches(fake_mnist):
    server, arrays, cache = fake_mnist
    ds = datasets.load("mnist", mirrors=[server.url("good")])
    assert ds.name == "mnist"
    assert ds.x_train.shape == (N_TRAIN, 784) and ds.x_test.shape == (N_TEST, 784)
    np.testing.assert_allclose(ds.x_train, arrays["train_images"].reshape(N_TRAIN, -1) / 255)
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert str(cache) in ds.source
    assert len(_cached_files(cache)) == 4
    assert server.requests_for("good") == 4


def test_second_load_reads_the_cache_without_network(fake_mnist):
    server, arrays, cache = fake_mnist
    datasets.load("mnist", mirrors=[server.url("good")])
    assert server.requests_for("good") == 4
    again = datasets.load("mnist", mirrors=[server.url("good")])
    assert server.requests_for("good") == 4  # no new request
    offline = datasets.load("mnist", mirrors=[_closed_port_url()])  # works with no server at all
    np.testing.assert_array_equal(again.x_train, offline.x_train)
    assert datasets.available("mnist")


def test_wrong_checksum_is_a_clear_error_and_leaves_no_file(fake_mnist, monkeypatch):
    server, _, cache = fake_mnist
    source = SOURCES["mnist"]
    files = dict(source.files)
    files["train_images"] = IdxFile(files["train_images"].fname, "0" * 32)
    monkeypatch.setitem(SOURCES, "mnist", dataclasses.replace(source, files=files))
    with pytest.raises(DownloadError) as info:
        datasets.load("mnist", mirrors=[server.url("good")])
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "checksum mismatch" in message and server.url("good") in message
    assert "mnist-5k" in message and "\n" not in message
    assert "offline?" not in message  # the mirror answered: the network is not the problem
    assert _cached_files(cache) == []  # no partial or temporary file left behind


def test_corrupt_first_mirror_falls_back_to_the_second(fake_mnist):
    server, arrays, cache = fake_mnist
    ds = datasets.load("mnist", mirrors=[server.url("corrupt"), server.url("good")])
    np.testing.assert_array_equal(ds.y_train, arrays["train_labels"])
    assert server.requests_for("corrupt") == 4 and server.requests_for("good") == 4
    assert _cached_files(cache) == sorted(f.fname for f in SOURCES["mnist"].files.values())


def test_first_mirror_404_then_second_mirror(fake_mnist):
    server, _, cache = fake_mnist
    paths = datasets.fetch("mnist", mirrors=[server.url("missing"), server.url("good")])
    assert set(paths) == {"train_images", "train_labels", "test_images", "test_labels"}
    assert all(p.parent == cache and p.is_file() for p in paths.values())
    assert server.requests_for("missing") == 4 and server.requests_for("good") == 4


def test_mirrors_from_the_environment(fake_mnist, monkeypatch):
    server, _, _ = fake_mnist
    monkeypatch.setenv("KOUBAI_MNIST_MIRRORS", f"{server.url('missing')},{server.url('good')}")
    datasets.fetch("mnist")
    assert server.requests_for("good") == 4


def test_every_mirror_404_names_file_and_mirrors(fake_mnist):
    server, _, cache = fake_mnist
    with pytest.raises(DownloadError, match=r"'train-images-idx3-ubyte\.gz'.*HTTP 404") as info:
        datasets.fetch("mnist", mirrors=[server.url("missing")])
    assert server.url("missing") in str(info.value)
    assert "offline?" not in str(info.value)  # a server answered 404: we are online
    assert _cached_files(cache) == []


def test_server_down_fails_fast_and_clearly(fake_mnist):
    _, _, cache = fake_mnist
    mirrors = [_closed_port_url(), _closed_port_url()]
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        datasets.load("mnist", mirrors=mirrors)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert all(m in message for m in mirrors)
    assert "cannot connect" in message and "mnist-5k" in message and "offline?" in message
    assert _cached_files(cache) == []


def test_corrupt_cached_file_is_replaced(fake_mnist):
    server, arrays, cache = fake_mnist
    paths = datasets.fetch("mnist", mirrors=[server.url("good")])
    paths["test_labels"].write_bytes(b"garbage")
    ds = datasets.load("mnist", mirrors=[server.url("good")])
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert server.counts[f"/good/{paths['test_labels'].name}"] == 2


def test_auto_offline_falls_back_to_mnist_5k_quickly(fake_mnist):
    start = time.perf_counter()
    ds = datasets.load("auto", mirrors=[_closed_port_url()])
    assert time.perf_counter() - start < 5
    assert ds.name == "mnist-5k"
    assert ds.x_train.shape == (4000, 784)


def test_auto_downloads_mnist_when_a_mirror_answers(fake_mnist):
    server, _, _ = fake_mnist
    assert datasets.default_dataset_name(download=False) == "mnist-5k"
    ds = datasets.load("auto", mirrors=[server.url("good")])
    assert ds.name == "mnist" and ds.n_train == N_TRAIN
    assert datasets.default_dataset_name(mirrors=[_closed_port_url()]) == "mnist"  # now cached


def test_auto_falls_back_when_the_download_fails(fake_mnist):
    server, _, _ = fake_mnist
    ds = datasets.load("auto", mirrors=[server.url("missing")])
    assert ds.name == "mnist-5k"
    assert server.requests_for("missing") == 1  # tried, failed on the first file, fell back


def test_reachable_probe(fake_mnist):
    server, _, _ = fake_mnist
    assert _download.reachable([server.url("good")], timeout=2)
    start = time.perf_counter()
    assert not _download.reachable([_closed_port_url(), "http://nonexistent.invalid/"], timeout=2)
    assert time.perf_counter() - start < 2.5
    assert not _download.reachable([], timeout=2)


def test_reachable_answers_within_its_timeout_when_connecting_hangs(monkeypatch):
    """A machine whose DNS or firewall swallows packets must not stall load("auto")."""

    def hang(*args, **kwargs):
        time.sleep(1.5)
        raise OSError("timed out")

    monkeypatch.setattr(_download.socket, "create_connection", hang)
    start = time.perf_counter()
    assert not _download.reachable(["https://ossci-datasets.s3.amazonaws.com/"], timeout=0.3)
    assert time.perf_counter() - start < 1.0


def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path / "here"))
    assert datasets.data_dir() == (tmp_path / "here").resolve()
    monkeypatch.delenv("KOUBAI_DATA_DIR")
    assert datasets.data_dir().name == "koubai"


def test_bad_mirror_url_is_a_config_error(fake_mnist):
    with pytest.raises(ConfigError, match=r"mirror 'file:///tmp/' is not an http"):
        datasets.fetch("mnist", mirrors=["file:///tmp/"])
    with pytest.raises(ConfigError, match=r"takes no option 'mirror'.*\['mirrors', 'timeout'\]"):
        datasets.fetch("mnist", mirror="http://127.0.0.1/")
