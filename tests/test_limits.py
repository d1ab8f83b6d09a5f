"""Names, limits and the checks that refuse before work: koubai.checks names, koubai.limits,
spec counting, optimizer arguments, the data-preparation options and the verified cache."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from koubai import datasets, limits
from koubai.checks import MAX_NAME_CHARS, check_name, safe_name
from koubai.cli import app
from koubai.datasets import Preparation
from koubai.datasets.idx import write_idx
from koubai.datasets.sources import SOURCES, IdxFile
from koubai.engine.optim import OPTIMIZERS, make_optimizer, optimizer_arguments
from koubai.errors import ConfigError, ResourceLimitError
from koubai.experiments import parse_spec

SHELL_SPECIAL = set(" \t\n[]*?{}~$!;&|<>'\"\\`#=%^()")


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vanishing", "実験", "relu-he-bn-40-20", "gauss0.1", "a+b@c_d"])
def test_safe_names_are_kept(name):
    assert check_name(name) == name
    assert safe_name(name) == name


def test_names_are_compared_in_one_unicode_form():
    decomposed = "\u30ab\u3099"  # カ + combining dakuten: ガ as macOS may spell it
    assert check_name(decomposed) == "\u30ac"


@given(st.text(max_size=300))
def test_safe_name_always_gives_a_name_check_name_accepts(text):
    name = safe_name(text)
    assert check_name(name) == name
    assert not (set(name) & SHELL_SPECIAL) and "/" not in name and ".." not in name
    assert len(name) <= MAX_NAME_CHARS and name[0] not in "-."


def test_safe_name_turns_the_old_bracket_label_into_the_new_one():
    assert safe_name("sigmoid-gauss-bn-[40,20]") == "sigmoid-gauss-bn-40-20"
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("") == "run" and safe_name("///", default="x") == "x"


# -- limits ----------------------------------------------------------------------------------


def test_sizes_are_read_and_written_in_human_units():
    assert limits.parse_bytes("4GiB") == 4 * 2**30
    assert limits.parse_bytes("500MB") == 500_000_000
    assert limits.parse_bytes(" 1.5 g ") == 1_500_000_000
    assert limits.format_bytes(4 * 2**30) == "4 GiB"
    assert limits.format_bytes(1536) == "1.5 KiB"
    assert limits.format_bytes(512) == "512 B"
    with pytest.raises(ValueError):
        limits.parse_bytes("lots")


def test_training_memory_counts_parameters_gradients_state_and_activations():
    # 2-3-2: (2+1)*3 + (3+1)*2 = 17 parameters; widths 2+3+2 = 7 per example.
    sgd = limits.training_memory(2, [3], 2, batch_size=10, dtype="float64")
    assert sgd == (17 * 2 + 10 * 3 * 7) * 8
    adam = limits.training_memory(2, [3], 2, batch_size=10, dtype="float64", optimizer="adam")
    assert adam - sgd == 17 * 2 * 8  # two state arrays more per parameter
    f32 = limits.training_memory(2, [3], 2, batch_size=10, dtype="float32")
    assert f32 * 2 == sgd


def test_memory_limit_follows_the_environment(monkeypatch):
    limits.check_training_memory(784, [1000, 1000], 10, batch_size=100)  # ~30 MiB: fine
    monkeypatch.setenv("KOUBAI_MAX_MEMORY", "1MiB")
    with pytest.raises(ResourceLimitError, match=r"784-1000-1000-10 .*; the limit is 1 MiB"):
        limits.check_training_memory(784, [1000, 1000], 10, batch_size=100)


def test_spec_counts_runs_before_expanding_the_grid():
    lists = ", ".join(["0.1"] * 1000)
    text = f'[[group]]\nname = "g"\n[group.grid]\nlr = [{lists}]\ninit_std = [{lists}]\n'
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="1,000,000 runs"):
        parse_spec(text)
    assert time.perf_counter() - start < 5  # counted, not built (building takes minutes)


def test_run_limit_can_be_raised_by_the_caller(monkeypatch):
    spec = parse_spec(
        '[base]\ninit = "gauss"\n[[group]]\nname = "g"\n[group.grid]\ninit_std = [0.1, 0.2, 0.3]\n'
    )
    monkeypatch.setenv("KOUBAI_MAX_RUNS", "5")
    with pytest.raises(ResourceLimitError, match="6 runs; the limit is 5"):
        spec.resolve(seeds=2)
    assert len(spec.resolve(seeds=2, max_runs=6)) == 6


def test_many_distinct_runs_resolve_with_unique_names():
    lists = ", ".join(str(0.001 * (i + 1)) for i in range(100))
    spec = parse_spec(f'[[group]]\nname = "g"\n[group.grid]\ninit_std = [{lists}]\n')
    runs = spec.resolve(seeds=3, overrides={"init": "gauss"})
    assert len(runs) == 300 and len({r.name for r in runs}) == 300
    assert all(check_name(r.name) == r.name for r in runs)


# -- optimizer arguments ---------------------------------------------------------------------


def test_optimizer_arguments_are_read_from_the_constructors():
    assert optimizer_arguments("adam") == ["beta1", "beta2", "eps"]
    assert optimizer_arguments("sgd") == []
    for name in OPTIMIZERS:  # every listed argument is accepted
        make_optimizer(name, 0.1, **{k: 0.5 for k in optimizer_arguments(name)})
    with pytest.raises(ConfigError, match=r"'rmsprop' takes no argument 'beta1'.*'alpha', 'eps'"):
        make_optimizer("rmsprop", 0.1, beta1=0.9)


# -- the data-preparation options ------------------------------------------------------------


def test_preparation_is_one_definition_that_the_keywords_still_reach(blobs_npz):
    by_keywords = datasets.load(blobs_npz, subsample=60, seed=3, dtype=np.float64)
    by_object = datasets.load(blobs_npz, prep=Preparation(subsample=60, seed=3, dtype="float64"))
    np.testing.assert_array_equal(by_keywords.x_train, by_object.x_train)
    assert by_object.x_train.dtype == np.float64 and by_object.n_train == 60
    mixed = datasets.load(blobs_npz, prep=Preparation(subsample=60), seed=3, dtype=np.float64)
    np.testing.assert_array_equal(mixed.x_train, by_object.x_train)  # keywords win over prep
    with pytest.raises(dataclasses.FrozenInstanceError):
        Preparation().seed = 1  # type: ignore[misc]


def test_preparation_checks_its_fields_once():
    assert Preparation(dtype="float64").dtype == np.dtype(np.float64)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        Preparation(seed=-1)
    with pytest.raises(ConfigError, match="normalize=False"):
        Preparation(dtype=np.uint8)
    assert Preparation(dtype=np.uint8, normalize=False).dtype == np.uint8
    with pytest.raises(ConfigError, match="subsample must be a whole number"):
        Preparation(subsample=2.5)
    with pytest.raises(ConfigError, match="unknown option 'flaten'"):
        Preparation.of(flaten=False)


# -- the verified dataset cache --------------------------------------------------------------


@pytest.fixture
def cached_fake_mnist(tmp_path, monkeypatch):
    """A cache folder holding MNIST-format files whose MD5s the "mnist" source publishes."""
    cache = tmp_path / "cache"
    folder = cache / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(20, dtype=np.uint8) % 10,
        "test_images": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(10, dtype=np.uint8) % 10,
    }
    real = SOURCES["mnist"]
    files = {}
    for role, f in real.files.items():
        path = write_idx(folder / f.fname, arrays[role])
        files[role] = IdxFile(f.fname, hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.setitem(SOURCES, "mnist", dataclasses.replace(real, files=files))
    monkeypatch.setenv("KOUBAI_DATA_DIR", str(cache))
    return folder


def test_a_corrupt_cached_file_is_not_called_cached(cached_fake_mnist):
    source = SOURCES["mnist"]
    assert source.available() and source.where().startswith("cached:")
    assert source.marker_path().is_file()  # the verification is remembered
    victim = cached_fake_mnist / source.files["test_labels"].fname
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF  # same size: only the checksum can tell
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    assert not source.available()
    assert "fails its MD5 check" in source.where()
    result = CliRunner().invoke(app, ["datasets"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("mnist:"))
    assert line.startswith("mnist: download:") and "MD5" in line


def test_an_unreadable_marker_just_means_checking_again(cached_fake_mnist):
    source = SOURCES["mnist"]
    source.marker_path().write_text("[[[ not json")
    assert source.available()  # verified by MD5 again, and remembered anew
    assert source.marker_path().read_text().startswith("{")
