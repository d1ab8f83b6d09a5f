import warnings

import numpy as np
import pytest

from koubai.engine import functions as F


def test_sigmoid_is_stable_at_large_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid(x)
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_dtype_and_matches_formula(dtype):
    x = np.random.default_rng(0).standard_normal(100).astype(dtype) * 5
    y = F.sigmoid(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)


def test_sigmoid_derivative_peaks_at_a_quarter():
    x = np.linspace(-10, 10, 20001)
    d = F.sigmoid_grad(x)
    assert d.max() == pytest.approx(0.25, abs=1e-12)
    assert x[np.argmax(d)] == pytest.approx(0.0, abs=1e-9)


def test_softmax_rows_sum_to_one_even_for_huge_logits():
    z = np.random.default_rng(0).standard_normal((5, 7)) * 1000
    p = F.softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all(np.isfinite(F.log_softmax(z)))


def test_cross_entropy_integer_and_one_hot_agree():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    onehot = np.eye(4)[t]
    expected = -np.mean(np.log(F.softmax(z)[np.arange(6), t]))
    assert F.cross_entropy(z, t) == pytest.approx(expected, rel=1e-12)
    assert F.cross_entropy(z, onehot) == pytest.approx(expected, rel=1e-12)


def test_leaky_relu_and_relu():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(F.relu(x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1), [-0.2, 0.0, 3.0])


@pytest.mark.parametrize("labels", [np.array([0, 4]), np.array([-1, 0])])
def test_labels_out_of_range_are_rejected(labels):
    with pytest.raises(ValueError, match="out of range"):
        F.labels_to_indices(labels, 4)


def test_label_shape_errors():
    with pytest.raises(ValueError, match="columns"):
        F.labels_to_indices(np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="shape"):
        F.labels_to_indices(np.zeros((2, 3, 1)), 4)
