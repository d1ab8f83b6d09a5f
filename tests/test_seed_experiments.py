"""The note's claims, measured on real MNIST digits (the offline mnist-5k subset).

The vanishing gradient: after 2,000 iterations sigmoid + gauss(0.01) is still near chance while
ReLU + He and sigmoid + Xavier learn. Batch norm (lr 0.01, 1,000 iterations): sigmoid + Xavier
learns with it and stays far lower without; sigmoid + gauss(0.01) learns with it.
"""

import pytest

from koubai.datasets import load
from koubai.experiments import load_spec
from koubai.training import train


@pytest.fixture(scope="module")
def mnist5k():
    return load("mnist-5k")


def _runs(name, group, **select):
    runs = load_spec(name).resolve(overrides={"diagnostics_every": 0})
    return {
        (r.config.activation, r.config.init, r.config.batchnorm): r.config
        for r in runs
        if r.group == group and all(getattr(r.config, k) == v for k, v in select.items())
    }


def test_vanishing_gradient_on_real_digits(mnist5k):
    configs = _runs("vanishing", "shallow", hidden_sizes=(40, 20))
    acc = {
        key: train(cfg, mnist5k).final_test_acc
        for key, cfg in configs.items()
        if key in {("sigmoid", "gauss", False), ("relu", "he", False), ("sigmoid", "xavier", False)}
    }
    assert acc[("sigmoid", "gauss", False)] <= 0.2, acc
    assert acc[("relu", "he", False)] > 0.85, acc
    assert acc[("sigmoid", "xavier", False)] > 0.75, acc


def test_batch_norm_on_real_digits(mnist5k):
    comparison = _runs("batchnorm", "comparison")
    with_bn = train(comparison[("sigmoid", "xavier", True)], mnist5k).final_test_acc
    without = train(comparison[("sigmoid", "xavier", False)], mnist5k).final_test_acc
    assert with_bn > 0.75
    assert without < with_bn - 0.2  # "far lower": the note's comparison
    gauss = _runs("batchnorm", "course", hidden_sizes=(40, 20))[("sigmoid", "gauss", True)]
    assert train(gauss, mnist5k).final_test_acc > 0.6
