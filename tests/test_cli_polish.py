"""The command line reads well: --version, run listed first, an example in every command's
help, no type tags, defaults shown, --iterations, 80-column progress, the fallback said once."""

import re

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from koubai import __version__
from koubai.cli import app
from koubai.cli.experiments import say_fallback
from koubai.experiments.progress import RunProgress
from koubai.experiments.spec import RunSpec
from koubai.training import TrainConfig
from koubai.training.evaluation import EvalRecord

runner = CliRunner()
WIDE = {"COLUMNS": "160"}


def _commands(group=None, prefix=()):
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_version_flag():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"koubai {__version__}"


def test_run_is_listed_first_and_the_engine_tools_last():
    result = runner.invoke(app, ["--help"], env=WIDE)
    listed = re.findall(r"^│ (\w+) ", result.output, re.M)
    assert listed[0] == "run" and listed[:4] == ["run", "train", "show", "report"]
    assert listed.index("gradcheck") > listed.index("lessons")


@pytest.mark.parametrize("command", list(_commands()), ids=" ".join)
def test_every_command_has_an_example_and_no_type_tags(command):
    result = runner.invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Example: koubai " in result.output
    assert not re.search(r"<(bool|int|str|float|path|list\[\w+\])>", result.output)


def test_defaults_are_shown_for_seeds_protocol_and_lang():
    out = runner.invoke(app, ["run", "--help"], env=WIDE).output
    assert "[default: (the spec's, else 1 (course) or 3 (careful))]" in out
    assert "[default: (the spec's, else course)]" in out
    assert "KOUBAI_LANG, else the locale, else en" in out


def test_train_takes_iterations_and_keeps_iters_hidden(tmp_path, blobs_npz):
    out = runner.invoke(app, ["train", "--help"], env=WIDE).output
    assert "--iterations" in out and "--iters " not in out
    for flag in ("--iterations", "--iters"):
        args = ["train", "-d", str(blobs_npz), "--hidden", "8", flag, "20", "-o", str(tmp_path)]
        result = runner.invoke(app, [*args, "--eval-every", "10", "--no-diagnostics"])
        assert result.exit_code == 0, result.output
    summaries = sorted(tmp_path.glob("train-*/summary.csv"))
    assert len(summaries) == 2
    assert all(",20,0," in p.read_text() for p in summaries)  # iterations column = 20


def test_progress_lines_fit_80_columns():
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    bars = RunProgress(12, console=console)
    config = TrainConfig(hidden_sizes=(40, 30, 20), iterations=4000)
    bars("start", 0, RunSpec("deep", "deep-sigmoid-xavier-bn-40x30x20-seed-12", config))
    bars("eval", 0, EvalRecord(2000, 0.31234, 0.912, 0.9134))
    bars("figures", 3, 20)
    console.print(bars.progress.get_renderable())
    lines = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert "test 0.913" in lines[1] and "2000/4000" in lines[1] and "…" in lines[1]
    assert lines[2].startswith("figures") and "3/20" in lines[2]


class _Data:
    name = "mnist-5k"


def test_the_fallback_to_mnist_5k_is_said_once_with_the_fix(capsys):
    from koubai.cli import _app

    console = Console(width=300, record=True)
    old, _app.err_console = _app.err_console, console
    import koubai.cli.experiments as cli_experiments

    cli_experiments.err_console = console
    try:
        say_fallback("auto", _Data(), "en")
        say_fallback("mnist-5k", _Data(), "en")  # asked for by name: nothing to explain
    finally:
        _app.err_console = cli_experiments.err_console = old
    text = console.export_text()
    assert text.count("\n") == 1
    assert "not cached" in text and "koubai datasets fetch mnist" in text


def test_datasets_and_diagnose_speak_japanese_when_asked(tmp_path):
    table = runner.invoke(app, ["datasets", "--lang", "ja"], env=WIDE)
    assert table.exit_code == 0 and "名前" in table.output and "キャッシュ" in table.output
    english = runner.invoke(app, ["datasets", "--lang", "en"], env=WIDE)
    assert "名前" not in english.output and "cache:" in english.output
    empty = tmp_path / "empty"
    empty.mkdir()
    diagnosed = runner.invoke(app, ["diagnose", str(empty), "--lang", "ja"], env=WIDE)
    assert diagnosed.exit_code == 0 and "診断データ" in diagnosed.output


def test_the_command_list_shows_each_summary_as_one_paragraph():
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    # The docstrings break their lines after "for the" and "and": the list must not.
    assert "summary; for the paper experiments, the paper's claims" in flat
    lines = [line for line in result.output.splitlines() if " run " in f" {line.strip('│ ')} "]
    assert any("for the paper experiments" in line for line in lines)
    runs_help = runner.invoke(app, ["runs", "--help"], env=WIDE)
    assert "Example: koubai runs list" in runs_help.output


def test_a_broken_pipe_other_than_stdout_is_an_error_not_a_quiet_exit():
    import typer

    from koubai.cli._app import user_errors

    @user_errors
    def command() -> None:
        raise BrokenPipeError(32, "Broken pipe")  # a subprocess's pipe, say: stdout is fine

    one = typer.Typer()
    one.command()(command)
    result = runner.invoke(one, [])
    assert result.exit_code == 1
    assert result.output.strip() == "error: Broken pipe"
