"""Diagnostics: recorded values match independent computations, and show the vanishing
gradient where it is."""

import numpy as np
import pytest

from koubai.engine import MLP, SGD, numerical_gradient
from koubai.engine.functions import sigmoid
from koubai.training import TrainConfig, train
from koubai.training.probes import PERCENTILES, Diagnostics, load_diagnostics


def _record(net, x, t):
    diag = Diagnostics(net)
    trace = []
    net.forward_backward(x, t, trace=trace)
    diag.record(0, net, trace)
    return diag.arrays()


def test_recorded_norms_match_an_independent_computation():
    rng = np.random.default_rng(0)
    net = MLP(6, [5, 4], 3, activation="sigmoid", init="xavier", dtype=np.float64)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    d = _record(net, x, t)
    # Gradient norms by central differences: no back-propagation involved.
    for col, i in enumerate(net.affine_indices):
        for key, name in (("weight_grad_norm", "W"), ("bias_grad_norm", "b")):
            numeric = numerical_gradient(lambda: net.loss(x, t), net.params[f"layers.{i}.{name}"])
            assert d[key][0, col] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)
    # Activation statistics by a hand-written forward pass.
    W1, b1 = net.params["layers.0.W"], net.params["layers.0.b"]
    W2, b2 = net.params["layers.2.W"], net.params["layers.2.b"]
    z1 = x @ W1 + b1
    a1 = sigmoid(z1)
    a2 = sigmoid(a1 @ W2 + b2)
    assert d["act_mean"][0, 0] == pytest.approx(a1.mean())
    assert d["act_std"][0, 1] == pytest.approx(a2.std())
    np.testing.assert_allclose(d["pre_pct"][0, 0], np.percentile(z1, PERCENTILES))
    assert d["act_hist"][0, 0].sum() == a1.size
    assert d["saturated"][0, 0] == pytest.approx(np.mean(np.abs(a1 - 0.5) > 0.49))


def test_update_ratio_is_the_step_over_the_weight():
    rng = np.random.default_rng(1)
    net = MLP(6, [5], 3, dtype=np.float64)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    diag = Diagnostics(net)
    grads = net.gradient(x, t)
    before = {k: v.copy() for k, v in net.params.items()}
    SGD(0.1).step(net.params, grads)
    diag.record_update(1, net, before)
    expected = 0.1 * np.linalg.norm(grads["layers.0.W"]) / np.linalg.norm(before["layers.0.W"])
    assert diag.arrays()["update_ratio"][0, 0] == pytest.approx(expected)


def test_dead_relu_share():
    net = MLP(6, [5], 3, activation="relu", init="he", dtype=np.float64)
    net.params["layers.0.b"] = np.array([-100.0, -100.0, 0.0, 0.0, 0.0])  # two units never fire
    rng = np.random.default_rng(2)
    d = _record(net, rng.standard_normal((16, 6)), rng.integers(0, 3, 16))
    assert d["dead"][0, 0] == pytest.approx(2 / 5)
    assert np.isnan(d["saturated"][0, 0])


@pytest.mark.parametrize(
    "activation,init,check",
    [
        ("sigmoid", "gauss", lambda first, last: first * 1000 < last),
        ("relu", "he", lambda first, last: first * 10 > last),
    ],
)
def test_first_layer_gradient_during_training(blobs, activation, init, check):
    config = TrainConfig(
        hidden_sizes=(30,) * 5,
        activation=activation,
        init=init,
        iterations=20,
        batch_size=20,
        diagnostics_every=10,
    )
    result = train(config, blobs)
    d = result.diagnostics.arrays()
    assert list(d["iterations"]) == [0, 10, 20]
    assert list(d["update_iterations"]) == [10, 20]
    norms = d["weight_grad_norm"][0]
    assert norms.shape == (6,)
    assert check(norms[0], norms[-1]), norms


