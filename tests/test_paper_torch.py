"""The paper experiments' engine features against PyTorch 2.13 in float64: the sigmoid +
binary cross-entropy head (``BCEWithLogitsLoss``), networks with N(0, 1) biases, and the
"standard" uniform initialization (PyTorch's own default for ``nn.Linear`` weights).

PyTorch is a test extra (``pip install torch==2.13.0``) that ``.ci/run`` installs; elsewhere
these tests are skipped with the reason shown.
"""

import math

import numpy as np
import pytest

from koubai.engine import MLP, Affine
from koubai.engine.init import expected_std, initialize
from koubai.engine.layers import SigmoidCrossEntropy, init_bias

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (pip install torch==2.13.0 runs these checks)"
)
nn = torch.nn

TOL = 1e-10


def test_bce_head_agrees_with_bce_with_logits():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((9, 10)) * 4
    t = rng.integers(0, 10, 9)
    ours = SigmoidCrossEntropy()
    loss = ours.forward(z, t)
    grad = ours.backward()
    zt = torch.tensor(z, requires_grad=True)
    # Nielsen's cost: summed over the output units, averaged over the batch
    theirs = nn.BCEWithLogitsLoss(reduction="sum")(zt, torch.eye(10, dtype=torch.float64)[t]) / 9
    theirs.backward()
    assert abs(loss - theirs.item()) < TOL
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=0, atol=TOL)


def _twin(net: MLP) -> nn.Sequential:
    mods = []
    for layer in net.layers:
        if isinstance(layer, Affine):
            lin = nn.Linear(layer.fan_in, layer.fan_out, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.params["b"]))
            mods.append(lin)
        else:
            mods.append(nn.Sigmoid())
    return nn.Sequential(*mods)


def test_nielsens_network_agrees_with_torch_forward_and_every_gradient():
    # [784,30,30,10] shrunk: sigmoid throughout, weights N(0, 1/n_in), biases N(0, 1),
    # sigmoid outputs with the cross-entropy cost
    net = MLP(
        20,
        [7, 6],
        5,
        activation="sigmoid",
        init="lecun_normal",
        bias_init="normal",
        loss="sigmoid_bce",
        dtype=np.float64,
        seed=1,
    )
    twin = _twin(net)
    rng = np.random.default_rng(1)
    x, t = rng.random((12, 20)), rng.integers(0, 5, 12)
    loss = net.forward_backward(x, t)
    out = twin(torch.from_numpy(x))
    ref = nn.BCEWithLogitsLoss(reduction="sum")(out, torch.eye(5, dtype=torch.float64)[t]) / 12
    ref.backward()
    assert abs(loss - ref.item()) < TOL
    linears = [m for m in twin if isinstance(m, nn.Linear)]
    for i, lin in zip(net.affine_indices, linears, strict=True):
        np.testing.assert_allclose(net.grads[f"layers.{i}.W"], lin.weight.grad.numpy().T, atol=TOL)
        np.testing.assert_allclose(net.grads[f"layers.{i}.b"], lin.bias.grad.numpy(), atol=TOL)


def test_standard_uniform_is_torchs_default_linear_weight():
    # nn.Linear's default (kaiming_uniform with a = sqrt(5)) is U[-1/sqrt(fan_in), 1/sqrt(fan_in)]:
    # Glorot & Bengio's "standard" initialization.
    torch.manual_seed(0)
    theirs = nn.Linear(500, 400, dtype=torch.float64).weight.detach().numpy()
    ours = initialize("standard_uniform", np.random.default_rng(0), 500, 400)
    bound = 1 / math.sqrt(500)
    for w in (theirs, ours):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(ours.std() / theirs.std() - 1) < 0.01
    assert abs(theirs.std() / expected_std("standard_uniform", 500, 400) - 1) < 0.01


def test_normal_biases_match_torchs_normal_init_statistics():
    torch.manual_seed(0)
    theirs = nn.init.normal_(torch.empty(50_000, dtype=torch.float64), 0.0, 1.0).numpy()
    ours = init_bias("normal", np.random.default_rng(0), 50_000, std=1.0)
    assert abs(ours.std() - theirs.std()) < 0.02 and abs(ours.mean() - theirs.mean()) < 0.03
    q = [5, 25, 50, 75, 95]
    np.testing.assert_allclose(np.percentile(ours, q), np.percentile(theirs, q), atol=0.04)
