"""Shared fixtures: small datasets the tests make themselves."""

import numpy as np
import pytest

from koubai.datasets import from_arrays


def make_blobs(n_train=300, n_test=100, n_features=16, n_classes=3, seed=0):
    """Well-separated Gaussian clusters in [0, 1]: a network learns them in a few steps."""
    rng = np.random.default_rng(seed)
    centers = rng.random((n_classes, n_features))
    y_train = rng.integers(0, n_classes, n_train)
    y_test = rng.integers(0, n_classes, n_test)
    x_train = np.clip(centers[y_train] + 0.05 * rng.standard_normal((n_train, n_features)), 0, 1)
    x_test = np.clip(centers[y_test] + 0.05 * rng.standard_normal((n_test, n_features)), 0, 1)
    return x_train, y_train, x_test, y_test


@pytest.fixture
def blobs():
    """A tiny synthetic :class:`koubai.datasets.Dataset` (16 features, 3 classes)."""
    return from_arrays(*make_blobs(), name="blobs", source="tests")


@pytest.fixture
def blobs_npz(tmp_path):
    """The same data as an .npz file, as a user would hand it to ``--dataset``."""
    x_train, y_train, x_test, y_test = make_blobs()
    path = tmp_path / "blobs.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture(autouse=True)
def private_run_store(tmp_path_factory, monkeypatch):
    """Every test indexes its runs in a store of its own, never in the user's."""
    monkeypatch.setenv("KOUBAI_HOME", str(tmp_path_factory.mktemp("koubai-home")))
