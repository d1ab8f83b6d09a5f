"""The network says what is trainable; assigning a parameter copies into the existing array."""

import numpy as np
import pytest

from koubai.datasets import from_arrays
from koubai.engine import MLP, Momentum
from koubai.errors import ConfigError
from koubai.training import TrainConfig, train


def _batch(n=16, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


def test_trainable_hands_out_every_parameter_until_one_is_frozen():
    net = MLP(6, [5, 4], 3, batchnorm=True, dtype=np.float64)
    assert list(net.trainable().params) == list(net.params)
    net.freeze("layers.1.gamma", "layers.1.beta")
    names = list(net.trainable().params)
    assert "layers.1.gamma" not in names and "layers.1.beta" not in names
    assert "layers.4.gamma" in names and len(names) == len(net.params) - 2
    net.unfreeze("layers.1.gamma")
    assert "layers.1.gamma" in net.trainable().params


def test_trainable_arrays_are_the_networks_own_and_gradients_follow_each_backward():
    net = MLP(6, [5], 3, dtype=np.float64)
    trainable = net.trainable()
    assert all(trainable.params[k] is net.params[k] for k in trainable.params)
    x, t = _batch()
    net.forward_backward(x, t)
    first = trainable.grads()
    net.forward_backward(x[:8], t[:8])
    second = trainable.grads()
    assert all(second[k] is net.grads[k] for k in second)
    assert not np.allclose(first["layers.0.W"], second["layers.0.W"])


def test_bn_affine_trainable_false_freezes_gamma_and_beta_in_the_network():
    net = MLP(6, [5], 3, batchnorm=True, bn_affine_trainable=False)
    assert net.layers[1].frozen == {"gamma", "beta"}
    assert net.config["bn_affine_trainable"] is False
    assert net.copy().layers[1].frozen == {"gamma", "beta"}


def test_frozen_parameters_stay_put_through_training():
    x, t = _batch(n=200, d=6, k=3)
    data = from_arrays(x, t, x[:50], t[:50], name="toy", normalize=False)
    config = TrainConfig(hidden_sizes=(5,), batchnorm=True, iterations=30, batch_size=20)
    frozen = train(config.replace(bn_affine_trainable=False), data, evaluation="inline").net
    trained = train(config, data, evaluation="inline").net
    assert np.all(frozen.params["layers.1.gamma"] == 1) and np.all(
        frozen.params["layers.1.beta"] == 0
    )
    assert not np.all(trained.params["layers.1.gamma"] == 1)


def test_freezing_an_unknown_parameter_names_the_valid_ones():
    net = MLP(6, [5], 3)
    with pytest.raises(KeyError, match="no parameter 'layers.0.gamma'"):
        net.freeze("layers.0.gamma")
    with pytest.raises(ConfigError, match=r"has no parameter \['gamma'\]; it has \['W', 'b'\]"):
        net.layers[0].freeze("gamma")


def test_assigning_a_parameter_mid_training_keeps_the_optimizer_attached():
    net = MLP(6, [5], 3, dtype=np.float64, seed=1)
    trainable = net.trainable()
    opt = Momentum(lr=0.1, momentum=0.9)
    x, t = _batch()
    for _ in range(3):
        net.forward_backward(x, t)
        opt.step(trainable.params, trainable.grads())
    held = net.params["layers.0.W"]
    replacement = np.full(held.shape, 0.5)
    net.params["layers.0.W"] = replacement  # a copy into the array the optimizer holds
    assert net.params["layers.0.W"] is held and np.all(held == 0.5)
    assert replacement is not held
    net.forward_backward(x, t)
    grad = trainable.grads()["layers.0.W"].copy()
    velocity = opt.state["layers.0.W"]["v"].copy()
    opt.step(trainable.params, trainable.grads())
    expected = 0.5 - 0.1 * (0.9 * velocity + grad)
    np.testing.assert_allclose(net.params["layers.0.W"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "value,match",
    [
        (np.zeros((3, 3)), r"has shape \(6, 5\), got an array of shape \(3, 3\)"),
        (np.zeros((6, 5), dtype=complex), "holds float64, got an array of dtype complex128"),
        (np.full((6, 5), "x"), "holds float64, got an array of dtype <U1"),
    ],
)
def test_assignment_refuses_a_wrong_shape_or_dtype(value, match):
    net = MLP(6, [5], 3, dtype=np.float64)
    before = net.params["layers.0.W"].copy()
    with pytest.raises(ConfigError, match=match):
        net.params["layers.0.W"] = value
    np.testing.assert_array_equal(net.params["layers.0.W"], before)


def test_assignment_casts_within_a_kind_into_the_networks_dtype():
    net = MLP(6, [5], 3, dtype=np.float32)
    net.params["layers.0.b"] = np.arange(5, dtype=np.float64)
    assert net.params["layers.0.b"].dtype == np.float32
    np.testing.assert_array_equal(net.params["layers.0.b"], np.arange(5))
