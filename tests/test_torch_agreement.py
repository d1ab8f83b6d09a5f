"""Agreement with PyTorch 2.13 in float64: forward, every gradient, and optimizer updates.

PyTorch is a test extra (``pip install torch==2.13.0``) that ``.ci/run`` installs, so these tests
always run in CI; elsewhere they are skipped with the reason shown.
"""

import numpy as np
import pytest

from koubai.engine import MLP, make_optimizer

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (pip install torch==2.13.0 runs these checks)"
)
nn = torch.nn

TOL = 1e-10
TORCH_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def _torch_twin(net: MLP) -> nn.Sequential:
    """A torch.nn.Sequential with exactly the same layers and weights as ``net``."""
    from koubai.engine import Affine, BatchNorm, ReLU, Sigmoid, Tanh

    modules = []
    for layer in net.layers:
        if isinstance(layer, Affine):
            lin = nn.Linear(layer.fan_in, layer.fan_out, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.params["b"]))
            modules.append(lin)
        elif isinstance(layer, BatchNorm):
            bn = nn.BatchNorm1d(layer.num_features, eps=1e-5, momentum=0.1, dtype=torch.float64)
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(layer.params["gamma"]))
                bn.bias.copy_(torch.from_numpy(layer.params["beta"]))
            modules.append(bn)
        else:
            kind = {Sigmoid: "sigmoid", Tanh: "tanh", ReLU: "relu"}[type(layer)]
            modules.append(TORCH_ACTIVATIONS[kind]())
    return nn.Sequential(*modules)


def _grad_of(module_param) -> np.ndarray:
    return module_param.grad.detach().numpy()


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_forward_and_every_gradient_agree_with_torch(activation, batchnorm, train):
    rng = np.random.default_rng(0)
    net = MLP(
        12,
        [9, 7],
        5,
        activation=activation,
        init="he",
        batchnorm=batchnorm,
        bn_convention="torch",
        dtype=np.float64,
        seed=3,
    )
    for name in net.params:  # random γ, β and biases
        if not name.endswith("W"):
            net.params[name] = rng.uniform(0.5, 1.5, net.params[name].shape)
    twin = _torch_twin(net)
    x = rng.standard_normal((16, 12))
    t = rng.integers(0, 5, 16)

    if not train:  # give both nets the same running statistics first
        warm = rng.standard_normal((16, 12)) * 2 + 0.5
        net.predict(warm, train=True)
        twin.train()
        with torch.no_grad():
            twin(torch.from_numpy(warm))
        for ours, theirs in zip(net.buffers.items(), _running_stats(twin), strict=True):
            np.testing.assert_allclose(ours[1], theirs, rtol=0, atol=TOL)

    twin.train(train)
    xt = torch.from_numpy(x)
    logits_t = twin(xt)
    loss_t = nn.functional.cross_entropy(logits_t, torch.from_numpy(t))
    loss_t.backward()

    logits = net.predict(x, train=train)  # what net.loss does, keeping the logits
    loss = net.loss_layer.forward(logits, t)
    net.backward()
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=0, atol=TOL)
    assert abs(loss - loss_t.item()) <= TOL

    torch_params = [
        p for m in twin if isinstance(m, (nn.Linear, nn.BatchNorm1d)) for p in (m.weight, m.bias)
    ]
    for (name, grad), p in zip(net.grads.items(), torch_params, strict=True):
        theirs = _grad_of(p)
        ours = grad.T if name.endswith("W") else grad
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL, err_msg=name)

    # Running statistics moved the same way in training, and stayed put at inference.
    for (name, ours), theirs in zip(net.buffers.items(), _running_stats(twin), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL, err_msg=name)


def _running_stats(twin):
    for m in twin:
        if isinstance(m, nn.BatchNorm1d):
            yield m.running_mean.numpy()
            yield m.running_var.numpy()


def test_running_statistics_agree_with_torch_after_several_batches():
    rng = np.random.default_rng(1)
    net = MLP(6, [5], 3, batchnorm=True, bn_convention="torch", dtype=np.float64)
    twin = _torch_twin(net).train()
    for _ in range(4):
        x = rng.standard_normal((10, 6)) * 3 + 1
        net.predict(x, train=True)
        with torch.no_grad():
            twin(torch.from_numpy(x))
    for (name, ours), theirs in zip(net.buffers.items(), _running_stats(twin), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL, err_msg=name)


TORCH_OPTIM = {
    "sgd": (lambda p, lr: torch.optim.SGD(p, lr=lr), {}),
    "momentum": (lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), {"momentum": 0.9}),
    "nesterov": (
        lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.8, nesterov=True),
        {"momentum": 0.8},
    ),
    "adagrad": (lambda p, lr: torch.optim.Adagrad(p, lr=lr, eps=1e-10), {"eps": 1e-10}),
    "rmsprop": (
        lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.95, eps=1e-8),
        {"alpha": 0.95, "eps": 1e-8},
    ),
    "adam": (
        lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-8),
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-8},
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_OPTIM))
def test_first_five_updates_agree_with_torch_optim(name):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((4, 3))
    ours = {"w": w0.copy()}
    theirs = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    make_torch, kwargs = TORCH_OPTIM[name]
    opt_t = make_torch([theirs], 0.05)
    opt = make_optimizer(name, 0.05, **kwargs)
    for step in range(5):
        g = rng.standard_normal((4, 3))
        opt.step(ours, {"w": g})
        theirs.grad = torch.from_numpy(g.copy())
        opt_t.step()
        np.testing.assert_allclose(
            ours["w"],
            theirs.detach().numpy(),
            rtol=0,
            atol=1e-12,
            err_msg=f"{name} step {step + 1}",
        )
    assert not np.allclose(ours["w"], w0)
