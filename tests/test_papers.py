"""The paper experiments: the verdict rule at its thresholds, each paper's claim logic on
synthetic runs built to sit on either side of its bands, the paper scale, and each experiment
end to end at a reduced size (seconds). No test states what a real run's verdict must be."""

import csv
import html
import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from conftest import make_blobs
from koubai import papers
from koubai.cli import app
from koubai.datasets import from_arrays
from koubai.errors import ConfigError
from koubai.experiments import load_spec, run_experiment
from koubai.papers import Band, RunData, Runs, glorot, he, ioffe, mean_spread, nielsen
from koubai.results import CLAIM_COLUMNS, ResultsFolder
from koubai.training.probes import N_BINS, PERCENTILES

# -- the verdict rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,spread,verdict",
    [
        (0.5, 0.0, "true"),  # on the lower edge: inside
        (1.0, 0.0, "true"),  # on the upper edge: inside
        (0.75, 0.25, "true"),  # the interval just fills the band
        (0.75, 0.26, "inconclusive"),  # ... and just spills over
        (0.45, 0.1, "inconclusive"),  # straddles the lower edge
        (0.49, 0.0, "false"),
        (0.3, 0.1, "false"),  # wholly below
        (1.2, 0.1, "false"),  # wholly above
        (math.nan, 0.0, "inconclusive"),  # not measured
        (0.7, math.nan, "true"),  # one seed: no spread, judged on the value
        (math.inf, math.nan, "false"),  # never got there
    ],
)
def test_band_judges_the_interval_value_plus_minus_spread(value, spread, verdict):
    assert Band(0.5, 1.0).judge(value, spread) == verdict


def test_open_bands_and_their_text():
    assert Band(2.0, math.inf).judge(math.inf) == "true"
    assert Band(2.0, math.inf).judge(1.99) == "false"
    assert Band(2.0, math.inf).text() == "≥ 2" and Band(hi=0.5).text() == "≤ 0.5"


