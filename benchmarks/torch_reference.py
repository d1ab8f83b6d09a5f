"""The same training in PyTorch eager mode (CPU), written as a PyTorch user would: for timing.

``nn.Sequential`` of ``nn.Linear`` and activations, ``nn.CrossEntropyLoss``, ``torch.optim.SGD``,
mini-batches drawn with replacement by ``torch.randint``, evaluation under ``torch.no_grad()``.
Weights are drawn as the course does (gauss std 0.01, "xavier" = ``randn / sqrt(fan_in)``,
He = ``randn * sqrt(2 / fan_in)``), biases 0. The data are converted to tensors once, before the
clock starts. Not part of koubai.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": torch.float32, "float64": torch.float64}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


def init_std(init: str, fan_in: int, gauss_std: float = 0.01) -> float:
    if init == "gauss":
        return gauss_std
    if init == "xavier":  # the course's "Xavier" (LeCun normal)
        return math.sqrt(1.0 / fan_in)
    if init == "he":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown init {init!r}")


def make_mlp(sizes, activation: str, init: str, *, dtype: str, seed: int, gauss_std=0.01):
    """``Linear → activation → … → Linear`` with the course's initialization."""
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(fan_in, fan_out, dtype=DTYPES[dtype])
        with torch.no_grad():
            lin.weight.normal_(0.0, init_std(init, fan_in, gauss_std), generator=g)
            lin.bias.zero_()
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Data:
    """Train and test tensors in the dtype asked for, made once (not timed)."""

    def __init__(self, x_train, y_train, x_test, y_test, dtype: str) -> None:
        dt = DTYPES[dtype]
        self.x_train = torch.from_numpy(np.ascontiguousarray(x_train)).to(dt)
        self.y_train = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
        self.x_test = torch.from_numpy(np.ascontiguousarray(x_test)).to(dt)
        self.y_test = torch.from_numpy(np.asarray(y_test, dtype=np.int64))
        self.dtype = dtype


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def run(
    data: Data,
    *,
    hidden=(40, 20),
    activation="sigmoid",
    init="xavier",
    gauss_std=0.01,
    lr=0.1,
    batch_size=100,
    iterations=2000,
    eval_every=10,
    seed=0,
):
    """The seed protocol; returns ``(train_accuracies, test_accuracies, seconds)``, one accuracy
    per evaluation (every ``eval_every`` iterations), as the course's loop records them."""
    start = time.perf_counter()
    n, d = data.x_train.shape
    n_classes = int(data.y_train.max()) + 1
    model = make_mlp(
        [d, *hidden, n_classes], activation, init, dtype=data.dtype, seed=seed, gauss_std=gauss_std
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed + 1)
    train_accs, test_accs = [], []
    for it in range(1, iterations + 1):
        idx = torch.randint(0, n, (batch_size,), generator=g)
        xb, tb = data.x_train[idx], data.y_train[idx]
        loss = loss_fn(model(xb), tb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it % eval_every == 0:
            test_accs.append(accuracy(model, data.x_test, data.y_test))
            train_accs.append(accuracy(model, xb, tb))
    return train_accs, test_accs, time.perf_counter() - start


class Stepper:
    """One training step (sample, forward, backward, SGD update) of a net, for per-step timing."""

    def __init__(self, data: Data, sizes, activation, init, *, batch_size, lr=0.1, seed=0):
        self.data, self.batch_size = data, batch_size
        self.model = make_mlp(sizes, activation, init, dtype=data.dtype, seed=seed)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.loss_fn = nn.CrossEntropyLoss()
        self.g = torch.Generator().manual_seed(seed + 1)
        self.n = data.x_train.shape[0]

    def step(self) -> None:
        idx = torch.randint(0, self.n, (self.batch_size,), generator=self.g)
        loss = self.loss_fn(self.model(self.data.x_train[idx]), self.data.y_train[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
