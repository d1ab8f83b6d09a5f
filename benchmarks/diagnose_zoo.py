"""A zoo of small PyTorch models with planted training problems, and healthy ones, judged by
``koubai.torch.Monitor`` + ``koubai.diagnose``: does every planted problem get found, with the
right kind and the right first layer, early, and does no healthy model get a "problem"?

28 models on mnist-5k (4,000 real MNIST digits, offline), batch 100: MLPs, a LeNet-sized CNN
and a residual MLP. 14 have a planted problem, two of each kind; 14 are healthy (ReLU + He,
batch norm, Adam defaults, the CNN, the residual MLP, ...). Prints every model's findings, the
confusion table (planted kind × kinds found with severity "problem"), the first iteration of
each detection, and the calibration margins: for each rule, the worst value seen on a healthy
model against the mildest value of the models where that problem was planted.

Targets (issue 13): every planted problem found with the right kind and first layer; no
"problem" on a healthy model; each detection within the first 10 % of training.

    python benchmarks/diagnose_zoo.py [--quick] [--steps N] [--every N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import _common  # noqa: F401  (puts src/ on the path when run from a checkout)
import numpy as np
from _common import Noise, table


@dataclass
class Case:
    name: str
    build: object  # () -> (model, optimizer factory)
    planted: str | None = None  # a kind, or None for a healthy model
    layer: str | None = None  # the first affected layer the finding must name
    loss: str = "ce"  # "ce" or "naive" (a log of 0 in the loss)
    nan_data: bool = False  # a NaN pixel in the first batch


def zoo(torch):
    nn = torch.nn

    def mlp(act, sizes, *, std=None, bias=None, bn=False):
        layers, n_in = [], 784
        for width in sizes:
            lin = nn.Linear(n_in, width)
            if std == "he":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            elif std == "xavier":
                nn.init.normal_(lin.weight, 0.0, 1.0 / math.sqrt(n_in))
            elif std is not None:
                nn.init.normal_(lin.weight, 0.0, std)
            if bias is not None:
                nn.init.constant_(lin.bias, bias)
            layers += [lin] + ([nn.BatchNorm1d(width)] if bn else []) + [act()]
            n_in = width
        layers.append(nn.Linear(n_in, 10))
        return nn.Sequential(*layers)

    def cnn(*, std=None, bias=None):
        net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )  # fmt: skip
        for m in net:
            if isinstance(m, nn.Conv2d | nn.Linear) and std == "all 1":
                nn.init.normal_(m.weight, 0.0, 1.0)
            elif isinstance(m, nn.Conv2d):
                if std is not None:
                    nn.init.normal_(m.weight, 0.0, std)
                if bias is not None:
                    nn.init.constant_(m.bias, bias)
        return net

    class ResidualMLP(nn.Module):
        def __init__(self, width=64, blocks=4, in_place=False):
            super().__init__()
            self.inp = nn.Linear(784, width)
            self.blocks = nn.ModuleList(
                nn.Sequential(
                    nn.Linear(width, width), nn.ReLU(inplace=in_place), nn.Linear(width, width)
                )  # fmt: skip
                for _ in range(blocks)
            )
            self.acts = nn.ModuleList(nn.ReLU(inplace=in_place) for _ in range(blocks))
            self.out = nn.Linear(width, 10)
            self.in_place = in_place

        def forward(self, x):
            x = torch.relu(self.inp(x))
            for block, act in zip(self.blocks, self.acts, strict=True):
                h = block(x)
                if self.in_place:
                    h += x
                else:
                    h = h + x
                x = act(h)
            return self.out(x)

    sgd = lambda lr, **kw: lambda p: torch.optim.SGD(p, lr=lr, **kw)  # noqa: E731
    adam = lambda lr=1e-3: lambda p: torch.optim.Adam(p, lr=lr)  # noqa: E731
    R, S, T = nn.ReLU, nn.Sigmoid, nn.Tanh
    planted = [
        Case("sigmoid [40]x5 gauss 0.01", lambda: (mlp(S, [40] * 5, std=0.01), sgd(0.1)),
             "vanishing_gradient", "0"),
        Case("tanh [64]x8 gauss 0.01", lambda: (mlp(T, [64] * 8, std=0.01), sgd(0.1)),
             "vanishing_gradient", "0"),
        Case("ReLU [64]x6 std 1", lambda: (mlp(R, [64] * 6, std=1.0), sgd(1e-6)),
             "exploding_gradient", "0"),
        Case("CNN, every weight std 1", lambda: (cnn(std="all 1"), sgd(1e-6)),
             "exploding_gradient", "1"),
        Case("ReLU [100]x3 He, bias -5", lambda: (mlp(R, [100] * 3, std="he", bias=-5.0),
             sgd(0.1)), "dead_units", "1"),
        Case("CNN conv bias -5", lambda: (cnn(bias=-5.0), sgd(0.05)), "dead_units", "2"),
        Case("tanh [64]x3 std 3", lambda: (mlp(T, [64] * 3, std=3.0), sgd(0.05)),
             "saturation", "1"),
        Case("sigmoid [64]x3 std 1", lambda: (mlp(S, [64] * 3, std=1.0), sgd(0.1)),
             "saturation", "1"),
        Case("ReLU [64,32] He, log of softmax", lambda: (mlp(R, [64, 32], std="he"), sgd(0.1)),
             "non_finite", "4", loss="naive"),
        Case("ReLU [64,32] He, NaN pixel", lambda: (mlp(R, [64, 32], std="he"), sgd(0.1)),
             "non_finite", "0", nan_data=True),
        Case("ReLU [64,32] He, lr 1e-7", lambda: (mlp(R, [64, 32], std="he"), sgd(1e-7)),
             "update_ratio_low", "0"),
        Case("CNN, lr 1e-8", lambda: (cnn(), sgd(1e-8)), "update_ratio_low", "1"),
        Case("ReLU [64,32], Adam lr 1", lambda: (mlp(R, [64, 32]), adam(1.0)),
             "update_ratio_high", "0"),
        Case("CNN, Adam lr 3", lambda: (cnn(), adam(3.0)), "update_ratio_high", "1"),
    ]  # fmt: skip
    healthy = [
        Case("ReLU [40,20] He, SGD 0.1", lambda: (mlp(R, [40, 20], std="he"), sgd(0.1))),
        Case("ReLU [100]x4 He, SGD 0.05", lambda: (mlp(R, [100] * 4, std="he"), sgd(0.05))),
        Case("sigmoid [40,20] Xavier, SGD 0.1",
             lambda: (mlp(S, [40, 20], std="xavier"), sgd(0.1))),
        Case("tanh [64,64] Xavier, SGD 0.05",
             lambda: (mlp(T, [64, 64], std="xavier"), sgd(0.05))),
        Case("sigmoid [40]x5 gauss 0.01 + BN", lambda: (mlp(S, [40] * 5, std=0.01, bn=True),
             sgd(0.1))),
        Case("ReLU [100]x4 + BN, SGD 0.1", lambda: (mlp(R, [100] * 4, bn=True), sgd(0.1))),
        Case("ReLU [128,64], Adam", lambda: (mlp(R, [128, 64]), adam())),
        Case("tanh [128,64], Adam", lambda: (mlp(T, [128, 64]), adam())),
        Case("LeakyReLU [64,64] He, SGD 0.1",
             lambda: (mlp(nn.LeakyReLU, [64, 64], std="he"), sgd(0.1))),
        Case("GELU [128,64], AdamW", lambda: (mlp(nn.GELU, [128, 64]),
             lambda p: torch.optim.AdamW(p, lr=1e-3))),
        Case("CNN, SGD 0.05 momentum 0.9", lambda: (cnn(), sgd(0.05, momentum=0.9))),
        Case("CNN, Adam", lambda: (cnn(), adam())),
        Case("residual MLP 4 blocks, SGD 0.05", lambda: (ResidualMLP(), sgd(0.05))),
        Case("residual MLP in-place, Adam", lambda: (ResidualMLP(in_place=True), adam())),
    ]  # fmt: skip
    return planted + healthy


def naive_loss(torch):
    def loss(z, y):
        p = torch.softmax(z * 1e4, dim=1)  # probabilities underflow to 0: log(0) = -inf
        return -torch.log(p[torch.arange(len(y)), y]).mean()

    return loss


def run_case(torch, case: Case, x, y, steps: int, every: int, seed: int = 0):
    from koubai.torch import Monitor

    torch.manual_seed(seed)
    model, make_opt = case.build()
    opt = make_opt(model.parameters())
    loss_fn = naive_loss(torch) if case.loss == "naive" else torch.nn.functional.cross_entropy
    g = torch.Generator().manual_seed(seed)
    xs = x.clone()
    start = time.perf_counter()
    with Monitor(model, opt, every=every) as mon:
        for step in range(steps):
            i = torch.randint(0, len(x), (100,), generator=g)
            xb = xs[i]
            if case.nan_data and step == 0:
                xb[0, 400] = float("nan")
            opt.zero_grad()
            loss_fn(model(xb), y[i]).backward()
            opt.step()
    return mon, time.perf_counter() - start


def margins(results):
    """Per rule quantity: the worst value on a healthy model, the mildest on a planted one."""
    rows = []
    quantities = {
        "vanishing_gradient": ("min ‖∇W_k‖/‖∇W_out‖", lambda r: _ratio(r).min(), min, max),
        "exploding_gradient": ("max ‖∇W‖", lambda r: np.nanmax(r["weight_grad_norm"]), max, min),
        "dead_units": ("max dead share", lambda r: _nanmax(r["dead"]), max, min),
        "saturation": ("max saturated share", lambda r: _nanmax(r["saturated"]), max, min),
        "update_ratio_low": ("min ‖ΔW‖/‖W‖", lambda r: _nanmin(r["update_ratio"]), min, max),
        "update_ratio_high": ("max ‖ΔW‖/‖W‖", lambda r: _nanmax(r["update_ratio"]), max, min),
    }
    for kind, (label, measure, worst, mildest) in quantities.items():
        healthy = [measure(r) for case, r, _ in results if case.planted is None]
        planted = [measure(r) for case, r, _ in results if case.planted == kind]
        healthy = [v for v in healthy if v == v] or [float("nan")]
        planted = [v for v in planted if v == v] or [float("nan")]
        rows.append([kind, label, f"{worst(healthy):.3g}", f"{mildest(planted):.3g}"])
    return rows


def _ratio(r):
    g = r["weight_grad_norm"]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = g[:, :-1] / g[:, -1:]
    q = q[np.isfinite(q)]
    return q if q.size else np.array([np.nan])


def _nanmax(a):
    a = np.asarray(a, float)
    return float(np.nanmax(a)) if np.isfinite(a).any() else float("nan")


def _nanmin(a):
    a = np.asarray(a, float)
    return float(np.nanmin(a)) if np.isfinite(a).any() else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100 steps per model instead of 200")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--every", type=int, default=5, help="Monitor's sampling interval")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args(argv)
    import torch

    from koubai.datasets import load

    torch.set_num_threads(args.threads)
    steps = args.steps or (100 if args.quick else 200)
    data = load("mnist-5k")
    x, y = torch.tensor(data.x_train), torch.tensor(data.y_train).long()
    cases = zoo(torch)
    noise = Noise()
    print(f"{len(cases)} models on {data.name}, {steps} steps of batch 100, Monitor every "
          f"{args.every}; detection target: by iteration {steps // 10}")  # fmt: skip
    results, rows, failures = [], [], []
    for case in cases:
        mon, seconds = run_case(torch, case, x, y, steps, args.every)
        found = mon.findings
        results.append((case, mon.records(), found))
        problems = [f for f in found if f.severity == "problem"]
        hit = next((f for f in found if f.kind == case.planted), None)
        if case.planted is None:
            ok = not problems
            what = "healthy"
        else:
            ok = (
                hit is not None
                and hit.layer == case.layer
                and hit.severity == "problem"
                and hit.iteration <= steps // 10
            )
            what = f"{case.planted} @ {case.layer}"
        if not ok:
            failures.append(case.name)
        rows.append(
            [
                case.name,
                what,
                ", ".join(f"{f.kind}@{f.layer}:{f.iteration}" for f in problems) or "—",
                f"{hit.iteration}" if hit else "—",
                ", ".join(f"{f.kind}@{f.layer}" for f in found if f.severity == "warning") or "—",
                "ok" if ok else "MISSED" if case.planted else "FALSE ALARM",
                f"{seconds:.1f} s",
            ]
        )
        print(f"  {case.name}: {rows[-1][5]}", file=sys.stderr, flush=True)
    print()
    print(table(["model", "planted", "problems found (kind@layer:iteration)", "first detection",
                 "warnings", "verdict", "time"], rows))  # fmt: skip
    from koubai.diagnose import KINDS

    print("\nConfusion: planted kind (rows) × kinds found with severity 'problem' (columns)")
    cols = list(KINDS) + ["none"]
    conf = []
    for planted in list(KINDS) + [None]:
        counts = dict.fromkeys(cols, 0)
        for case, _, found in results:
            if case.planted != planted:
                continue
            kinds = {f.kind for f in found if f.severity == "problem"}
            for k in kinds:
                counts[k] += 1
            if not kinds:
                counts["none"] += 1
        conf.append([planted or "healthy"] + [str(counts[c] or ".") for c in cols])
    short = [c.replace("_gradient", "").replace("update_ratio_", "upd_") for c in cols]
    print(table(["planted \\ found"] + short, conf))
    print("\nCalibration margins (first-layer ratios, norms and shares over the whole run)")
    print(table(["rule", "quantity", "worst healthy", "mildest planted"], margins(results)))
    n_planted = sum(c.planted is not None for c in cases)
    found_ok = sum(c.planted is not None and c.name not in failures for c in cases)
    healthy_ok = sum(c.planted is None and c.name not in failures for c in cases)
    print(
        f"\nplanted problems found (right kind and first layer, severity problem, by iteration "
        f"{steps // 10}): {found_ok}/{n_planted}; healthy models without a problem: "
        f"{healthy_ok}/{len(cases) - n_planted}"
    )
    print(noise.line())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
