"""The engine features the paper experiments need: sigmoid outputs with the binary
cross-entropy, biases from N(0, std²), the "standard" uniform initialization, the error signals
handed out by backward, sparsity in the probes, a class-balanced training subset and a fixed
probe set. Gradient checks here; the PyTorch cross-checks are in test_paper_torch.py."""

import math
import warnings

import numpy as np
import pytest

from koubai.engine import MLP, check_model
from koubai.engine.gradcheck import numerical_gradient, relative_error
from koubai.engine.init import expected_std, initialize
from koubai.engine.layers import SigmoidCrossEntropy, init_bias
from koubai.errors import ConfigError
from koubai.training import TrainConfig, train
from koubai.training.data import TrainingArrays, balanced_rows

TOL = 1e-6


def _batch(n=8, d=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


# -- the sigmoid + binary cross-entropy head -----------------------------------------------------


def test_bce_is_the_textbook_formula_worked_by_hand():
    # One sample, two outputs: z = (0, ln 3) so a = (1/2, 3/4); target (1, 0).
    # L = -[ln(1/2) + ln(1 - 3/4)] = ln 2 + ln 4 = ln 8
    loss = SigmoidCrossEntropy()
    value = loss.forward(np.array([[0.0, math.log(3.0)]]), np.array([0]))
    assert value == pytest.approx(math.log(8.0), rel=1e-12)
    # dL/dz = a - y = (1/2 - 1, 3/4 - 0)
    np.testing.assert_allclose(loss.backward(), [[-0.5, 0.75]], rtol=1e-12)


def test_bce_matches_the_naive_formula_and_its_gradient():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((7, 5)) * 3
    t = rng.integers(0, 5, 7)
    y = np.eye(5)[t]
    a = 1 / (1 + np.exp(-z))
    naive = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 7
    loss = SigmoidCrossEntropy()
    assert loss.forward(z, t) == pytest.approx(naive, rel=1e-12)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: SigmoidCrossEntropy().forward(z, t), z)
    assert relative_error(analytic, numeric) < TOL
    # one-hot float targets give the same loss as the labels
    assert SigmoidCrossEntropy().forward(z, y) == pytest.approx(naive, rel=1e-12)


def test_bce_is_stable_far_out():
    loss = SigmoidCrossEntropy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.forward(np.array([[1000.0, -1000.0]]), np.array([1]))
        grad = loss.backward()
    # target (0, 1): the cost is softplus(1000) + softplus(1000) = 2000 exactly
    assert value == pytest.approx(2000.0)
    np.testing.assert_allclose(grad, [[1.0, -1.0]])


@pytest.mark.parametrize("loss", ["softmax", "sigmoid_bce"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_whole_network_gradient_check_with_each_head_and_normal_biases(loss, activation):
    x, t = _batch()
    net = MLP(
        6,
        [5, 4],
        4,
        activation=activation,
        init="standard_uniform",
        bias_init="normal",
        loss=loss,
        dtype=np.float64,
        seed=2,
    )
    assert check_model(net, x, t).max_error < TOL


def test_the_head_changes_the_loss_not_the_predictions():
    x, t = _batch()
    soft = MLP(6, [5], 4, loss="softmax", dtype=np.float64, seed=3)
    bce = MLP(6, [5], 4, loss="sigmoid_bce", dtype=np.float64, seed=3)
    np.testing.assert_array_equal(soft.predict(x), bce.predict(x))
    assert soft.loss(x, t) != bce.loss(x, t)
    assert bce.accuracy(x, t) == soft.accuracy(x, t)


def test_the_head_survives_copy_and_state_dict():
    net = MLP(6, [5], 4, loss="sigmoid_bce", bias_init="normal", bias_std=0.5, seed=1)
    twin = MLP.from_state_dict(net.state_dict())
    assert type(twin.loss_layer).__name__ == "SigmoidCrossEntropy"
    assert twin.config["bias_std"] == 0.5
    assert type(net.copy().loss_layer) is type(net.loss_layer)
    assert "SigmoidCrossEntropy" in repr(net)


# -- bias and weight initializers -----------------------------------------------------------------


def test_normal_biases_have_the_asked_std_and_zeros_draw_nothing():
    b = init_bias("normal", np.random.default_rng(0), 20_000, std=1.0)
    assert abs(b.std() - 1.0) < 0.02 and abs(b.mean()) < 0.03
    assert init_bias("normal", np.random.default_rng(0), 5, std=0.0).tolist() == [0.0] * 5
    # zero biases leave the generator alone: the weights are those of before this option
    a = MLP(6, [5, 4], 3, seed=4)
    b_net = MLP(6, [5, 4], 3, seed=4, bias_init="zeros")
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b_net.params[k])
    n = MLP(6, [5, 4], 3, seed=4, bias_init="normal")
    np.testing.assert_array_equal(n.params["layers.0.W"], a.params["layers.0.W"])
    assert np.all(n.params["layers.0.b"] != 0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"bias_init": "ones"}, "bias_init 'ones'"),
        ({"bias_std": -1.0}, "bias_std"),
        ({"loss": "mse"}, "loss 'mse'"),
        ({"init": "standard"}, "standard_uniform"),
    ],
)
def test_bad_choices_are_one_line_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MLP(6, [5], 3, **kwargs)
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_standard_uniform_is_glorot_and_bengios_standard_heuristic():
    W = initialize("standard_uniform", np.random.default_rng(0), 400, 300)
    bound = 1 / math.sqrt(400)  # U[-1/sqrt(n), 1/sqrt(n)], n = fan_in
    assert W.max() <= bound and W.min() >= -bound and W.max() > 0.99 * bound
    # variance 1/(3n): a third of what keeps the variance (n Var(W) = 1/3)
    assert expected_std("standard_uniform", 400, 300) == pytest.approx(math.sqrt(1 / 1200))
    assert abs(W.var() * 400 - 1 / 3) < 0.01


