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

    config = TrainConfig(hidden_sizes=(8,), iterations=100, batch_size=20)
    result = train(config, blobs, on_eval=on_eval, evaluation="inline")
    assert result.status == "interrupted"
    assert result.column("iteration")[-1] == 30 and result.stopped_at == 30


def test_ctrl_c_with_background_evaluation_keeps_every_measurement_under_way(blobs):
    seen = []

    def on_eval(record):
        seen.append(record.iteration)
        if record.iteration == 300:
            raise KeyboardInterrupt

    config = TrainConfig(hidden_sizes=(8,), iterations=2000, batch_size=20)
    result = train(config, blobs, on_eval=on_eval, evaluation="background")
    iterations = list(result.column("iteration"))
    assert result.status == "interrupted" and 300 <= result.stopped_at < 2000
    # Training ran on while iteration 300 was measured: the measurements made meanwhile are
    # kept (without callbacks), in order, and none is of an update that was not made.
    assert seen[-1] == 300 and iterations[: len(seen)] == seen
    assert iterations == list(range(0, iterations[-1] + 1, 10))
    assert iterations[-1] <= result.stopped_at


@pytest.mark.parametrize("train_accuracy", ["batch", "subset"])
def test_background_evaluation_records_what_inline_evaluation_records(blobs, train_accuracy):
    from threadpoolctl import threadpool_limits

    config = TrainConfig(
        hidden_sizes=(12, 8), iterations=300, batch_size=16, train_accuracy=train_accuracy
    )
    seen = []
    with threadpool_limits(1, user_api="blas"):  # as the background mode runs the products
        inline = train(config, blobs, evaluation="inline")
    background = train(config, blobs, evaluation="background", on_eval=seen.append)
    assert background.records == inline.records  # each one measured on its own iteration's net
    assert seen == background.records
    np.testing.assert_array_equal(background.batch_loss, inline.batch_loss)
    assert len({r.test_acc for r in inline.records}) > 3  # the accuracy did move meanwhile


def test_float64_runs_gather_their_batches_from_the_stored_float32_data(blobs):
    config = TrainConfig(hidden_sizes=(8,), iterations=50, batch_size=20)
    data32 = blobs  # float32, as koubai's datasets are
    assert data32.x_train.dtype == np.float32
    from koubai.datasets import from_arrays

    data64 = from_arrays(
        data32.x_train.astype(np.float64),
        data32.y_train,
        data32.x_test,
        data32.y_test,
        name="blobs64",
        dtype=np.float64,
    )
    a = train(config.replace(dtype="float64"), data32, evaluation="inline")
    b = train(config.replace(dtype="float64"), data64, evaluation="inline")
    assert a.net.dtype == np.float64
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)  # the same float64 batches


def test_evaluation_mode_rules():
    from koubai.training.evaluation import AUTO_MAX_STEP_MACS, MAX_WORKERS, eval_workers

    assert eval_workers("inline", 10, cores=8) == 0
    assert eval_workers("auto", 10, cores=1) == 0
    assert eval_workers("auto", 10, cores=2) == 1  # the training's thread is the other
    assert eval_workers("auto", AUTO_MAX_STEP_MACS + 1, cores=8) == 0
    assert eval_workers("background", AUTO_MAX_STEP_MACS + 1, cores=1) == 1
    assert eval_workers("background", 10, cores=64) == MAX_WORKERS
    with pytest.raises(ConfigError, match="unknown evaluation mode 'later'"):
        eval_workers("later", 10)


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


@pytest.mark.parametrize("workers", [0, 1, 3])
@pytest.mark.parametrize("group", [1, 4])
def test_evaluations_come_out_in_order_whoever_measures_them(workers, group):
    import threading

    from koubai.training.evaluation import Evaluations

    threads = set()

    def measure(items):
        threads.add(threading.current_thread().name)
        return [(float(i), float(-i)) for i in items]

    out = []
    evals = Evaluations(measure, lambda *r: out.append(r), workers=workers, group=group)
    try:
        for i in range(50):
            evals.add(i * 10, 0.5, i)
        evals.finish()
    finally:
        evals.close()
    assert out == [(i * 10, 0.5, float(i), float(-i)) for i in range(50)]
    assert any(name.startswith("koubai-eval") for name in threads) == bool(workers)


def test_an_error_in_a_background_measurement_reaches_the_caller():
    from koubai.training.evaluation import Evaluations

    def measure(items):
        raise MemoryError("no room for the test set")

    evals = Evaluations(measure, lambda *r: None, workers=1, group=2)
    try:
        with pytest.raises(MemoryError, match="no room"):
            for i in range(20):
                evals.add(i, 0.0, i)
            evals.finish()
    finally:
        evals.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_ctrl_c_inside_a_measurement_neither_hangs_nor_loses_the_earlier_records(workers):
    import threading

    from koubai.training.evaluation import Evaluations

    calls = []
    caller = []

    def measure(items):  # Ctrl-C reaches the caller's thread only, at its own third measurement
        if threading.current_thread() is caller[0]:
            calls.append(items)
            if len(calls) == 3:
                raise KeyboardInterrupt
        return [(1.0, float(i)) for i in items]

    out = []
    evals = Evaluations(measure, lambda *r: out.append(r[0]), workers=workers, group=2)

    def interrupted_run():
        try:
            for i in range(40):
                evals.add(i, 0.0, i)
            evals.finish()
        except KeyboardInterrupt:
            evals.abandon()
            evals.finish()
        finally:
            evals.close()
        completed.append(True)

    completed = []
    runner = threading.Thread(target=interrupted_run, daemon=True)
    caller.append(runner)
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive(), "finish() waited for a measurement nobody will make"
    assert completed
    assert out == list(range(len(out)))  # whatever came out is in order, without a gap
    if workers == 0:
        assert out == [0, 1, 2, 3]  # the two groups measured before the interruption
