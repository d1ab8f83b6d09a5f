"""The playground's web server: the page, and one WebSocket per page that trains.

``create_app()`` builds a Starlette application; :func:`serve` runs it with uvicorn. Safety:

* requests whose ``Host`` is not the address the server is bound to are refused (403): a page
  on another site cannot reach the server by rebinding its own DNS name to 127.0.0.1;
* a WebSocket whose ``Origin`` is not the page's own is refused before it is accepted;
* every message is checked by :mod:`koubai.playground.schema` (one-line error, the session goes
  on); at most ``max_sessions`` sockets train at once (the next one is told "busy"); a session
  without input for ``idle_seconds`` is closed; a run stops at ``max_iterations``;
* no file is named by the page (datasets are a fixed list); no traceback reaches the page.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from koubai import datasets
from koubai.checks import check_language
from koubai.diagnose import diagnose
from koubai.errors import KoubaiError
from koubai.playground import schema
from koubai.playground.schema import PlaygroundConfig, parse_config, parse_message
from koubai.playground.session import Session
from koubai.playground.toys import TOYS, make_toy

log = logging.getLogger("koubai.playground")

STATIC = Path(__file__).with_name("static")
_ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Limits:
    """What one server allows.

    Args:
        max_sessions: sockets training at once; the next is told "busy". Default: 8.
        max_iterations: updates of one run before it stops (reset starts again). Default: 100,000.
        idle_seconds: a socket without a message for this long is closed. Default: 900.
        chunk_seconds: training time between two updates while playing. Default: 0.08 (about
            ten updates a second with the measuring).
        findings_seconds: how often the findings are recomputed while playing. Default: 1.
    """

    max_sessions: int = 8
    max_iterations: int = 100_000
    idle_seconds: float = 900.0
    chunk_seconds: float = 0.08
    findings_seconds: float = 1.0


def _findings(records: dict, lang: str) -> list[dict[str, Any]]:
    """The diagnosis findings of one run's records, for the page's findings panel.

    ``records`` is what :meth:`koubai.training.probes.Diagnostics.arrays` returns. Each
    finding of :func:`koubai.diagnose.diagnose` becomes ``{kind, layer, iteration, severity,
    message}``, ``message`` in ``lang``.
    """
    return [
        {
            "kind": str(f.kind),
            "layer": _plain(f.layer),
            "iteration": _plain(f.iteration),
            "severity": str(f.severity),
            "message": f.message(lang),
        }
        for f in diagnose(records)
    ]


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number JSON can hold; None and strings as they are."""
    return value.item() if hasattr(value, "item") else value


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, str]:
    """``"127.0.0.1:8765"`` → ``("127.0.0.1", "8765")``; ``"[::1]:80"`` → ``("::1", "80")``."""
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    name, _, port = value.rpartition(":") if ":" in value else (value, "", "")
    return name, port


