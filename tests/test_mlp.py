import numpy as np
import pytest

import koubai
from koubai.engine import MLP, SGD, check_model


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _batch(rng, n=8, d=7, c=4):
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_whole_net_gradient_check(activation, batchnorm, rng):
    init = "he" if "relu" in activation else "xavier"
    net = MLP(
        7,
        [6, 5],
        4,
        activation=activation,
        init=init,
        batchnorm=batchnorm,
        dtype=np.float64,
        seed=1,
    )
    if batchnorm:  # random γ and β, so the check covers their effect
        for name in net.params:
            if name.endswith("gamma"):
                net.params[name] = rng.uniform(0.5, 2.0, net.params[name].shape)
            elif name.endswith("beta"):
                net.params[name] = rng.standard_normal(net.params[name].shape)
    x, t = _batch(rng)
    result = check_model(net, x, t)
    assert result.max_error <= 1e-6, str(result)
    assert set(result.errors) == set(net.params)


def test_gradient_check_with_weight_decay_and_one_hot_labels(rng):
    net = MLP(7, [5], 4, weight_decay=0.1, dtype=np.float64)
    x, t = _batch(rng)
    assert check_model(net, x, np.eye(4)[t]).max_error <= 1e-6


def test_dropout_net_with_dropout_off_at_inference_is_deterministic(rng):
    net = MLP(7, [6], 4, dropout=0.5, dtype=np.float64)
    x, _ = _batch(rng)
    np.testing.assert_array_equal(net.predict(x), net.predict(x))
    assert not np.array_equal(net.predict(x, train=True), net.predict(x, train=True))


def test_parameter_names_order_and_live_view():
    net = MLP(784, [40, 20], 10, batchnorm=True)
    assert list(net.params) == [
        "layers.0.W",
        "layers.0.b",
        "layers.1.gamma",
        "layers.1.beta",
        "layers.3.W",
        "layers.3.b",
        "layers.4.gamma",
        "layers.4.beta",
        "layers.6.W",
        "layers.6.b",
    ]
    assert net.params["layers.0.W"].shape == (784, 40)
    assert list(net.buffers) == [
        "layers.1.running_mean",
        "layers.1.running_var",
        "layers.4.running_mean",
        "layers.4.running_var",
    ]
    net.params["layers.6.b"] = np.full(10, 3.0)
    assert net.layers[6].params["b"][0] == 3.0
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        net.params["layers.6.b"] = np.zeros(3)
    with pytest.raises(KeyError, match="no parameter"):
        net.params["W1"]


def test_gradient_has_the_keys_of_params(rng):
    net = MLP(7, [5, 3], 4)
    grads = net.gradient(*_batch(rng))
    assert list(grads) == list(net.params)
    for k in grads:
        assert grads[k].shape == net.params[k].shape
        assert grads[k].dtype == np.float32


def test_dtype_is_kept_through_training(rng):
    for dtype in (np.float32, np.float64):
        net = MLP(7, [5], 4, batchnorm=True, dtype=dtype)
        x, t = _batch(rng)
        net.gradient(x.astype(np.float64), t)
        SGD(0.1).step(net.params, net.grads)
        assert all(p.dtype == dtype for p in net.params.values())
        assert net.predict(x).dtype == dtype


def test_same_seed_gives_bit_identical_training(rng):
    x, t = _batch(rng, n=32)

    def train(seed):
        net = MLP(
            7, [6, 5], 4, activation="relu", init="he", batchnorm=True, dropout=0.2, seed=seed
        )
        opt = koubai.Adam(0.01)
        for _ in range(5):
            opt.step(net.params, net.gradient(x, t))
        return {k: v.copy() for k, v in net.params.items()}

    a, b, c = train(3), train(3), train(4)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_training_reduces_the_loss(rng):
    x = rng.standard_normal((200, 7))
    t = (x[:, 0] + x[:, 1] > 0).astype(int)
    net = MLP(7, [16], 2, activation="relu", init="he", seed=0)
    opt = SGD(0.5)
    before = net.loss(x, t)
    for _ in range(100):
        opt.step(net.params, net.gradient(x, t))
    assert net.loss(x, t) < 0.5 * before
    assert net.accuracy(x, t) > 0.9