def test_mean_spread_over_seeds():
    assert mean_spread([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    m, s = mean_spread([0.5])
    assert m == 0.5 and math.isnan(s)
    m, s = mean_spread([1.0, math.nan, 3.0])
    assert m == 2.0
    m, s = mean_spread([1.0, math.inf])
    assert m == math.inf and math.isnan(s)
    assert all(math.isnan(v) for v in mean_spread([]))


# -- synthetic runs -------------------------------------------------------------------------------


def _run(group, config, *, diag=None, acc=None, its=None, status="finished"):
    its = np.arange(len(acc)) * 10 if its is None and acc is not None else its
    metrics = {"iteration": np.asarray(its if its is not None else [0.0], dtype=float)}
    metrics["test_acc"] = np.asarray(acc if acc is not None else [math.nan], dtype=float)
    return RunData(f"{group}-{len(config)}", group, config, status, metrics, diag)


def _nielsen_runs(scale_layer1=1.0, jitter=0.0):
    runs = []
    for seed in range(3):
        for sizes in ([30, 30], [30, 30, 30], [30] * 4):
            base = 0.012 * 5.0 ** np.arange(len(sizes))
            if len(sizes) == 3:
                base = np.array(nielsen.PAPER_DELTAS)
            first = base.copy()
            first[0] *= scale_layer1 * (1 + jitter * (seed - 1))
            later = base * np.array([0.1, 0.5, 1.0, 1.0])[: len(sizes)]
            bias = np.vstack([np.append(first, 0.5), np.append(later, 0.1)])
            config = {"hidden_sizes": sizes, "seed": seed, "batch_size": 10, "train_size": 1000}
            runs.append(_run("depth", config, diag={"bias_grad_norm": bias}))
    return Runs.of(runs)


def _verdicts(claims):
    return [c.reproduced for c in claims]


def test_nielsen_claims_on_either_side_of_their_bands():
    at_paper = nielsen.claims(_nielsen_runs())
    assert _verdicts(at_paper) == ["true"] * 5
    assert at_paper[0].measured == pytest.approx(0.012)
    assert at_paper[3].measured == pytest.approx(5.0, rel=0.05)
    # layer 1 just under twice his value: still inside; just over: outside
    assert nielsen.claims(_nielsen_runs(scale_layer1=1.99))[0].reproduced == "true"
    assert nielsen.claims(_nielsen_runs(scale_layer1=2.02))[0].reproduced == "false"
    # a spread across the edge: inconclusive
    assert nielsen.claims(_nielsen_runs(scale_layer1=1.9, jitter=0.2))[0].reproduced == (
        "inconclusive"
    )


def test_claims_without_runs_are_inconclusive_and_say_why():
    for paper in (nielsen, glorot, ioffe, he):
        claims = paper.claims(Runs.of([]))
        assert claims and {c.reproduced for c in claims} == {"inconclusive"}, paper.NAME
    reason = nielsen.claims(Runs.of([]))[0].reason("en")
    assert "could not be measured: no finished run" in reason


def _tanh_run(init, ratio, seed=0):
    std = np.sqrt(ratio ** np.arange(5))  # variance times `ratio` per layer going up
    delta = np.sqrt(ratio ** np.arange(5)[::-1])  # ... and going down
    diag = {"act_std": std[None, :], "delta_std": delta[None, :]}
    return _run("tanh", {"init": init, "seed": seed}, diag=diag)


def _hist(near_zero_top):
    """An act_hist (records × 5 layers × bins) with the top layer's share below 0.1 given."""
    hist = np.zeros((len(near_zero_top), 5, N_BINS))
    hist[:, :, N_BINS // 2] = 100
    for k, share in enumerate(near_zero_top):
        hist[k, -1, 0], hist[k, -1, N_BINS // 2] = 100 * share, 100 * (1 - share)
    return hist


def _sparse_run(activation, zeros, acc, seed=0):
    diag = {"zero_share": np.array([[zeros, zeros]]), "never_active": np.array([[0.0, 0.0]])}
    return _run("sparsity", {"activation": activation, "seed": seed}, diag=diag, acc=[acc])


def _glorot_runs(standard=1 / 3, normalized=1.0, top=(0.0, 0.9), accs=(0.93, 0.92, 0.92)):
    runs = [_tanh_run("standard_uniform", standard, s) for s in range(2)]
    runs += [_tanh_run("glorot_uniform", normalized, s) for s in range(2)]
    sig = {"act_hist": _hist(top), "iterations": np.arange(len(top)) * 10.0}
    acc = [0.1] * len(top)  # not learned yet
    runs += [_run("sigmoid", {"seed": s}, diag=sig, acc=acc) for s in range(2)]
    runs += [_sparse_run("relu", 0.5, accs[0]), _sparse_run("tanh", 0.0, accs[1])]
    runs += [_sparse_run("sigmoid", 0.0, accs[2])]
    return Runs.of(runs)


def test_glorot_claims_follow_the_measured_ratios():
    claims = glorot.claims(_glorot_runs())
    assert _verdicts(claims) == ["true"] * 6
    assert claims[0].measured == pytest.approx(1 / 3) and claims[2].measured == pytest.approx(1)
    # a standard init that kept the variance, a normalized one that shrank it: both fail
    swapped = glorot.claims(_glorot_runs(standard=1.0, normalized=1 / 3))
    assert _verdicts(swapped)[:4] == ["false"] * 4
    # the top layer never near 0: fig. 2 not reproduced; exactly half: on the edge, reproduced
    assert glorot.claims(_glorot_runs(top=(0.0, 0.2)))[4].reproduced == "false"
    assert glorot.claims(_glorot_runs(top=(0.0, 0.5)))[4].reproduced == "true"


def test_fig2_counts_only_the_records_before_the_net_learns():
    sig = {"act_hist": _hist((0.0, 0.1, 0.9)), "iterations": np.array([0.0, 10.0, 20.0])}
    late = [_run("sigmoid", {"seed": 0}, diag=sig, acc=[0.1, 0.15, 0.8])]  # learned at 20
    claim = glorot.claims(Runs.of(late))[4]
    assert claim.measured == pytest.approx(0.1) and claim.reproduced == "false"
    early = [_run("sigmoid", {"seed": 0}, diag=sig, acc=[0.1, 0.1, 0.1])]
    assert glorot.claims(Runs.of(early))[4].reproduced == "true"


def test_sparsity_needs_comparable_accuracy():
    ok = glorot.sparsity_claim(_glorot_runs(accs=(0.93, 0.90, 0.89)))  # within 0.05
    assert ok.reproduced == "true" and ok.measured == pytest.approx(0.5)
    far = glorot.sparsity_claim(_glorot_runs(accs=(0.93, 0.90, 0.70)))
    assert far.reproduced == "inconclusive" and "differ by more than" in far.reason("en")
    assert "正解率" in far.reason("ja")


def _ioffe_runs(bn_acc, plain_acc, bn_drift=0.1, plain_drift=1.0):
    runs = []
    for seed in range(2):
        for bn, curve, drift in ((True, bn_acc, bn_drift), (False, plain_acc, plain_drift)):
            n = len(curve)
            pct = np.zeros((n, 3, len(PERCENTILES)))
            width = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # 5/15/50/85/95th
            pct[:] = width + drift * np.linspace(0, 1, n)[:, None, None]
            config = {"batchnorm": bn, "seed": seed}
            runs.append(_run("bn", config, diag={"pre_pct": pct}, acc=curve))
    return Runs.of(runs)


def test_ioffe_claims():
    fast = [0.1, 0.9, 0.95, 0.97, 0.98]
    slow = [0.1, 0.3, 0.6, 0.9, 0.96]
    claims = ioffe.claims(_ioffe_runs(fast, slow))
    assert _verdicts(claims) == ["true", "true", "true"]
    assert claims[0].measured == pytest.approx(0.02)
    assert claims[2].measured == pytest.approx(10.0)  # drift 1.0 vs 0.1, width 2
    same = ioffe.claims(_ioffe_runs(slow, slow, bn_drift=1.0))
    assert _verdicts(same) == ["false", "false", "false"]


def _he_runs(glorot30, he30, glorot22, he22, std_glorot=2**-0.5, std_he=1.0):
    runs = []
    for seed in range(2):
        for depth, init, curve, ratio in (
            (30, "glorot_normal", glorot30, std_glorot),
            (30, "he", he30, std_he),
            (22, "glorot_normal", glorot22, std_glorot),
            (22, "he", he22, std_he),
        ):
            std = np.concatenate([[3.0], ratio ** np.arange(depth - 1)])[None, :]
            config = {"init": init, "seed": seed}
            runs.append(_run(f"d{depth}", config, diag={"act_std": std}, acc=curve))
    return Runs.of(runs)


def test_he_claims():
    stall, learn, late = [0.1, 0.1, 0.11], [0.1, 0.6, 0.9], [0.1, 0.2, 0.8]
    claims = he.claims(_he_runs(stall, learn, late, learn))
    assert _verdicts(claims) == ["true"] * 6
    assert claims[3].measured == pytest.approx(0.5)  # He at step 10, Glorot at step 20
    assert claims[4].measured == pytest.approx(2**-0.5)
    both_learn = he.claims(_he_runs(learn, learn, late, late, std_glorot=1.0, std_he=0.5))
    assert _verdicts(both_learn) == ["false", "true", "true", "false", "false", "false"]


# -- scale ----------------------------------------------------------------------------------------


def test_paper_scale_sets_the_papers_sizes_and_steps():
    spec = papers.at_scale(load_spec("nielsen"), "paper")
    runs = spec.resolve()
    assert len(runs) == 30 and {r.config.iterations for r in runs} == {50_000}
    deep = papers.at_scale(load_spec("he-deep"), "paper").resolve()
    assert {r.config.hidden_sizes for r in deep if r.group == "d30"} == {(256,) * 30}
    glo = papers.at_scale(load_spec("glorot"), "paper").resolve()
    assert {r.config.hidden_sizes for r in glo if r.group != "sparsity"} == {(1000,) * 5}
    assert {r.config.hidden_sizes for r in glo if r.group == "sparsity"} == {(100, 100)}
    assert papers.at_scale(load_spec("ioffe"), "default") == load_spec("ioffe")
    with pytest.raises(ConfigError, match="applies to the paper experiments"):
        papers.at_scale(load_spec("vanishing"), "paper")
    with pytest.raises(ConfigError, match="unknown scale 'huge'"):
        papers.at_scale(load_spec("ioffe"), "huge")


# -- end to end, at a reduced size ----------------------------------------------------------------

SMALL = {"iterations": 20, "eval_every": 10, "diagnostics_every": 10, "probe_samples": 60}
REDUCED = {
    "nielsen": {**SMALL, "train_size": 200},
    "glorot": {**SMALL, "hidden_sizes": [12] * 5},
    "ioffe": {**SMALL, "hidden_sizes": [12] * 3},
    "he-deep": SMALL,
}


@pytest.fixture(scope="module")
def digits10():
    return from_arrays(*make_blobs(600, 200, 16, 10, seed=1), name="blobs10", source="tests")


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_each_experiment_end_to_end(tmp_path, digits10, name):
    result = run_experiment(
        name,
        dataset=digits10,
        seeds=2,
        overrides=REDUCED[name],
        out_dir=tmp_path,
        workers=1,
        figures=False,
    )
    folder = ResultsFolder(result.folder)
    with open(folder.path / ResultsFolder.CLAIMS, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == CLAIM_COLUMNS
    assert rows == folder.read_claims()
    claims = papers.compute(folder, name)
    assert [r["reproduced"] for r in rows] == [c.reproduced for c in claims]
    assert all(r["reproduced"] in ("true", "false", "inconclusive") for r in rows)
    assert all(r["paper_value"] and r["note"] for r in rows)
    # the measured values are numbers where the runs allowed one
    assert any(r["measured"] for r in rows)
    figs = papers.PAPERS[name].figures(Runs(folder), "en")
    assert figs and all(isinstance(f, Figure) for f in figs.values())
    assert all("cf." in f._suptitle.get_text() for f in figs.values())
    text = papers.report(folder, name, "ja")
    assert papers.PAPERS[name].CITATION in text and "判定" in text


def test_cli_runs_a_paper_prints_its_claims_and_draws_its_figure(tmp_path, digits10):
    data = tmp_path / "d.npz"
    np.savez(
        data,
        x_train=digits10.x_train,
        y_train=digits10.y_train,
        x_test=digits10.x_test,
        y_test=digits10.y_test,
    )
    sets = [f"--set={k}={v}" for k, v in REDUCED["ioffe"].items()]
    args = ["run", "ioffe", "-d", str(data), "-o", str(tmp_path / "out"), "--seeds", "2"]
    result = CliRunner().invoke(app, [*args, "--workers", "1", "--lang", "en", *sets])
    assert result.exit_code == 0, result.output
    assert "Ioffe & Szegedy 2015" in result.output and "verdict" in result.output
    (folder,) = (tmp_path / "out").iterdir()
    results = ResultsFolder(folder)
    assert [p.name for p in results.paper_figures()] == ["paper-ioffe-fig1.png"]
    assert "data-testid='claims'" in results.report_path.read_text("utf-8")
    from koubai.papers import compute
    from koubai.report.html import render

    first = compute(results, "ioffe")[0]
    japanese = html.unescape(render(results, lang="ja"))
    assert first.claim[1] in japanese and first.claim[0] not in japanese
    assert first.paper("ja") in japanese and first.paper("en") not in japanese
    assert "<th class='text'>主張</th>" in japanese


def test_cli_refuses_paper_scale_for_other_experiments(tmp_path):
    result = CliRunner().invoke(app, ["run", "vanishing", "--scale", "paper", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "applies to the paper experiments" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_paper_experiments_are_built_in():
    from koubai.experiments import builtin_names

    assert builtin_names() == ["batchnorm", "glorot", "he-deep", "ioffe", "nielsen", "vanishing"]


def test_show_lists_the_paper_experiments():
    result = CliRunner().invoke(app, ["show"])
    assert result.exit_code == 0
    for name in ("nielsen", "glorot", "ioffe", "he-deep"):
        assert name in result.output


def test_a_deep_nets_activation_histograms_show_eight_layers_first_to_last():
    from koubai.report.diagnostics import MAX_HIST_ROWS, plot_activation_histograms

    d = {
        "act_hist": np.ones((5, 30, N_BINS)),
        "act_edges": np.linspace(0, 4, N_BINS + 1),
        "iterations": np.arange(5) * 10,
    }
    fig = plot_activation_histograms(d, moments=2)
    labels = [ax.get_ylabel().splitlines()[0] for ax in fig.axes if ax.get_ylabel()]
    assert len(fig.axes) == MAX_HIST_ROWS * 2 == 16
    assert labels[0] == "hidden layer 1" and labels[-1] == "hidden layer 30"
