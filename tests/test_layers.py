"""Gradient checks of every layer: float64, batch >= 4, random upstream gradient and γ/β."""

import numpy as np
import pytest

from koubai.engine import (
    Affine,
    BatchNorm,
    Dropout,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    check_layer,
    numerical_gradient,
    relative_error,
)

TOL = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _input(rng, n=6, d=5):
    # Keep ReLU inputs away from the kink at 0, where the derivative is undefined.
    x = rng.standard_normal((n, d))
    return np.where(np.abs(x) < 0.05, 0.3, x)


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: Affine(5, 3, init="he", rng=rng),
        lambda rng: Sigmoid(),
        lambda rng: Tanh(),
        lambda rng: ReLU(),
        lambda rng: LeakyReLU(0.1),
    ],
    ids=["affine", "sigmoid", "tanh", "relu", "leaky_relu"],
)
def test_layer_gradients(make, rng):
    layer = make(rng)
    result = check_layer(layer, _input(rng), rng=rng)
    assert result.max_error <= TOL, str(result)
    assert "x" in result.errors


@pytest.mark.parametrize("convention", ["course", "torch", "keras"])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients_with_random_gamma_beta(convention, train, rng):
    bn = BatchNorm(5, convention=convention)
    bn.params["gamma"] = rng.uniform(0.5, 2.0, 5)
    bn.params["beta"] = rng.standard_normal(5)
    if not train:
        bn.state["running_mean"] = rng.standard_normal(5)
        bn.state["running_var"] = rng.uniform(0.5, 2.0, 5)
    x = rng.standard_normal((8, 5)) * 3 + 1
    result = check_layer(bn, x, train=train, rng=rng)
    assert result.max_error <= TOL, str(result)
    # The check is not vacuous: the input gradient is far from zero.
    assert np.abs(bn.backward(rng.standard_normal((8, 5)))).max() > 1e-3


def test_batchnorm_gradient_check_detects_a_wrong_backward(rng):
    class Broken(BatchNorm):
        def backward(self, dout):
            super().backward(dout)  # parameter gradients as usual ...
            return dout * self.params["gamma"] * self._inv_std  # ... but forgets the batch stats

    bn = Broken(4)
    bn.params["gamma"] = rng.uniform(0.5, 2.0, 4)
    result = check_layer(bn, rng.standard_normal((6, 4)), rng=rng)
    assert result.errors["x"] > 1e-2


def test_dropout_gradient_with_a_replayed_mask(rng):
    layer = Dropout(0.4)
    result = check_layer(
        layer,
        _input(rng),
        rng=rng,
        before_forward=lambda: setattr(layer, "rng", np.random.default_rng(7)),
    )
    assert result.max_error <= TOL, str(result)


def test_dropout_scales_kept_units_and_is_identity_at_inference(rng):
    layer = Dropout(0.5, rng=np.random.default_rng(0))
    x = np.ones((1000, 10))
    y = layer.forward(x, train=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.03
    assert layer.forward(x, train=False) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), ReLU(), LeakyReLU(), BatchNorm(5)])
def test_backward_leaves_its_argument_unchanged(layer, rng):
    layer.forward(_input(rng), train=True)
    dout = rng.standard_normal((6, 5))
    before = dout.copy()
    dx = layer.backward(dout)
    assert dx is not dout
    np.testing.assert_array_equal(dout, before)


def test_softmax_cross_entropy_gradient(rng):
    loss = SoftmaxCrossEntropy()
    z = rng.standard_normal((6, 4))
    for t in (rng.integers(0, 4, 6), np.eye(4)[rng.integers(0, 4, 6)]):
        loss.forward(z, t)
        analytic = loss.backward()
        numeric = numerical_gradient(lambda: loss.forward(z, t), z)  # noqa: B023
        assert relative_error(analytic, numeric) <= TOL


def test_batchnorm_training_output_is_standardized(rng):
    bn = BatchNorm(6)
    y = bn.forward(rng.standard_normal((256, 6)) * 5 + 3, train=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-4)


def test_batchnorm_running_statistics_follow_each_convention(rng):
    x = rng.standard_normal((10, 3)) * 2 + 1
    mu, var = x.mean(axis=0), x.var(axis=0)
    course = BatchNorm(3, convention="course")
    course.forward(x, train=True)
    np.testing.assert_allclose(course.state["running_mean"], 0.1 * mu)
    np.testing.assert_allclose(course.state["running_var"], 0.1 * var)
    torch_bn = BatchNorm(3, convention="torch")
    torch_bn.forward(x, train=True)
    np.testing.assert_allclose(torch_bn.state["running_var"], 0.9 + 0.1 * var * 10 / 9)
    keras = BatchNorm(3, convention="keras")
    keras.forward(x, train=True)
    np.testing.assert_allclose(keras.state["running_mean"], 0.01 * mu)
    np.testing.assert_allclose(keras.state["running_var"], 0.99 + 0.01 * var)
    assert (course.convention.eps, torch_bn.convention.eps, keras.convention.eps) == (
        1e-6,
        1e-5,
        1e-3,
    )


def test_batchnorm_rejects_bad_input():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match="at least 2"):
        bn.forward(np.ones((1, 3)), train=True)
    bn.forward(np.ones((1, 3)), train=False)  # one sample is fine at inference
    with pytest.raises(ValueError, match=r"2-D input \(N, D\), got shape \(3,\)"):
        bn.forward(np.ones(3), train=True)
    with pytest.raises(ValueError, match="unknown batch-norm convention 'pytorch'"):
        BatchNorm(3, convention="pytorch")


def test_affine_rejects_the_wrong_width(rng):
    with pytest.raises(ValueError, match=r"width 5, got shape \(2, 4\)"):
        Affine(5, 3, rng=rng).forward(np.ones((2, 4)), train=True)
