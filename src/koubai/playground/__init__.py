"""The playground: watch gradients vanish live in the browser, and fix them with a click.

``koubai playground`` starts a local web server (Starlette + uvicorn, the ``playground``
extra). The server trains with koubai's own engine and streams per-layer statistics to the page
over a WebSocket; the page only draws. See ``docs/playground.md``.

>>> from koubai.playground import create_app   # an ASGI app, e.g. for Starlette's TestClient
"""

from __future__ import annotations

EXTRA_HINT = 'the playground needs its extra: pip install "koubai[playground]"'


def missing_extra() -> str | None:
    """A one-line message naming what to install when the web stack is missing, else None."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        return EXTRA_HINT
    return None


def __getattr__(name: str):
    # The web stack is imported only when asked for, so `import koubai.playground` always works.
    if name in ("create_app", "serve", "Limits"):
        from koubai.playground import server

        return getattr(server, name)
    raise AttributeError(f"module 'koubai.playground' has no attribute {name!r}")


__all__ = ["EXTRA_HINT", "Limits", "create_app", "missing_extra", "serve"]
