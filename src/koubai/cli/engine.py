"""Engine commands: ``koubai version`` and ``koubai gradcheck``."""

from __future__ import annotations

import typer

from koubai.cli._app import app, console, example, fail, user_errors
from koubai.errors import ConfigError


@app.command(epilog=example("koubai version   (or koubai --version)"))
def version() -> None:
    """Print koubai's version."""
    from koubai import __version__

    console.print(f"koubai {__version__}")


@app.command(epilog=example("koubai gradcheck --batchnorm --activation relu --hidden 8,6,4"))
@user_errors
def gradcheck(
    hidden: str = typer.Option("8,6", metavar="SIZES", help="Hidden sizes, comma separated."),
    activation: str = typer.Option("sigmoid", help="sigmoid, tanh, relu or leaky_relu."),
    init: str = typer.Option("xavier", help="Weight initializer."),
    batchnorm: bool = typer.Option(False, "--batchnorm/--no-batchnorm", help="Batch norm."),
    batch: int = typer.Option(6, min=2, help="Batch size of the check."),
    seed: int = typer.Option(0, help="Random seed."),
    tol: float = typer.Option(1e-6, help="Largest relative error that passes."),
) -> None:
    """Check back-propagation of a small float64 net against central differences."""
    import numpy as np

    from koubai.engine import MLP, check_model

    sizes = parse_sizes(hidden)
    rng = np.random.default_rng(seed)
    net = MLP(
        7,
        sizes,
        4,
        activation=activation,
        init=init,
        batchnorm=batchnorm,
        seed=seed,
        dtype=np.float64,
    )
    x = rng.standard_normal((batch, 7))
    t = rng.integers(0, 4, size=batch)
    result = check_model(net, x, t)
    console.print(str(result))
    if not result.ok(tol):
        fail(f"max relative error {result.max_error:.3e} exceeds {tol:g}")
    console.print(f"[green]ok[/]: back-propagation agrees with central differences (≤ {tol:g})")


def parse_sizes(text: str) -> list[int]:
    """``"40,20"`` → ``[40, 20]``; ``""`` → ``[]``; anything else is a one-line ``ValueError``."""
    text = text.strip()
    if not text:
        return []
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise ConfigError(
            f"hidden sizes must be comma-separated positive integers like 40,20; got {text!r}"
        ) from None
    if any(s <= 0 for s in sizes):
        raise ConfigError(f"hidden sizes must be positive integers, got {text!r}")
    return sizes
