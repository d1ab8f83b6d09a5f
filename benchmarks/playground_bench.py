"""The playground under load: updates a page receives, steps the server keeps, 8 sessions at once.

Starts ``koubai playground --no-browser`` in its own process (as a user would), then drives it
with WebSocket clients in this process, each playing the seed net (784-[40,20]-10, sigmoid +
gauss, SGD lr 0.1, batch 100, diagnostics recorded at every update) on mnist-5k:

1. one session for ``--seconds``: updates received per second, and training steps per second
   while streaming (targets: >= 10 updates/s, >= 500 steps/s);
2. eight sessions at once for ``--concurrent-seconds``: errors, and each session's updates per
   second (target: every one >= 2/s, no error); and a ninth is told "busy".

    python benchmarks/playground_bench.py [--quick] [--seconds 10] [--concurrent-seconds 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

from websockets.sync.client import connect

SEED_NET = {"dataset": "mnist-5k", "hidden": [40, 20], "activation": "sigmoid", "init": "gauss"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "koubai", "playground", "--no-browser", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start: {proc.stdout.read()}")


class Client:
    """One page: sets up the seed net, plays, and counts what arrives."""

    def __init__(self, port: int) -> None:
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}")
        )
        self.first = json.loads(self.ws.recv())
        self.updates: list[tuple[float, int]] = []  # (arrival time, iteration)
        self.errors: list[str] = []

    def setup(self) -> None:
        self.ws.send(json.dumps({"type": "config", "config": SEED_NET}))
        while json.loads(self.ws.recv())["type"] != "update":
            pass

    def play(self, seconds: float) -> None:
        self.ws.send(json.dumps({"type": "play"}))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = json.loads(self.ws.recv(timeout=5))
            if message["type"] == "update":
                self.updates.append((time.monotonic(), message["iteration"]))
            elif message["type"] in ("error", "busy", "closed"):
                self.errors.append(message["message"])
        self.ws.send(json.dumps({"type": "pause"}))

    def rates(self, skip: float = 1.0) -> tuple[float, float]:
        """Updates per second and steps per second, after the first ``skip`` seconds."""
        t0 = self.updates[0][0] + skip
        kept = [(t, it) for t, it in self.updates if t >= t0]
        span = kept[-1][0] - kept[0][0]
        return (len(kept) - 1) / span, (kept[-1][1] - kept[0][1]) / span

    def close(self) -> None:
        self._stack.close()


def single(port: int, seconds: float) -> None:
    client = Client(port)
    client.setup()
    client.play(seconds)
    updates, steps = client.rates()
    gaps = [b[0] - a[0] for a, b in zip(client.updates, client.updates[1:], strict=False)]
    client.close()
    print(f"one session, seed net, {seconds:g} s:")
    print(f"  updates received   {updates:7.1f} /s   (target >= 10)  {_ok(updates >= 10)}")
    print(f"  steps while streaming {steps:7.0f} /s (target >= 500) {_ok(steps >= 500)}")
    print(f"  longest gap between updates {1000 * max(gaps):.0f} ms; errors {client.errors or 0}")


def concurrent(port: int, seconds: float, n: int = 8) -> None:
    clients = [Client(port) for _ in range(n)]
    assert all(c.first["type"] == "hello" for c in clients), [c.first for c in clients]
    ninth = Client(port)
    busy = ninth.first
    ninth.close()
    for c in clients:
        c.setup()
    threads = [threading.Thread(target=c.play, args=(seconds,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rates = [c.rates() for c in clients]
    errors = [e for c in clients for e in c.errors]
    for c in clients:
        c.close()
    low = min(u for u, _ in rates)
    total = sum(s for _, s in rates)
    print(f"{n} sessions at once, seed net, {seconds:g} s:")
    print(
        f"  updates per session: min {low:.1f}, median "
        f"{statistics.median(u for u, _ in rates):.1f} /s   (target: every >= 2) {_ok(low >= 2)}"
    )
    print(f"  steps, all sessions together: {total:.0f} /s")
    print(f"  errors: {len(errors)} {errors[:2] if errors else ''} {_ok(not errors)}")
    print(f"  a ninth session: {busy['type']!r}: {busy.get('message', '')[:70]}")


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s and 8 s instead of 10 and 30")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrent-seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.concurrent_seconds = 4.0, 8.0
    port = free_port()
    server = start_server(port)
    try:
        single(port, args.seconds)
        concurrent(port, args.concurrent_seconds)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
