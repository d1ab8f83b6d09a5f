"""``koubai export tensorboard``: a results folder as TensorBoard event files."""

from __future__ import annotations

from pathlib import Path

import typer

from koubai.cli._app import app, example, say, user_errors

export_app = typer.Typer(
    help="Export a results folder for other tools (TensorBoard).",
    epilog="Example: koubai export tensorboard koubai-results/vanishing-20261128-132703",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


@export_app.command(
    epilog=example("koubai export tensorboard koubai-results/vanishing-20261128-132703")
)
@user_errors
def tensorboard(
    folder: Path = typer.Argument(..., metavar="FOLDER", help="An experiment's results folder."),
    logdir: Path | None = typer.Option(
        None, "--logdir", metavar="DIR", help="Where to write.", show_default="FOLDER/tensorboard"
    ),
) -> None:
    """Write loss, accuracies, per-layer gradient norms, update ratios and activation
    histograms of every run as TensorBoard event files (needs koubai[tensorboard])."""
    from koubai.report.tensorboard import export_tensorboard

    runs = export_tensorboard(folder, logdir)
    root = runs[0].parent if runs else (logdir or folder)
    say(f"{len(runs)} runs written to {root}")
    say(f"open them with: tensorboard --logdir {root}")
