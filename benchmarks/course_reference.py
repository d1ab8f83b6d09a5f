"""The course notebook's training loop, re-implemented by us for timing only.

This is **not** the course's code and not part of koubai: it is a faithful re-implementation of
the loop of ``2_2_2_vanishing_gradient_modified.ipynb`` and of the "Deep Learning from Scratch"
layer classes it uses (``common/layers.py``, ``common/functions.py``, ``MultiLayerNet``), written
so that the benchmarks can time koubai against what a student of the course runs. What it keeps
on purpose, because it is what the course does and what it costs:

* float64 parameters (``np.random.randn``), while the data stays float32 as ``load_mnist`` gives
  it: every ``np.dot`` with the float32 test set converts the whole 10,000 x 784 array to float64,
  at every evaluation;
* an ``OrderedDict`` of layer objects (``Affine1``, ``Activation_function1``, ...) and a params
  dict keyed ``'W1', 'b1', ...``; ``Relu`` copies its input and masks it; softmax on transposes;
* mini-batches drawn by ``np.random.choice(train_size, batch_size)`` (with replacement);
* every 10 iterations, the accuracy on the full 10,000-image test set and on the current batch;
* the update ``network.params[key] -= learning_rate * grad[key]`` for W1..W3, b1..b3.

The notebook's plotting and printing are left out (they are not the computation); so is the
per-iteration ``network.loss`` that some course loops add (``record_loss=True`` puts it back).
Leaving work out only makes this reference faster, so the ratios against it are conservative.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

# -- common/functions.py ---------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot labels -> indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


# -- common/layers.py ------------------------------------------------------------------------


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = sigmoid(x)
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


# -- multi_layer_net.py ----------------------------------------------------------------------


class MultiLayerNet:
    """The book's fully connected net: params ``W1, b1, ...``; layers in an OrderedDict."""

    def __init__(
        self,
        input_size,
        hidden_size_list,
        output_size,
        activation="relu",
        weight_init_std="relu",
        weight_decay_lambda=0,
        rng=None,
    ):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        # The course uses the global np.random; a RandomState (same algorithms) keeps it seeded.
        self.rng = np.random.RandomState(0) if rng is None else rng
        self.__init_weight(weight_init_std)

        activation_layer = {"sigmoid": Sigmoid, "relu": Relu}
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = Affine(
                self.params["W" + str(idx)], self.params["b" + str(idx)]
            )
            self.layers["Activation_function" + str(idx)] = activation_layer[activation]()
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = Affine(
            self.params["W" + str(idx)], self.params["b" + str(idx)]
        )
        self.last_layer = SoftmaxWithLoss()

    def __init_weight(self, weight_init_std):
        all_size_list = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(all_size_list)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ("relu", "he"):
                scale = np.sqrt(2.0 / all_size_list[idx - 1])
            elif str(weight_init_std).lower() in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / all_size_list[idx - 1])
            self.params["W" + str(idx)] = scale * self.rng.randn(
                all_size_list[idx - 1], all_size_list[idx]
            )
            self.params["b" + str(idx)] = np.zeros(all_size_list[idx])

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params["W" + str(idx)]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W**2)
        return self.last_layer.forward(y, t) + weight_decay

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def gradient(self, x, t):
        self.loss(x, t)
        dout = 1
        dout = self.last_layer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads["W" + str(idx)] = (
                self.layers["Affine" + str(idx)].dW
                + self.weight_decay_lambda * self.layers["Affine" + str(idx)].W
            )
            grads["b" + str(idx)] = self.layers["Affine" + str(idx)].db
        return grads


# -- the notebook's loop ---------------------------------------------------------------------


def one_hot(labels, n_classes=10):
    """``load_mnist(one_hot_label=True)``'s labels: float64 rows with a single 1."""
    t = np.zeros((labels.size, n_classes))
    t[np.arange(labels.size), labels] = 1
    return t


def run(
    x_train,
    d_train,
    x_test,
    d_test,
    *,
    hidden_size_list=(40, 20),
    activation="sigmoid",
    weight_init_std=0.01,
    iters_num=2000,
    batch_size=100,
    learning_rate=0.1,
    plot_interval=10,
    seed=0,
    record_loss=False,
):
    """Train as the notebook does; returns ``(accuracies_train, accuracies_test, seconds)``.

    Args:
        x_train, x_test: float32 images in [0, 1], ``(N, 784)`` — as ``load_mnist`` gives them.
        d_train, d_test: one-hot float64 labels ``(N, 10)``.
        weight_init_std: a number (gauss std), ``"xavier"``/``"sigmoid"`` or ``"he"``/``"relu"``.
        seed: seeds the RandomState standing in for the global ``np.random``.
        record_loss: also compute ``network.loss(x_batch, d_batch)`` every iteration.
    """
    rng = np.random.RandomState(seed)
    network = MultiLayerNet(
        input_size=x_train.shape[1],
        hidden_size_list=list(hidden_size_list),
        output_size=d_train.shape[1],
        activation=activation,
        weight_init_std=weight_init_std,
        rng=rng,
    )
    train_size = x_train.shape[0]
    train_loss_list, accuracies_train, accuracies_test = [], [], []
    start = time.perf_counter()
    for i in range(iters_num):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        d_batch = d_train[batch_mask]

        grad = network.gradient(x_batch, d_batch)
        for key in network.params:  # the notebook spells out ("W1", "W2", "W3", "b1", ...)
            network.params[key] -= learning_rate * grad[key]
        if record_loss:
            train_loss_list.append(network.loss(x_batch, d_batch))

        if (i + 1) % plot_interval == 0:
            accr_test = network.accuracy(x_test, d_test)
            accuracies_test.append(accr_test)
            accr_train = network.accuracy(x_batch, d_batch)
            accuracies_train.append(accr_train)
    return accuracies_train, accuracies_test, time.perf_counter() - start
