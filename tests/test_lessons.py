"""koubai.lessons and ``koubai lessons``: the note's four confirmation tests, computed."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from koubai import lessons
from koubai.cli import app
from koubai.engine.gradcheck import numerical_gradient
from koubai.errors import ConfigError
from koubai.lessons import Arm, BatchNormResult
from koubai.report.fonts import cjk_font
from koubai.training import TrainConfig

runner = CliRunner()


# --- 1. chain rule ----------------------------------------------------------------------------


def test_chain_rule_three_ways_agree():
    r = lessons.chain_rule(seed=3, n_points=6)
    # The analytic answer of the note, recomputed here from the points.
    np.testing.assert_allclose(r.analytic, 2 * (r.x + r.y), rtol=0, atol=0)
    assert r.max_abs_numeric < 1e-6 and r.max_abs_engine < 1e-6
    np.testing.assert_allclose(r.numeric, r.analytic, atol=1e-6)
    np.testing.assert_allclose(r.engine, r.analytic, atol=1e-6)
    assert r.max_abs_numeric == pytest.approx(np.max(np.abs(r.numeric - r.analytic)))
    # Random and seeded: another seed, other points; the same seed, the same ones.
    assert not np.allclose(lessons.chain_rule(seed=4, n_points=6).x, r.x)
    np.testing.assert_array_equal(lessons.chain_rule(seed=3, n_points=6).x, r.x)


def test_square_layer_backward_is_2t_times_upstream():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 3))
    sq = lessons.Square()
    sq.forward(t)
    g_copy = g.copy()
    analytic = sq.backward(g)
    np.testing.assert_array_equal(g, g_copy)  # backward never writes into its argument
    numeric = numerical_gradient(lambda: float(np.sum(sq.forward(t) * g)), t)
    np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_chain_rule_prints_its_numbers_in_both_languages():
    r = lessons.chain_rule(seed=0)
    text = str(r)
    assert "2(x + y)" in text
    for value in (r.x[0], r.y[-1], r.analytic[2]):
        assert lessons._base.fmt(value) in text
    assert lessons.chain_rule.__module__  # the API is importable as koubai.lessons.*
    ja = str(lessons.chain_rule(seed=0, lang="ja"))
    assert "連鎖律" in ja and "中心差分" in ja


# --- 2. sigmoid derivative --------------------------------------------------------------------


def test_sigmoid_derivative_maximum_is_found_at_zero():
    r = lessons.sigmoid_lesson()
    assert abs(r.argmax) < 1e-6
    assert r.max_derivative == pytest.approx(0.25, abs=1e-12)
    # A coarse grid that misses 0 by construction still finds it (refinement).
    coarse = lessons.sigmoid_lesson(grid_step=0.7)
    assert abs(coarse.argmax) < 1e-6 and coarse.max_derivative == pytest.approx(0.25, abs=1e-12)


def test_sigmoid_lesson_tabulates_the_powers():
    r = lessons.sigmoid_lesson(depths=(1, 2, 5, 10, 20))
    assert r.depths == (1, 2, 5, 10, 20)
    np.testing.assert_allclose(r.factors, [0.25**n for n in r.depths], rtol=1e-10)
    assert r.factor(10) == pytest.approx(0.25**10)
    power_table = r.tables()[1]
    row10 = next(row for row in power_table.rows if row[0] == "10")
    assert float(row10[1]) == pytest.approx(0.25**10, rel=1e-2)
    assert "9.54e-07" in str(r)


def test_sigmoid_derivative_comes_from_the_engine_layer():
    x = np.linspace(-5, 5, 11)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(lessons.sigmoid_derivative(x), s * (1 - s), rtol=1e-12)


# --- 3. zero initialization -------------------------------------------------------------------


def test_unit_spread_and_distinct_units_by_hand():
    W = np.array([[1.0, 1.0, 2.0], [0.5, 0.5, 0.5]])
    b = np.array([0.0, 0.0, 0.0])
    # Columns 0 and 1 are the same unit; column 2 differs by 1 in the first row.
    assert lessons.unit_spread(W, b) == 1.0
    assert lessons.distinct_units(W, b) == 2
    assert lessons.unit_spread(W[:, :2], b[:2]) == 0.0
    assert lessons.distinct_units(W[:, :2], b[:2]) == 1
    assert lessons.distinct_units(W, np.array([0.0, 0.1, 0.0])) == 3  # a bias breaks symmetry


@pytest.fixture(scope="module")
def zero_result():
    return lessons.zero_init(iterations=300)


def test_zero_init_keeps_hidden_units_identical(zero_result):
    r = zero_result
    assert r.hidden_sizes == (20, 10)
    for spread, scale in zip(r.unit_spread_zero, r.weight_scale_zero, strict=True):
        assert scale > 0  # the weights did move: this is not a net that never trained
        assert spread <= 1e-6 * scale
    assert r.distinct_zero == (1, 1)
    W = r.first_layer_zero
    assert np.max(np.abs(W - W[:, :1])) <= 1e-6 * np.max(np.abs(W))


def test_random_init_units_differ_and_learn_much_better(zero_result):
    r = zero_result
    assert r.distinct_random == r.hidden_sizes
    for spread, scale in zip(r.unit_spread_random, r.weight_scale_random, strict=True):
        assert spread > 0.1 * scale
    assert r.test_acc_random > r.test_acc_zero + 0.3
    assert r.config.init == "zeros" and r.config.hidden_sizes == (20, 10)
    assert "0.100" in str(r) or f"{r.test_acc_zero:.3f}" in str(r)


# --- 4. batch normalization -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bn_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bn")
    return lessons.batchnorm_lesson(n_seeds=1, iterations=300, out=out)


def test_batchnorm_lesson_measures_both_arms(bn_result):
    r = bn_result
    assert r.config.lr == 0.01 and r.config.hidden_sizes == (40, 20)
    assert r.config.activation == "sigmoid" and r.config.init == "xavier"
    assert not r.plain.batchnorm and r.bn.batchnorm
    for arm in (r.plain, r.bn):
        assert arm.mean_drift.shape == (1, 2) and np.all(np.isfinite(arm.mean_drift))
        assert arm.curves.shape == (1, len(r.eval_iterations))
        assert 0 <= arm.test_acc[0] <= 1 and 0 <= arm.train_acc[0] <= 1
        assert arm.checkpoints[0] == 50 and arm.shift.shape == (len(arm.checkpoints), 2)
        np.testing.assert_array_equal(arm.shift[0], 0.0)


def test_batchnorm_steadies_the_sigmoid_inputs_and_speeds_learning(bn_result):
    # Robust on mnist-5k (checked over seeds 0-5, 300-600 iterations): the drift with BN is
    # smaller in both hidden layers by 1.6x or more, and only the BN arm reaches 0.6 in 300.
    r = bn_result
    assert r.steadier
    assert np.all(r.bn.layer_drift < r.plain.layer_drift)
    assert r.bn.reached[0] is not None
    assert r.faster


def test_batchnorm_lesson_writes_figure_and_reports_every_verdict(bn_result):
    r = bn_result
    assert [p.suffix for p in r.figures] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in r.figures)
    text = r.explanation()
    assert "(a-1) Stability" in text and "(a-2) Speed" in text and "(b) Overfitting" in text
    assert f"{r.bn.gap.mean():+.3f}" in text and f"{r.plain.gap.mean():+.3f}" in text


def _arm(bn: bool, train_acc, test_acc, drift=(0.1, 0.2), reached=(100,)) -> Arm:
    n = len(train_acc)
    return Arm(
        batchnorm=bn,
        seeds=tuple(range(n)),
        mean_drift=np.tile(drift, (n, 1)),
        spread_drift=np.tile(drift, (n, 1)),
        reached=tuple(reached) * n if len(reached) == 1 else tuple(reached),
        train_acc=tuple(train_acc),
        test_acc=tuple(test_acc),
        curves=np.zeros((n, 3)),
        checkpoints=np.array([50, 75]),
        shift=np.zeros((2, 2)),
    )


def _result(plain: Arm, bn: Arm) -> BatchNormResult:
    return BatchNormResult(
        config=TrainConfig(lr=0.01, iterations=300),
        dataset="made-up",
        target=0.6,
        probe_size=10,
        eval_iterations=np.array([0, 10, 20]),
        plain=plain,
        bn=bn,
    )


def test_overfitting_verdict_is_honest_about_no_effect():
    # Equal gaps: no effect, said in so many words.
    r = _result(_arm(False, [0.90, 0.91], [0.85, 0.86]), _arm(True, [0.95, 0.96], [0.90, 0.91]))
    assert not r.less_overfitting
    assert "no clear reduction of overfitting here: gap +0.050 with BN vs +0.050" in str(r)
    # A clear effect over three seeds is reported as shown.
    r = _result(
        _arm(False, [0.99, 0.98, 0.99], [0.80, 0.81, 0.79]),
        _arm(True, [0.95, 0.96, 0.95], [0.90, 0.90, 0.91]),
    )
    assert r.less_overfitting and "(b) Overfitting — shown" in r.explanation()
    # A gap difference within the test set's noise is not an effect.
    r = _result(_arm(False, [0.92], [0.90]), _arm(True, [0.91], [0.91]))
    assert not r.less_overfitting


def test_stability_and_speed_verdicts_follow_the_numbers():
    steady = _result(_arm(False, [0.9], [0.9], drift=(0.3, 0.4), reached=(None,)),
                     _arm(True, [0.9], [0.9], drift=(0.1, 0.1), reached=(120,)))  # fmt: skip
    assert steady.steadier and steady.faster
    assert "drift less" in steady.explanation() and "did not within 300" in steady.explanation()
    mixed = _result(_arm(False, [0.9], [0.9], drift=(0.1, 0.4), reached=(100,)),
                    _arm(True, [0.9], [0.9], drift=(0.2, 0.1), reached=(200,)))  # fmt: skip
    assert not mixed.steadier and mixed.faster is False
    assert "not shown in every layer" in mixed.explanation()
    neither = _result(_arm(False, [0.5], [0.5], reached=(None,)),
                      _arm(True, [0.5], [0.5], reached=(None,)))  # fmt: skip
    assert neither.faster is None and "neither arm reached" in neither.explanation()


# --- run() --------------------------------------------------------------------------------------


def test_run_checks_everything_before_running(tmp_path):
    started = []
    with pytest.raises(ConfigError, match=r"unknown lesson 5; choose from \[1, 2, 3, 4\]"):
        lessons.run([1, 5], on_start=started.append)
    with pytest.raises(ConfigError, match="unknown language 'fr'"):
        lessons.run([1], lang="fr", on_start=started.append)
    with pytest.raises(ConfigError, match="seed"):
        lessons.run([1], seed=-1, on_start=started.append)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        lessons.run([1], out=blocker / "sub", on_start=started.append)
    assert started == []


def test_run_returns_results_in_order_and_writes_figures(tmp_path):
    done = []
    results = lessons.run([2, 1, 2], out=tmp_path, on_done=done.append)
    assert [r.number for r in results] == [2, 1] and done == results
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "lesson1_chain_rule.png",
        "lesson1_chain_rule.svg",
        "lesson2_sigmoid.png",
        "lesson2_sigmoid.svg",
    ]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_lesson_2_writes_png_and_svg_and_prints_0_25(tmp_path):
    result = runner.invoke(app, ["lessons", "2", "--out", str(tmp_path)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "0.25" in result.output and "9.54e-07" in result.output
    png, svg = tmp_path / "lesson2_sigmoid.png", tmp_path / "lesson2_sigmoid.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text(encoding="utf-8")
    assert str(png) in result.output


def test_cli_lang_ja_prints_japanese(tmp_path):
    result = runner.invoke(
        app, ["lessons", "1", "2", "--lang", "ja", "--out", str(tmp_path)], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    assert "シグモイド関数の導関数" in result.output and "連鎖律" in result.output
    assert "0.25" in result.output
    if cjk_font() is not None:  # with the font there is nothing to warn about
        assert "warning" not in result.output
    else:
        assert "fonts-noto-cjk" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lessons", "5"], "unknown lesson 5; choose from [1, 2, 3, 4]"),
        (["lessons", "1", "--lang", "fr"], "unknown language 'fr'; choose one of ['en', 'ja']"),
        (["lessons", "1", "--seed", "-3"], "seed must be a non-negative integer"),
    ],
)
def test_cli_bad_input_is_one_line_error(args, message):
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_cli_unwritable_out_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["lessons", "2", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output


def test_cli_help():
    result = runner.invoke(app, ["lessons", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "--lang" in result.output and "--out" in result.output and "--seed" in result.output


def test_without_a_cjk_font_figures_fall_back_to_english_with_a_hint(tmp_path, monkeypatch):
    import koubai.lessons._base as base

    monkeypatch.setattr(base, "can_render", lambda lang: lang == "en")
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        r = lessons.chain_rule(lang="ja", out=tmp_path)
    assert "連鎖律" in r.explanation() and len(r.figures) == 2  # text in Japanese, no tofu
