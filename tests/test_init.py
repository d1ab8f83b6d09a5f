import math

import numpy as np
import pytest

from koubai.engine.init import INITIALIZERS, expected_std, initialize


@pytest.mark.parametrize("name", sorted(set(INITIALIZERS) - {"zeros"}))
def test_initializer_std_matches_its_formula(name):
    W = initialize(name, np.random.default_rng(0), 1000, 1000, std=0.01)
    target = expected_std(name, 1000, 1000, std=0.01)
    assert W.shape == (1000, 1000)
    assert abs(W.std() / target - 1) < 0.02
    assert abs(W.mean()) < 0.01 * target * 10


def test_fan_in_and_fan_out_matter_where_they_should():
    rng = np.random.default_rng(0)
    # The course's "xavier" depends on fan_in only; Glorot's on both.
    x = initialize("xavier", rng, 400, 100)
    g = initialize("glorot_normal", rng, 400, 100)
    assert abs(x.std() - math.sqrt(1 / 400)) / math.sqrt(1 / 400) < 0.02
    assert abs(g.std() - math.sqrt(2 / 500)) / math.sqrt(2 / 500) < 0.02
    he = initialize("he", rng, 400, 100)
    assert abs(he.std() / x.std() - math.sqrt(2)) < 0.05


@pytest.mark.parametrize(
    "name,limit",
    [
        ("he_uniform", math.sqrt(6 / 300)),
        ("glorot_uniform", math.sqrt(6 / 500)),
        ("lecun_uniform", math.sqrt(3 / 300)),
    ],
)
def test_uniform_initializers_stay_in_their_bounds(name, limit):
    W = initialize(name, np.random.default_rng(1), 300, 200)
    assert W.max() <= limit and W.min() >= -limit
    assert W.max() > 0.95 * limit


def test_zeros_and_dtype_and_reproducibility():
    assert not initialize("zeros", np.random.default_rng(0), 3, 4).any()
    a = initialize("he", np.random.default_rng(5), 30, 20, dtype=np.float32)
    b = initialize("he", np.random.default_rng(5), 30, 20, dtype=np.float32)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_unknown_initializer_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown initializer 'nope'.*'he'"):
        initialize("nope", np.random.default_rng(0), 2, 2)


def test_negative_gauss_std_is_rejected():
    with pytest.raises(ValueError, match="std"):
        initialize("gauss", np.random.default_rng(0), 2, 2, std=-1.0)
