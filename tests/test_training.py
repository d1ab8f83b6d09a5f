import warnings

import numpy as np
import pytest

from koubai.errors import ConfigError
from koubai.training import BatchSampler, TrainConfig, train


def test_training_learns_and_records_the_schedule(blobs):
    config = TrainConfig(
        hidden_sizes=(8,), activation="relu", init="he", iterations=55, eval_every=10, batch_size=20
    )
    result = train(config, blobs)
    assert result.status == "finished" and result.stopped_at == 55
    assert list(result.column("iteration")) == [0, 10, 20, 30, 40, 50, 55]
    assert result.final_test_acc > 0.9
    assert result.column("test_acc")[0] < 0.7  # it really learned something
    assert result.batch_loss.shape == (55,)
    assert result.column("loss")[-1] < result.column("loss")[0]


def test_same_seed_same_run_and_another_seed_another(blobs):
    config = TrainConfig(hidden_sizes=(8,), iterations=20, batch_size=10, dropout=0.2)
    a, b = train(config, blobs), train(config, blobs)
    c = train(config.replace(seed=1), blobs)
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)
    assert not np.array_equal(a.batch_loss, c.batch_loss)


def test_divergence_is_a_result_not_a_crash(blobs):
    config = TrainConfig(
        hidden_sizes=(32, 32, 32),
        activation="relu",
        init="he",
        lr=1e3,
        iterations=200,
        batch_size=20,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow is a result here, not a warning
        result = train(config, blobs)
    assert result.status == "diverged"
    assert 0 < result.stopped_at < 200
    assert not np.isfinite(result.batch_loss[-1])


def test_ctrl_c_keeps_the_metrics_so_far(blobs):
    def on_eval(record):
        if record.iteration == 30:
            raise KeyboardInterrupt

    result = train(
        TrainConfig(hidden_sizes=(8,), iterations=100, batch_size=20), blobs, on_eval=on_eval
    )
    assert result.status == "interrupted"
    assert result.column("iteration")[-1] == 30 and result.stopped_at == 30


def test_subset_protocol_measures_a_fixed_training_subset(blobs):
    config = TrainConfig(
        hidden_sizes=(8,), iterations=20, batch_size=10, train_accuracy="subset", train_subset=50
    )
    result = train(config, blobs)
    # On a fixed subset of 50 every accuracy is a multiple of 1/50.
    assert np.allclose(result.column("train_acc") * 50, np.round(result.column("train_acc") * 50))


def test_frozen_batchnorm_affine_stays_at_one_and_zero(blobs):
    config = TrainConfig(
        hidden_sizes=(8,), batchnorm=True, iterations=20, batch_size=10, bn_affine_trainable=False
    )
    net = train(config, blobs).net
    assert np.all(net.params["layers.1.gamma"] == 1) and np.all(net.params["layers.1.beta"] == 0)
    trained = train(config.replace(bn_affine_trainable=True), blobs).net
    assert not np.all(trained.params["layers.1.gamma"] == 1)


def test_epoch_sampler_visits_every_example_once_per_epoch():
    sampler = BatchSampler(10, 5, "epoch", np.random.default_rng(0))
    seen = np.concatenate([sampler.next(), sampler.next()])
    assert sorted(seen) == list(range(10))
    draws = BatchSampler(10, 5, "replacement", np.random.default_rng(0)).next()
    assert draws.shape == (5,) and draws.max() < 10


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lr": -0.1}, "lr .* > 0, got -0.1"),
        ({"iterations": 0}, "iterations must be a positive integer, got 0"),
        ({"activation": "gelu"}, "unknown activation 'gelu'"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"hidden_sizes": (40, 0)}, r"hidden_sizes must be positive integers, got \[40, 0\]"),
        ({"batchnorm": True, "batch_size": 1}, "batch_size >= 2"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_from_dict_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match=r"unknown key 'lrr' in spec; valid keys: \["):
        TrainConfig.from_dict({"lrr": 0.1}, where="spec")
    with pytest.raises(ConfigError, match="iterations in spec must be an integer, got '10'"):
        TrainConfig.from_dict({"iterations": "10"}, where="spec")
    with pytest.raises(ConfigError, match="batchnorm .* must be true or false"):
        TrainConfig.from_dict({"batchnorm": 1})