def test_central_claim_vanishing_gradient_at_initialization():
    """10 sigmoid layers with gauss(0.01): the first layer's gradient is >= 1000x smaller than
    the last's. ReLU + He keeps all layers within 10x of each other."""
    rng = np.random.default_rng(0)
    x = rng.random((100, 784))
    t = rng.integers(0, 10, 100)

    def norms(activation, init):
        net = MLP(784, [100] * 10, 10, activation=activation, init=init, seed=0, dtype=np.float64)
        grads = net.gradient(x, t)
        return [np.linalg.norm(grads[k]) for k in net.weight_names()]

    sig = norms("sigmoid", "gauss")
    assert sig[0] * 1000 <= sig[-1]
    assert all(a < b for a, b in zip(sig[:-1], sig[1:], strict=True))  # shrinks toward input
    relu = norms("relu", "he")
    assert max(relu) <= 10 * min(relu)


def test_accuracy_in_chunks_equals_accuracy_in_one_go(rng):
    net = MLP(7, [5], 4, batchnorm=True)
    x, t = _batch(rng, n=37)
    assert net.accuracy(x, t, batch_size=5) == net.accuracy(x, t)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"activation": "softplus"}, r"unknown activation 'softplus'.*'relu'"),
        ({"init": "kaiming"}, r"unknown initializer 'kaiming'.*'he'"),
        ({"bn_convention": "flax"}, r"unknown batch-norm convention 'flax'"),
        ({"hidden_sizes": [40, 0]}, r"positive integers, got \[40, 0\]"),
        ({"hidden_sizes": [40, -3]}, r"positive integers"),
        ({"dropout": 1.5}, r"dropout must lie in \[0, 1\)"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"dtype": np.int32}, "unsupported dtype 'int32'"),
        ({"output_size": 0}, "output_size must be a positive integer"),
    ],
)
def test_bad_configuration_names_the_value_and_valid_ones(kwargs, match):
    args = {"input_size": 7, "hidden_sizes": [5], "output_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        MLP(**args)


def test_bad_input_and_labels(rng):
    net = MLP(7, [5], 4)
    with pytest.raises(ValueError, match=r"shape \(N, 7\), got shape \(3, 6\)"):
        net.predict(np.ones((3, 6)))
    with pytest.raises(ValueError, match="label 9 is out of range"):
        net.loss(np.ones((3, 7)), np.array([0, 1, 9]))
    with pytest.raises(ValueError, match="3 labels for a batch of 2"):
        net.loss(np.ones((2, 7)), np.array([0, 1, 2]))
    bn = MLP(7, [5], 4, batchnorm=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        bn.gradient(np.ones((1, 7)), np.array([0]))


def test_save_and_load_round_trip(tmp_path, rng):
    net = MLP(7, [5, 3], 4, activation="tanh", batchnorm=True, bn_convention="torch", seed=2)
    x, t = _batch(rng)
    SGD(0.1).step(net.params, net.gradient(x, t))  # move params and running stats
    path = koubai.save_mlp(net, tmp_path / "net.npz")
    again = koubai.load_mlp(path)
    assert again.config == net.config
    np.testing.assert_array_equal(again.predict(x), net.predict(x))
    for k in net.buffers:
        np.testing.assert_array_equal(again.buffers[k], net.buffers[k])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(koubai.KoubaiError, match="not a koubai network"):
        koubai.load_mlp(tmp_path / "bad.npz")
    with pytest.raises(koubai.KoubaiError, match="no such network file"):
        koubai.load_mlp(tmp_path / "missing.npz")


def test_trace_collects_every_layer_output(rng):
    net = MLP(7, [5, 3], 4, batchnorm=True, activation="relu", dtype=np.float64)
    x, t = _batch(rng)
    trace = []
    loss = net.forward_backward(x, t, trace=trace)
    assert len(trace) == len(net.layers)
    assert [a.shape[1] for a in trace] == [5, 5, 5, 3, 3, 3, 4]
    assert (trace[2] >= 0).all() and (trace[2] == np.maximum(trace[1], 0)).all()
    assert loss == pytest.approx(net.loss_layer.forward(trace[-1], t))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infer_gives_predicts_logits_bit_for_bit_and_leaves_input_and_caches_alone(
    activation, dtype, rng
):
    net = MLP(12, [9, 7], 4, activation=activation, batchnorm=True, dropout=0.3, dtype=dtype)
    for _ in range(3):  # move the running statistics and weights away from their start
        net.forward_backward(rng.standard_normal((16, 12)), rng.integers(0, 4, 16))
        for k, g in net.grads.items():
            net.params[k] -= 0.1 * g
    x = rng.standard_normal((20, 12)).astype(dtype)
    x_before = x.copy()
    caches = [dict(vars(layer)) for layer in net.layers]
    logits = net.infer(x)
    for layer, before in zip(net.layers, caches, strict=True):  # nothing re-cached by infer
        assert all(vars(layer)[k] is v for k, v in before.items())
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(logits, net.predict(x))


def test_layer_infer_in_place_overwrites_its_input_and_matches_forward(rng):
    from koubai.engine.layers import BatchNorm, LeakyReLU, ReLU, Sigmoid, Tanh

    bn = BatchNorm(5)
    bn.forward(rng.standard_normal((8, 5)) * 3 + 1, train=True)
    for layer in (Sigmoid(), Tanh(), ReLU(), LeakyReLU(0.1), bn):
        x = rng.standard_normal((6, 5)) * 4
        expected = layer.forward(x.copy(), train=False)
        out = layer.infer(x, inplace=True)
        np.testing.assert_array_equal(out, expected)
        if not isinstance(layer, LeakyReLU):  # np.where makes a new array
            assert np.shares_memory(out, x), layer


def test_copy_is_independent_and_leaves_the_caches_behind(rng):
    net = MLP(12, [9], 4, batchnorm=True, dropout=0.2, seed=3)
    x, t = rng.standard_normal((16, 12)), rng.integers(0, 4, 16)
    net.forward_backward(x, t)
    twin = net.copy()
    assert all(not k.startswith("_") for layer in twin.layers for k in vars(layer))
    for (k, a), b in zip(net.params.items(), twin.params.values(), strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(a, b), k
    np.testing.assert_array_equal(twin.infer(x), net.infer(x))
    net.params["layers.0.W"] += 1.0  # training the original leaves the copy as it was
    assert not np.array_equal(twin.infer(x), net.infer(x))
    assert twin.grads == {} and net.grads  # a copy has not been through backward
    dropouts = [layer for layer in twin.layers if hasattr(layer, "rng")]
    assert dropouts and all(layer.rng is twin.rng for layer in dropouts)
    assert twin.rng is not net.rng and twin.rng.random() == net.rng.random()  # same point
    assert np.isfinite(twin.forward_backward(x, t))  # a copy trains like any network


@pytest.mark.parametrize("batchnorm", [False, True])
def test_accuracies_of_several_nets_are_each_nets_own(batchnorm, rng):
    from koubai.engine import accuracies

    x = rng.standard_normal((300, 12)).astype(np.float32)
    t = rng.integers(0, 4, 300)
    nets = [MLP(12, [9, 7], 4, batchnorm=batchnorm, seed=s) for s in range(4)]
    for net in nets[1:]:  # move them apart (and the running statistics)
        net.forward_backward(x[:50] * 3, t[:50])
        for k, g in net.grads.items():
            net.params[k] -= 0.5 * g
    expected = [float(np.mean(np.argmax(net.predict(x), axis=1) == t)) for net in nets]
    assert len(set(expected)) > 1
    assert accuracies(nets, x, t, batch_size=128) == expected
    assert [net.accuracy(x, t) for net in nets] == expected
    assert accuracies(nets[:1], x, t) == expected[:1] and accuracies([], x, t) == []
    with pytest.raises(ValueError, match="first layers have one shape"):
        accuracies([nets[0], MLP(12, [5], 4)], x, t)
    with pytest.raises(ValueError, match="same input width and dtype"):
        accuracies([nets[0], MLP(12, [9, 7], 4, dtype=np.float64)], x, t)
