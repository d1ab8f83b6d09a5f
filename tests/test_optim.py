import numpy as np
import pytest

from koubai.engine import OPTIMIZERS, SGD, Adam, Momentum, make_optimizer


def _run(opt, steps=3):
    p = {"w": np.array([1.0, -2.0])}
    for _ in range(steps):
        opt.step(p, {"w": 2 * p["w"]})  # gradient of |w|^2
    return p["w"]


def test_sgd_by_hand():
    # w <- w - 0.1 * 2w = 0.8 w, three times
    np.testing.assert_allclose(_run(SGD(0.1)), np.array([1.0, -2.0]) * 0.8**3)


def test_momentum_by_hand():
    # v1 = g1 = 2; w1 = 1 - 0.1*2 = 0.8; v2 = 0.9*2 + 1.6 = 3.4; w2 = 0.8 - 0.34 = 0.46
    np.testing.assert_allclose(_run(Momentum(0.1, 0.9), steps=2)[0], 0.46)


def test_adam_first_step_moves_by_the_learning_rate():
    # With bias correction the first Adam step is lr * sign(g) (up to eps).
    np.testing.assert_allclose(_run(Adam(0.01), steps=1), [0.99, -1.99], rtol=1e-7)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_descends_a_quadratic(name):
    lr = {"adagrad": 0.5, "rmsprop": 0.05, "adam": 0.1}.get(name, 0.05)
    w = _run(make_optimizer(name, lr), steps=60)
    assert np.linalg.norm(w) < 0.5 * np.linalg.norm([1.0, -2.0])


def test_state_is_keyed_by_parameter_name():
    opt = Adam()
    opt.step({"layers.0.W": np.ones(2)}, {"layers.0.W": np.ones(2)})
    assert set(opt.state) == {"layers.0.W"} and set(opt.state["layers.0.W"]) == {"m", "v"}


@pytest.mark.parametrize("bad", [-0.1, 0.0, float("nan"), float("inf")])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="learning rate must be a finite number > 0"):
        SGD(bad)


def test_unknown_optimizer_and_bad_momentum():
    with pytest.raises(ValueError, match=r"unknown optimizer 'lbfgs'.*'adam'"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(0.1, momentum=1.5)
