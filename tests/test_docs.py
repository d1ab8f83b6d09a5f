"""The README is true to the code: every command is documented and its example runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from koubai.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
runner = CliRunner()


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)


def test_there_are_commands():
    assert {"run", "train", "show", "lessons", "datasets", "gradcheck"} <= set(_commands())


@pytest.mark.parametrize("name", _commands())
def test_every_command_is_documented_and_has_help(name):
    assert f"koubai {name}" in README, f"`koubai {name}` is missing from the README"
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_readme_commands_are_the_ones_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    test_command = ci.strip().splitlines()[-1]
    assert f"```bash\n{test_command}\n```" in README


def test_the_readme_python_example_runs_and_shows_the_claim():
    code = re.search(r"## Ten lines of Python\n\n```python\n(.*?)```", README, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ratios = {line.split()[0]: float(line.split()[-1]) for line in out.stdout.splitlines()}
    assert ratios["sigmoid"] < 1e-9  # "some 10^15 times smaller"
    assert 0.1 < ratios["relu"] < 10  # "of the same size"


def test_python_m_koubai_works():
    out = subprocess.run(
        [sys.executable, "-m", "koubai", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("koubai ")