def test_batchnorm_keeps_the_nonlinearity_inputs_in_place(blobs):
    runs = {}
    for bn in (False, True):
        config = TrainConfig(
            hidden_sizes=(20, 20),
            activation="sigmoid",
            init="gauss",
            init_std=1.0,
            batchnorm=bn,
            iterations=10,
            batch_size=50,
            diagnostics_every=10,
        )
        runs[bn] = train(config, blobs).diagnostics.arrays()
    # With batch norm every hidden layer's input to the sigmoid has std ~1 (gamma = 1 at start).
    assert np.allclose(runs[True]["pre_std"][0], 1.0, atol=0.05)
    assert runs[False]["saturated"][0].max() > runs[True]["saturated"][0].max()


def test_diagnostics_file_loads_without_pickle(tmp_path, blobs):
    config = TrainConfig(hidden_sizes=(8,), iterations=20, batch_size=20, diagnostics_every=5)
    diag = train(config, blobs).diagnostics
    path = tmp_path / "d.npz"
    np.savez(path, **diag.arrays())
    loaded = load_diagnostics(path)
    assert loaded["meta"]["activation"] == "sigmoid"
    np.testing.assert_array_equal(loaded["weight_grad_norm"], diag.arrays()["weight_grad_norm"])


def test_diagnostics_are_off_by_default_in_the_engine(blobs):
    assert (
        train(TrainConfig(hidden_sizes=(8,), iterations=5, batch_size=20), blobs).diagnostics
        is None
    )


# -- summaries(): the statistics of every record, shared with koubai.torch.Monitor ----------------
def _reference(values, lo, hi):
    """The statistics by NumPy's own functions, NaNs left out."""
    v = values[~np.isnan(values)]
    edges = np.linspace(lo, hi, 51)
    hist = np.histogram(np.clip(v, lo, hi), edges)[0]
    return v.mean(), v.std(), np.percentile(v, PERCENTILES), hist


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summaries_match_numpy_for_arrays_of_several_sizes_and_ranges(dtype):
    from koubai.training.probes import summaries

    rng = np.random.default_rng(3)
    arrays = [
        rng.normal(0, 3, (100, 40)).astype(dtype),
        rng.uniform(size=(7, 3)).astype(dtype),
        np.array([np.nan, 0.5, -20.0, 20.0, np.nan], dtype=dtype),  # NaNs left out, ends clipped
    ]
    ranges = [(-8.0, 8.0), (0.0, 1.0), (-1.0, 1.0)]
    s = summaries(arrays, ranges, [None, (0.1, 0.9), (-1.0, 1.0)])
    for k, (values, (lo, hi)) in enumerate(zip(arrays, ranges, strict=True)):
        mean, std, pct, hist = _reference(values.astype(np.float64).ravel(), lo, hi)
        assert s.mean[k] == pytest.approx(mean, rel=1e-5)
        assert s.std[k] == pytest.approx(std, rel=1e-4)
        np.testing.assert_allclose(s.pct[k], pct, rtol=1e-5)
        np.testing.assert_array_equal(s.hist[k], hist)
    assert np.isnan(s.outside[0])
    assert s.outside[1] == pytest.approx(np.mean((arrays[1] < 0.1) | (arrays[1] > 0.9)))
    assert s.outside[2] == pytest.approx(2 / 3)  # -20 and 20 of the three finite values


def test_summaries_of_empty_and_all_nan_arrays_are_nan_with_an_empty_histogram():
    from koubai.training.probes import summaries

    s = summaries([np.zeros(0), np.full(4, np.nan), np.array([np.inf, 1.0])], [(0.0, 1.0)] * 3)
    assert np.isnan(s.mean[:2]).all() and np.isnan(s.pct[:2]).all()
    assert s.hist[:2].sum() == 0
    assert s.hist[2].sum() == 2 and s.hist[2, -1] == 2  # +inf and 1.0 count in the last bin
    assert s.mean[2] == np.inf


def test_long_layer_names_are_shortened_and_stay_distinct():
    from koubai.report.diagnostics import NAME_LIMIT, short_names

    dotted = ["encoder.layers.11.attention.output.dense", "head"]
    assert short_names(dotted) == ["encoder.lay…output.dense", "head"]
    alike = [f"model.encoder.block_{k}.attention.output.dense" for k in range(3)]
    labels = short_names(alike)
    assert len(set(labels)) == 3 and labels[0].startswith("1: ")
    assert all(len(label) <= NAME_LIMIT + 3 for label in labels)