class HostGuard:
    """ASGI middleware: refuse any request whose ``Host`` header is not the bound address.

    Loopback binds also accept ``localhost``; a wildcard bind (0.0.0.0) accepts IP addresses
    and ``localhost`` but no other name, which is what a DNS-rebinding page would send.
    """

    def __init__(self, app, *, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host.strip("[]"), str(port)

    def allowed(self, header: str) -> bool:
        name, port = _split_host(header)
        if (port or "80") != self.port:  # no port: the scheme's, 80 for http
            return False
        if name == self.host or (is_loopback(self.host) and is_loopback(name)):
            return True
        if self.host in WILDCARDS:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return name == "localhost"
        return False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not self.allowed(host):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = PlainTextResponse(f"refused: unexpected Host {host!r}", 403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class DataCache:
    """The datasets offered, each loaded once (from a fixed list: never a name from a page)."""

    def __init__(self) -> None:
        images = [n for n in schema.IMAGE_DATASETS if datasets.available(n)]
        self.names: tuple[str, ...] = (*images, *TOYS)
        self._lock = threading.Lock()
        self._data: dict[Any, Any] = {}

    def get(self, name: str, seed: int):
        key = (name, seed) if name in TOYS else name
        with self._lock:
            if key not in self._data:
                if name in TOYS:
                    self._data[key] = make_toy(name, seed)
                else:  # a subsample keeps a step and an evaluation quick on Fashion-MNIST
                    big = name == "fashion-mnist"
                    n_train, n_test = (10_000, 1000) if big else (None, None)
                    self._data[key] = datasets.load(name, subsample=n_train, test_subsample=n_test)
            return self._data[key]


def _one_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "error"


class _Connection:
    """One page's socket: its messages, its session and the task that trains while playing."""

    def __init__(self, ws: WebSocket, server: _Server) -> None:
        self.ws, self.server = ws, server
        self.limits = server.limits
        self.lang = server.lang
        self.session: Session | None = None
        self.playing = False
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.findings_at = 0.0

    async def send(self, message: dict) -> None:
        async with self.send_lock:
            if self.ws.client_state == WebSocketState.CONNECTED:
                await self.ws.send_text(json.dumps(message, allow_nan=False))

    async def serve(self) -> None:
        await self.send(
            {
                "type": "hello",
                "datasets": list(self.server.data.names),
                "lang": self.lang,
                "limits": {
                    "max_depth": schema.MAX_DEPTH,
                    "min_width": schema.MIN_WIDTH,
                    "max_width": schema.MAX_WIDTH,
                    "max_batch": schema.MAX_BATCH,
                    "min_lr": schema.MIN_LR,
                    "max_lr": schema.MAX_LR,
                    **asdict(self.limits),
                },
            }
        )
        trainer = asyncio.create_task(self._train())
        try:
            while True:
                with anyio.move_on_after(self.limits.idle_seconds) as waiting:
                    message = await self.ws.receive()
                if waiting.cancelled_caught:
                    minutes = self.limits.idle_seconds / 60
                    await self.send(
                        {
                            "type": "closed",
                            "message": f"closed after {minutes:g} minutes without input; "
                            "reload the page to start again",
                        }
                    )
                    await self.ws.close(code=1000)
                    return
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message.get("text") if "text" in message else b"")
        finally:
            trainer.cancel()
            self.playing = False
            await asyncio.gather(trainer, return_exceptions=True)

    async def _handle(self, text) -> None:
        try:
            message = parse_message(text if text is not None else b"")
            kind = message["type"]
            if kind == "config":
                await self._setup(parse_config(message["config"], self.server.data.names))
            elif kind == "reset":
                config = self.session.config if self.session else PlaygroundConfig(lang=self.lang)
                await self._setup(config)
            elif kind == "lang":
                self.lang = message["lang"]
                if self.session is not None:  # findings in the new language, training goes on
                    self.session.config = replace(self.session.config, lang=self.lang)
                    await self.send(await asyncio.to_thread(self._snapshot, self.session))
            elif kind == "pause":
                self.playing = False
                await self.send({"type": "paused"})
            else:
                if self.session is None:
                    await self._setup(PlaygroundConfig(lang=self.lang))
                if kind == "play":
                    self.playing = True
                    self.wake.set()
                else:  # step
                    self.playing = False
                    session = self.session
                    update = await asyncio.to_thread(self._advance, session, steps=1)
                    if session is self.session:
                        await self.send(update)
        except KoubaiError as exc:
            await self.send({"type": "error", "message": _one_line(exc)})
        except Exception:  # a bug: logged here, never shown as a traceback on the page
            log.exception("playground: internal error")
            await self.send({"type": "error", "message": "internal error (see the server's log)"})

    async def _setup(self, config: PlaygroundConfig) -> None:
        self.playing = False
        data = await asyncio.to_thread(self.server.data.get, config.dataset, config.seed)
        session = await asyncio.to_thread(
            Session, config, data, max_iterations=self.limits.max_iterations
        )
        self.session, self.lang = session, config.lang
        await self.send(session.describe())
        self.findings_at = 0.0
        await self.send(await asyncio.to_thread(self._snapshot, session))

    def _with_findings(self, session: Session, update: dict, force: bool) -> dict:
        now = time.monotonic()
        if force or now - self.findings_at >= self.limits.findings_seconds:
            self.findings_at = now
            for run, out in zip(session.runs, update["runs"], strict=True):
                out["findings"] = _findings(run.probe.arrays(), self.lang)
        update["playing"] = self.playing
        return update

    def _snapshot(self, session: Session) -> dict:
        with session.lock:
            return self._with_findings(session, session.snapshot(), force=True)

    def _advance(self, session: Session, **how) -> dict:
        with session.lock:
            update = session.advance(**how)
            return self._with_findings(session, update, force="steps" in how or update["finished"])

    async def _train(self) -> None:
        while True:
            try:
                await self._train_chunk()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: the page is told and stops waiting, never a frozen page
                log.exception("playground: internal error while training")
                self.playing = False
                await self.send(
                    {"type": "error", "message": "internal error (see the server's log)"}
                )
                await self.send({"type": "paused"})

    async def _train_chunk(self) -> None:
        """Wait to be playing, then train one chunk and send its update."""
        await self.wake.wait()
        session = self.session
        if not self.playing or session is None or session.finished:
            self.wake.clear()
            if self.playing:  # nothing left to train
                self.playing = False
                await self.send({"type": "paused"})
            return
        update = await asyncio.to_thread(self._advance, session, seconds=self.limits.chunk_seconds)
        if session is self.session:
            update["playing"] = self.playing and not update["finished"]
            await self.send(update)


class _Server:
    def __init__(self, host: str, port: int, lang: str, limits: Limits) -> None:
        self.host, self.port, self.lang, self.limits = host, port, lang, limits
        self.data = DataCache()
        self.active = 0
        self.page = (STATIC / "index.html").read_text(encoding="utf-8")

    async def index(self, request: Request) -> Response:
        return HTMLResponse(self.page.replace("{{LANG}}", self.lang), headers=_HEADERS)

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:  # a fixed list: no path from the page reaches the disk
            return PlainTextResponse("not found", 404)
        body = (STATIC / name).read_bytes()
        return Response(body, media_type=_ASSETS[name], headers=_HEADERS)

    async def socket(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin != f"http://{ws.headers.get('host')}":
            await ws.close(code=1008)  # before accepting: the handshake gets a 403
            return
        await ws.accept()
        if self.active >= self.limits.max_sessions:
            n = self.limits.max_sessions
            message = f"busy: {n} training sessions are open, the most this server allows; "
            message += "close one and try again"
            await ws.send_text(json.dumps({"type": "busy", "message": message}))
            await ws.close(code=1013)
            return
        self.active += 1
        try:
            await _Connection(ws, self).serve()
        finally:
            self.active -= 1


def create_app(
    *, host: str = "127.0.0.1", port: int = 8765, lang: str = "en", limits: Limits | None = None
) -> HostGuard:
    """The playground as an ASGI application, for a server bound to ``host:port``.

    Args:
        host: the address the server listens on (the ``Host`` header must name it).
            Default: "127.0.0.1".
        port: its port. Default: 8765.
        lang: the page's language when its URL says none: "en" or "ja". Default: "en".
        limits: see :class:`Limits`. Default: ``Limits()``.
    """
    server = _Server(host, port, check_language(lang), limits or Limits())
    app = Starlette(
        routes=[
            Route("/", server.index),
            Route("/static/{name}", server.asset),
            WebSocketRoute("/ws", server.socket),
        ]
    )
    app.state.playground = server
    return HostGuard(app, host=host, port=port)


def page_url(host: str, port: int, lang: str) -> str:
    """The address a browser opens (a wildcard bind is opened on this machine's loopback)."""
    name = "127.0.0.1" if host in WILDCARDS else host
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}:{port}/?lang={lang}"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    lang: str = "en",
    open_browser: bool = True,
    limits: Limits | None = None,
    on_ready=None,
) -> None:
    """Run the playground until Ctrl-C.

    Args:
        host: address to listen on; anything but loopback lets other machines in. Default:
            "127.0.0.1".
        port: port to listen on. Default: 8765.
        lang: the page's default language, "en" or "ja". Default: "en".
        open_browser: open the page in the default browser. Default: True.
        limits: see :class:`Limits`. Default: ``Limits()``.
        on_ready: called with the page's URL once the port is bound. Default: None.

    Raises:
        OSError: the port cannot be bound (in use, or not allowed).
    """
    import socket
    import webbrowser

    import uvicorn
    from threadpoolctl import threadpool_limits

    app = create_app(host=host, port=port, lang=lang, limits=limits)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # a clear error before uvicorn's
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    url = page_url(host, port, lang)
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=4 * schema.MAX_MESSAGE_BYTES,
        ws_ping_interval=20.0,
    )
    # Small products: one BLAS thread per training thread beats several fighting for 2 cores.
    with threadpool_limits(1, user_api="blas"):
        uvicorn.Server(config).run()
