"""koubai.torch.Monitor on real small PyTorch models: every kind of finding, in-place ReLU,
residuals, frozen layers, gradient accumulation, AMP, DDP with two processes, hooks removed,
and the same gradient norms as koubai's NumPy MLP with the same weights."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason='PyTorch is not installed (pip install "koubai[torch]" runs these checks)'
)
from torch import nn  # noqa: E402

from koubai.errors import ConfigError  # noqa: E402
from koubai.torch import Monitor  # noqa: E402
from koubai.training.probes import load_diagnostics  # noqa: E402

F = nn.functional


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 20, generator=g)
    y = (x[:, :10].argmax(dim=1) % 4).long()
    return x, y


def mlp(act=nn.ReLU, width=16, depth=3, std=None, bias=0.0, seed=0):
    torch.manual_seed(seed)
    layers, n_in = [], 20
    for _ in range(depth):
        lin = nn.Linear(n_in, width)
        if std is not None:
            nn.init.normal_(lin.weight, 0.0, std)
        nn.init.constant_(lin.bias, bias)
        layers += [lin, act()]
        n_in = width
    layers.append(nn.Linear(n_in, 4))
    return nn.Sequential(*layers)


def fit(model, opt, data, steps, *, every=5, loss_fn=F.cross_entropy, before=None):
    x, y = data
    with Monitor(model, opt, every=every) as mon:
        for step in range(steps):
            if before:
                before(step)
            i = slice((step * 40) % 400, (step * 40) % 400 + 40)
            opt.zero_grad()
            loss_fn(model(x[i]), y[i]).backward()
            opt.step()
    return mon


def only(findings, kind):
    (found,) = [f for f in findings if f.kind == kind]
    return found


# -- every kind on a real model ----------------------------------------------------------------
def test_a_healthy_net_has_no_problem(data):
    model = mlp()
    mon = fit(model, torch.optim.Adam(model.parameters(), lr=1e-3), data, 30)
    assert [f for f in mon.findings if f.severity == "problem"] == []
    assert "No problems found" in mon.summary() or "warning" in mon.summary()


@pytest.mark.parametrize(
    ("case", "kind", "layer"),
    [
        ("vanishing", "vanishing_gradient", "0"),
        ("exploding", "exploding_gradient", "0"),
        ("dead", "dead_units", "1"),
        ("saturation", "saturation", "1"),
        ("update_low", "update_ratio_low", "0"),
        ("update_high", "update_ratio_high", "0"),
    ],
)
def test_each_planted_problem_is_found_at_its_first_layer(data, case, kind, layer):
    model = {
        "vanishing": lambda: mlp(nn.Sigmoid, depth=6, std=0.01),
        "exploding": lambda: mlp(nn.ReLU, width=32, depth=8, std=1.0),
        "dead": lambda: mlp(nn.ReLU, bias=-5.0),
        "saturation": lambda: mlp(nn.Tanh, std=3.0),
        "update_low": lambda: mlp(),
        "update_high": lambda: mlp(),
    }[case]()
    opt = {
        "update_low": lambda p: torch.optim.SGD(p, lr=1e-7),
        "update_high": lambda p: torch.optim.Adam(p, lr=5.0),
        "exploding": lambda p: torch.optim.SGD(p, lr=1e-9),
    }.get(case, lambda p: torch.optim.SGD(p, lr=0.1))(model.parameters())
    f = only(fit(model, opt, data, 20).findings, kind)
    assert (f.layer, f.iteration, f.severity) == (layer, 0, "problem"), f.message()


class Boom(nn.Module):
    """Multiplies by a buffer that a test sets to inf at one step."""

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(()))

    def forward(self, x):
        return x * self.scale


def test_the_first_non_finite_module_and_step_are_named(data):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), Boom(), nn.Linear(16, 16), nn.Linear(16, 4))

    def plant(step):
        if step == 7:  # not a sampled step: only the cheap check sees it
            model[2].scale.fill_(float("inf"))

    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 12, before=plant)
    f = only(mon.findings, "non_finite")
    assert (f.layer, f.iteration, f.severity) == ("2", 7, "problem")
    assert "its output is NaN or inf while its input is finite" in f.message()
    assert float(model[2].scale) == float("inf")  # the replay put the buffer back as it was


def test_a_log_of_zero_in_the_loss_is_found_in_the_backward_pass(data):
    model = mlp()

    def naive_loss(z, y):
        p = torch.softmax(z * 1e4, dim=1)  # probabilities underflow to 0
        return -torch.log(p[torch.arange(len(y)), y]).mean()

    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 5, loss_fn=naive_loss)
    f = only(mon.findings, "non_finite")
    assert (f.layer, f.iteration) == ("6", 0)
    assert "backward" in f.message() and "stable loss" in f.message()


# -- model shapes that break other tools ---------------------------------------------------------
def test_in_place_relu_reads_the_input_before_it_is_overwritten(data):
    model = mlp(lambda: nn.ReLU(inplace=True))
    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 6)
    r = mon.records()
    assert list(r["hidden_names"]) == ["1", "3", "5"]
    assert (r["pre_pct"][:, :, 0] < 0).all()  # the 5th percentile of the input is negative
    assert (r["act_pct"][:, :, 0] >= 0).all()  # the output is not
    assert np.isfinite(r["act_grad_norm"]).all() and (r["act_grad_norm"] > 0).all()


class Residual(nn.Module):
    """ResNet-style: ``h = block(x); h += x`` (or ``h = h + x``), then an in-place ReLU."""

    def __init__(self, in_place: bool):
        super().__init__()
        self.inp = nn.Linear(20, 16)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(16, 16), nn.ReLU(inplace=True), nn.Linear(16, 16))
            for _ in range(2)
        )
        self.acts = nn.ModuleList(nn.ReLU(inplace=True) for _ in range(2))
        self.out = nn.Linear(16, 4)
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


@pytest.mark.parametrize("in_place", [False, True])
def test_residual_blocks(data, in_place):
    torch.manual_seed(0)
    model = Residual(in_place)
    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.05), data, 11)
    r = mon.records()
    assert list(r["layer_names"]) == [
        "inp", "blocks.0.0", "blocks.0.2", "blocks.1.0", "blocks.1.2", "out"
    ]  # fmt: skip
    assert list(r["hidden_names"]) == ["blocks.0.1", "acts.0", "blocks.1.1", "acts.1"]
    assert list(r["iterations"]) == [0, 5, 10]
    assert np.isfinite(r["weight_grad_norm"]).all() and np.isfinite(r["act_grad_norm"]).all()
    assert (r["pre_pct"][:, 1, 0] < 0).all()  # acts.0's input before the in-place ReLU


def test_frozen_and_unused_layers(data):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.frozen = nn.Linear(20, 16).requires_grad_(False)
            self.fc = nn.Linear(16, 16)
            self.unused = nn.Linear(16, 16)
            self.act = nn.Tanh()
            self.head = nn.Linear(16, 4)

        def forward(self, x):
            return self.head(self.act(self.fc(self.frozen(x))))

    torch.manual_seed(0)
    model = Net()
    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 6)
    r = mon.records()
    assert list(r["layer_names"]) == ["fc", "head", "unused"]  # called ones in forward order
    assert not r["weight_grad_present"][:, 2].any()  # .grad is None: not a NaN finding
    assert [f.kind for f in mon.findings if f.kind == "non_finite"] == []


# -- reading gradients at the right moment -------------------------------------------------------
def test_gradient_accumulation_records_the_accumulated_gradient(data):
    x, y = data
    model = mlp(seed=1)
    twin = mlp(seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, opt, every=1) as mon:
        opt.zero_grad()
        for k in range(4):
            (
                F.cross_entropy(model(x[k * 25 : (k + 1) * 25]), y[k * 25 : (k + 1) * 25]) / 4
            ).backward()
        opt.step()
    full = F.cross_entropy(twin(x[:100]), y[:100])
    full.backward()
    expected = [twin[i].weight.grad.norm().item() for i in (0, 2, 4, 6)]
    np.testing.assert_allclose(mon.records()["weight_grad_norm"][0], expected, rtol=1e-5)


def test_amp_bfloat16_with_grad_scaler_records_unscaled_gradients(data):
    x, y = data
    model, twin = mlp(seed=2), mlp(seed=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    with Monitor(model, opt, every=1) as mon:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x[:50]), y[:50])
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        F.cross_entropy(twin(x[:50]), y[:50]).backward()
    expected = np.array([twin[i].weight.grad.norm().item() for i in (0, 2, 4, 6)])
    got = mon.records()["weight_grad_norm"][0]
    np.testing.assert_allclose(got, expected, rtol=1e-3)  # not 65,536 times larger


def test_records_only_on_sampled_steps_and_update_ratios(data):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.detach().clone()
    mon = fit(model, opt, data, 23, every=10)
    r = mon.records()
    assert list(r["iterations"]) == [0, 10, 20] and list(r["update_iterations"]) == [0, 10, 20]
    assert r["act_hist"].shape == (3, 3, 50) and r["act_hist"][0].sum() == 3 * 40 * 16
    # the update ratio of step 0 is ‖ΔW‖/‖W‖ = lr ‖∂L/∂W‖ / ‖W‖ for plain SGD
    expected = 0.1 * r["weight_grad_norm"][0, 0] / before.norm().item()
    assert r["update_ratio"][0, 0] == pytest.approx(expected, rel=1e-4)


# -- hooks --------------------------------------------------------------------------------------
def _hooks(model, opt) -> int:
    n = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return n + len(opt._optimizer_step_pre_hooks) + len(opt._optimizer_step_post_hooks)


def test_close_and_the_with_block_remove_every_hook(data):
    x, y = data
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = Monitor(model, opt, every=2)
    assert _hooks(model, opt) > 0
    opt.zero_grad()
    F.cross_entropy(model(x[:10]), y[:10]).backward()  # mid-step: activation hooks present
    mon.close()
    mon.close()
    assert _hooks(model, opt) == 0
    with Monitor(model, opt) as mon:
        assert _hooks(model, opt) > 0
    assert _hooks(model, opt) == 0
    for _ in range(3):  # a notebook cell run three times does not pile hooks up
        with Monitor(model, opt):
            pass
    assert _hooks(model, opt) == 0


def test_bad_arguments_are_one_line_errors(data):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="every must be a positive integer"):
        Monitor(model, opt, every=0)
    with pytest.raises(ConfigError, match="torch.nn.Module"):
        Monitor("net", opt)
    with pytest.raises(ConfigError, match="Optimizer"):
        Monitor(model, "sgd")


# -- agreement with koubai's NumPy MLP ----------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_same_gradient_norms_as_koubai_numpy_mlp(activation):
    from koubai.engine import MLP

    rng = np.random.default_rng(0)
    net = MLP(12, [9, 7], 5, activation=activation, init="he", dtype=np.float64, seed=3)
    x, t = rng.standard_normal((16, 12)), rng.integers(0, 5, 16)
    grads = net.gradient(x, t)
    ours = [np.linalg.norm(grads[name]) for name in net.weight_names()]
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]
    layers = []
    for name in net.weight_names():
        w = net.params[name]
        lin = nn.Linear(*w.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(net.params[name[:-1] + "b"]))
        layers += [lin, act()]
    twin = nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    with Monitor(twin, opt, every=1) as mon:
        F.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(t)).backward()
        opt.step()
    np.testing.assert_allclose(mon.records()["weight_grad_norm"][0], ours, rtol=0, atol=1e-6)
    np.testing.assert_allclose(mon.records()["weight_grad_norm"][0], ours, rtol=1e-10)


# -- the report folder --------------------------------------------------------------------------
def test_report_writes_a_results_folder_that_koubai_diagnose_reads(data, tmp_path):
    from typer.testing import CliRunner

    from koubai.cli import app

    model = mlp(nn.Sigmoid, depth=6, std=0.01)
    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 11)
    path = mon.report(tmp_path / "run")
    folder = path.parent
    for name in ("diagnostics.npz", "findings.json", "report.html", "gradient-flow.png",
                 "activations.png", "saturation-updates.png"):  # fmt: skip
        assert (folder / name).stat().st_size > 0, name
    d = load_diagnostics(folder / "diagnostics.npz")  # allow_pickle=False
    assert list(d["layer_names"]) == ["0", "2", "4", "6", "8", "10", "12"]
    found = json.loads((folder / "findings.json").read_text())
    assert found[0]["kind"] == "vanishing_gradient" and found[0]["layer"] == "0"
    page = path.read_text()
    assert "data-testid='finding' data-kind='vanishing_gradient'" in page
    assert page.count("data:image/png;base64,") == 3 and "http" not in page
    result = CliRunner().invoke(app, ["diagnose", str(folder)])
    assert result.exit_code == 0 and "vanishing gradient — `0`" in result.output
    assert "vanishing_gradient" in mon.summary() or "vanishing gradient" in mon.summary()


# -- DDP: two processes with gloo ----------------------------------------------------------------
DDP_WORKER = """
import json, sys
import torch, torch.distributed as dist
from torch import nn
from koubai.torch import Monitor

rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                    nn.Linear(16, 3))
model = nn.parallel.DistributedDataParallel(net)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
g = torch.Generator().manual_seed(rank)
with Monitor(model, opt, every=2) as mon:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())
    for step in range(5):
        x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    report = mon.report(f"{out}/report")
    norms = mon.records()["weight_grad_norm"].tolist() if rank == 0 else []
    reference = [p.grad.norm().item() for p in net.parameters() if p.dim() == 2]
json.dump({"records": len(mon), "hooks": hooks, "report": str(report), "norms": norms,
           "reference": reference, "findings": len(mon.findings)},
          open(f"{out}/rank{rank}.json", "w"))
dist.destroy_process_group()
"""


def test_ddp_two_processes_only_rank_0_records_and_nothing_deadlocks(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(DDP_WORKER))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), str(tmp_path / "store"), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in (0, 1)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["records"] == 3 and r0["hooks"] > 0 and r0["report"].endswith("report.html")
    assert r1["records"] == 0 and r1["hooks"] == 0 and r1["report"] == "None"
    assert r1["findings"] == 0
    # rank 0's last record is the all-reduced gradient that both ranks applied
    np.testing.assert_allclose(r0["norms"][-1], r0["reference"], rtol=1e-6)
    np.testing.assert_allclose(r1["reference"], r0["reference"], rtol=1e-6)
    assert (tmp_path / "report" / "diagnostics.npz").exists()


# -- the documented example -----------------------------------------------------------------------
def test_the_documented_example_runs_and_finds_the_vanishing_gradient(
    tmp_path, monkeypatch, capsys
):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "README.md"
    section = doc.read_text(encoding="utf-8").split("## Diagnose your own PyTorch model\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 25
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(doc), "exec"), {"__name__": "example"})
    out = capsys.readouterr().out
    assert "[problem] iteration 0: vanishing gradient — `0` receives 1/" in out
    assert (tmp_path / "my-diagnosis" / "report.html").exists()


# -- what the monitor copies, and when it summarizes ---------------------------------------------
def test_a_sample_of_a_large_layer_draws_every_unit_and_stays_small():
    from koubai.torch._stats import SAMPLE, sample

    t = torch.arange(100 * 40, dtype=torch.float32).reshape(100, 40)  # value = sample x 40 + unit
    s = sample(t)
    assert s.size <= SAMPLE and s.size > SAMPLE // 2
    assert set((s % 40).astype(int).tolist()) == set(range(40))  # every unit, not every k-th
    assert len(set((s // 40).astype(int).tolist())) > 50  # spread over the batch
    t[0, 0] = -1.0  # a copy: a later in-place change does not reach it
    assert s[0] == 0.0
    small = torch.randn(16, 8)
    np.testing.assert_array_equal(sample(small), small.numpy().ravel())


def test_waiting_records_are_summarized_in_batches_and_when_read(data):
    from koubai.torch.monitor import WAIT_RECORDS

    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = Monitor(model, opt, every=1)
    x, y = data
    for _ in range(WAIT_RECORDS + 3):
        opt.zero_grad()
        F.cross_entropy(model(x[:40]), y[:40]).backward()
        opt.step()
        assert len(mon._waiting) < WAIT_RECORDS  # never more wait
    assert len(mon) == WAIT_RECORDS + 3 and len(mon._waiting) == 3  # 16 summarized, 3 waiting
    r = mon.records()  # reading summarizes the rest
    assert mon._waiting == [] and r["act_hist"].shape == (WAIT_RECORDS + 3, 3, 50)
    mon.close()


def test_summary_and_report_follow_koubai_lang(data, tmp_path, monkeypatch):
    model = mlp(nn.Sigmoid, depth=6, std=0.01)
    mon = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data, 3)
    monkeypatch.setenv("KOUBAI_LANG", "ja")
    assert mon.summary().startswith("[問題] イテレーション 0")
    assert "<html lang='ja'>" in mon.report(tmp_path / "ja").read_text("utf-8")
    assert mon.summary("en").startswith("[problem] iteration 0")