def test_standard_init_shrinks_a_tanh_nets_signal_by_a_third_per_layer():
    net = MLP(200, [200] * 5, 10, activation="tanh", init="standard_uniform", seed=0)
    x = np.random.default_rng(0).standard_normal((500, 200)) * 0.1
    trace = []
    net.predict(x, trace=trace)
    var = np.array([trace[i].var() for i in range(1, 10, 2)])  # the tanh outputs
    per_layer = np.exp(np.mean(np.diff(np.log(var))))
    assert 0.28 < per_layer < 0.38


# -- error signals, sparsity, subsets -------------------------------------------------------------


def test_backward_hands_out_each_layers_error_signal():
    x, t = _batch()
    net = MLP(6, [5, 4], 4, activation="tanh", dtype=np.float64, seed=5)
    grads = []
    net.forward_backward(x, t, grad_trace=grads)
    assert len(grads) == len(net.layers)
    # the signal reaching the last affine layer is dL/dlogits; its bias gradient is its sum
    np.testing.assert_allclose(grads[-1].sum(axis=0), net.grads["layers.4.b"], rtol=1e-12)
    # the signal into tanh's input (grads[0]) is dL/d(first affine output): its bias gradient
    np.testing.assert_allclose(grads[0].sum(axis=0), net.grads["layers.0.b"], rtol=1e-12)


def test_probes_record_sparsity_and_gradient_spread(blobs):
    relu = train(
        TrainConfig(
            hidden_sizes=(16, 8), activation="relu", init="he", iterations=20, diagnostics_every=10
        ),
        blobs,
    )
    tanh = train(
        TrainConfig(hidden_sizes=(16, 8), activation="tanh", iterations=20, diagnostics_every=10),
        blobs,
    )
    r, t = relu.diagnostics.arrays(), tanh.diagnostics.arrays()
    assert r["zero_share"].shape == (3, 2) and r["never_active"].shape == (3, 2)
    assert np.all(r["zero_share"] > 0.1) and np.all(t["zero_share"] == 0)
    assert np.all(r["never_active"] <= r["zero_share"] + 1e-12)
    assert np.all(np.isfinite(t["delta_std"])) and np.all(t["delta_std"] > 0)


def test_train_size_takes_the_same_number_from_each_class_even_when_sorted():
    labels = np.repeat(np.arange(4), [50, 30, 40, 60])  # sorted by class, unequal
    rows = balanced_rows(labels, 40, 4)
    assert np.bincount(labels[rows], minlength=4).tolist() == [10, 10, 10, 10]
    assert np.bincount(labels[balanced_rows(labels, 42, 4)]).tolist() == [11, 11, 10, 10]
    with pytest.raises(ConfigError, match="need 40 of class 1; the data have 30"):
        balanced_rows(labels, 160, 4)


def test_a_fixed_probe_set_is_measured_without_touching_the_training(blobs):
    base = TrainConfig(
        hidden_sizes=(8,),
        iterations=30,
        diagnostics_every=10,
        batchnorm=True,
        batch_size=10,
        train_size=90,
    )
    arrays = TrainingArrays.from_data(blobs, base.replace(probe_samples=30))
    assert arrays.x_train.shape[0] == 90 and arrays.x_probe.shape[0] == 30
    plain = train(base, blobs, evaluation="inline")
    probed = train(base.replace(probe_samples=30), blobs, evaluation="inline")
    unseen = train(base.replace(diagnostics_every=0), blobs, evaluation="inline")
    # the same training: looking changes no parameter and no running statistic
    for k in plain.net.buffers:
        np.testing.assert_array_equal(plain.net.buffers[k], unseen.net.buffers[k])
    for k in plain.net.params:
        np.testing.assert_array_equal(plain.net.params[k], probed.net.params[k])
    for k in plain.net.buffers:
        np.testing.assert_array_equal(plain.net.buffers[k], probed.net.buffers[k])
    # ... but what it records differs: a pass over 30 fixed samples, not the batch of 10
    assert not np.array_equal(
        plain.diagnostics.arrays()["bias_grad_norm"], probed.diagnostics.arrays()["bias_grad_norm"]
    )
    with pytest.raises(ConfigError, match="probe_samples 999 exceeds"):
        train(base.replace(probe_samples=999), blobs)


def test_labels_say_what_is_not_the_default():
    c = TrainConfig(bias_init="normal", loss="sigmoid_bce", hidden_sizes=(30, 30))
    assert c.label == "sigmoid-xavier-bias1-sigmoidbce-30x30"
    assert TrainConfig().label == "sigmoid-xavier-40x20"
