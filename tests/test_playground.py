"""The playground's server: its schema, its sessions, its HTTP and WebSocket rules (no browser).

The real-browser tests are in ``test_playground_browser.py``.
"""

import json
import socket
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from koubai import datasets
from koubai.cli import app as cli_app
from koubai.errors import ConfigError
from koubai.playground import EXTRA_HINT, create_app, missing_extra
from koubai.playground.schema import (
    COMPARE,
    MAX_MESSAGE_BYTES,
    PlaygroundConfig,
    parse_config,
    parse_message,
)
from koubai.playground.server import Limits, _findings, _split_host, is_loopback, page_url
from koubai.playground.session import Session
from koubai.playground.toys import EXTENT, TOYS, grid, make_toy

HOST = "127.0.0.1:8765"
ORIGIN = f"http://{HOST}"


def client(**limits) -> TestClient:
    return TestClient(create_app(port=8765, limits=Limits(**limits)), base_url=ORIGIN)


def connect(c: TestClient, origin: str | None = ORIGIN, host: str = HOST):
    headers = {"host": host}
    if origin is not None:
        headers["origin"] = origin
    return c.websocket_connect("/ws", headers=headers)


def receive(ws, kind: str) -> dict:
    """The next message of type ``kind`` (others, such as late updates, are skipped)."""
    for _ in range(200):
        message = json.loads(ws.receive_text())
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message in 200")


def configure(ws, **config) -> dict:
    ws.send_text(json.dumps({"type": "config", "config": config}))
    receive(ws, "setup")
    return receive(ws, "update")


# -- the schema ----------------------------------------------------------------------------------
def test_the_defaults_are_the_seed_net():
    cfg = parse_config({})
    assert cfg == PlaygroundConfig()
    assert (cfg.hidden, cfg.activation, cfg.init, cfg.init_std, cfg.lr) == (
        (40, 20),
        "sigmoid",
        "gauss",
        0.01,
        0.1,
    )


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"hidden": [8] * 21}, "1 to 20"),
        ({"hidden": []}, "1 to 20"),
        ({"hidden": [8, 1]}, "hidden layer 2 width"),
        ({"hidden": [513]}, "at most 512"),
        ({"hidden": [8.5]}, "whole number"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"init": "orthogonal"}, "unknown init"),
        ({"lr": 0}, "lr must lie in"),
        ({"lr": "0.1"}, "lr must be a number"),
        ({"lr": float("inf")}, "finite"),
        ({"batch_size": True}, "batch_size must be a whole number"),
        ({"batch_size": 1001}, "at most 1,000"),
        ({"batchnorm": "yes"}, "batchnorm must be true or false"),
        ({"batchnorm": True, "batch_size": 1}, "batch norm needs batch_size >= 2"),
        ({"dataset": "/etc/passwd"}, "unknown dataset '/etc/passwd'"),
        ({"dataset": "../x.npz"}, "unknown dataset"),
        ({"compare": "all"}, "unknown compare"),
        ({"lang": "fr"}, "unknown language"),
        ({"seed": -1}, "seed must be"),
        ({"depth": 3}, "unknown config field 'depth'"),
    ],
)
def test_a_bad_setup_is_one_line_naming_the_field(config, words):
    with pytest.raises(ConfigError) as err:
        parse_config(config)
    message = str(err.value)
    assert words in message
    assert "\n" not in message


@settings(max_examples=40, deadline=None)
@given(
    hidden=st.lists(st.integers(2, 512), min_size=1, max_size=20),
    activation=st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu"]),
    init=st.sampled_from(["gauss", "xavier", "glorot_normal", "he"]),
    lr=st.floats(1e-5, 10.0),
    batchnorm=st.booleans(),
    compare=st.sampled_from(sorted(COMPARE)),
    dataset=st.sampled_from(["mnist-5k", "digits", *TOYS]),
)
def test_a_setup_round_trips_through_json(
    hidden, activation, init, lr, batchnorm, compare, dataset
):
    cfg = parse_config(
        {
            "hidden": hidden,
            "activation": activation,
            "init": init,
            "lr": lr,
            "batchnorm": batchnorm,
            "compare": compare,
            "dataset": dataset,
        }
    )
    assert parse_config(json.loads(json.dumps(cfg.as_dict()))) == cfg


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{bad", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": "fly"}', "unknown message type 'fly'"),
        ('{"type": "play", "speed": 2}', "takes no field 'speed'"),
        ('{"type": "config"}', "needs a 'config' object"),
        (b"\x00", "binary"),
        ("[" * 100_000, "too long"),
    ],
)
def test_a_bad_message_is_one_line(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_message(text)


def test_compare_presets_change_only_run_b():
    a = parse_config({"compare": "relu-he"})
    b = a.run_b()
    assert (a.activation, a.init) == ("sigmoid", "gauss")
    assert (b.activation, b.init, b.lr, b.hidden) == ("relu", "he", a.lr, a.hidden)
    assert parse_config({"compare": "batchnorm", "batchnorm": False}).run_b().batchnorm is True
    assert parse_config({}).run_b() is None


# -- the toys ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TOYS)
def test_toys_are_seeded_two_class_problems_in_the_plane(name):
    a, b, c = make_toy(name, seed=1), make_toy(name, seed=1), make_toy(name, seed=2)
    assert a.x_train.shape == (600, 2) and a.n_classes == 2
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert 0.35 < a.y_train.mean() < 0.65
    assert np.abs(a.x_train).max() < EXTENT


def test_grid_runs_row_by_row_from_the_top_left():
    g = grid(3)
    assert g.shape == (9, 2)
    np.testing.assert_allclose(g[0], [-EXTENT, EXTENT])
    np.testing.assert_allclose(g[2], [EXTENT, EXTENT])
    np.testing.assert_allclose(g[-1], [EXTENT, -EXTENT])


# -- sessions ------------------------------------------------------------------------------------
def session(**config) -> Session:
    cfg = parse_config(config)
    data = make_toy(cfg.dataset, cfg.seed) if cfg.dataset in TOYS else _mnist()
    return Session(cfg, data, max_iterations=10_000)


_cache = {}


def _mnist():
    from koubai import datasets

    if "mnist" not in _cache:
        _cache["mnist"] = datasets.load("mnist-5k")
    return _cache["mnist"]


def test_sigmoid_gauss_gradients_vanish_and_relu_he_do_not():
    deep = [40] * 6
    vanishing = session(hidden=deep).advance(steps=1)["runs"][0]["grad_norm"]
    assert vanishing[0] * 100 <= vanishing[5]  # layer 1 vs the last hidden layer
    healthy = session(hidden=deep, activation="relu", init="he").advance(steps=1)["runs"][0]
    ratio = healthy["grad_norm"][0] / healthy["grad_norm"][5]
    assert 0.1 <= ratio <= 10


def test_an_update_describes_every_layer_and_is_strict_json():
    s = session(dataset="circles", hidden=[8, 8, 8], activation="relu", init="he")
    update = s.advance(steps=3)
    run = update["runs"][0]
    assert update["iteration"] == 3
    assert len(run["grad_norm"]) == len(run["update_ratio"]) == 4  # 3 hidden + output
    assert len(run["hist"]) == len(run["dead"]) == 3
    assert all(sum(h) == 100 * 8 for h in run["hist"])  # batch × width values per layer
    assert len(run["boundary"]) == 40 * 40
    json.dumps(update, allow_nan=False)
    assert len(s.describe()["points"]) == 300


def test_compare_mode_trains_b_on_the_same_batches_without_touching_a():
    alone = session(dataset="xor", hidden=[8, 8]).advance(steps=20)
    both = session(dataset="xor", hidden=[8, 8], compare="relu-he").advance(steps=20)
    assert [r["label"] for r in both["runs"]] == ["A", "B"]
    assert both["runs"][0]["grad_norm"] == alone["runs"][0]["grad_norm"]
    assert both["runs"][1]["grad_norm"] != alone["runs"][0]["grad_norm"]


def test_divergence_names_the_layer_and_the_iteration_and_stops_that_run():
    s = session(dataset="xor", hidden=[64] * 4, activation="relu", init="he", lr=10.0)
    update = s.advance(steps=50)
    where = update["runs"][0]["diverged"]
    assert where is not None and update["finished"]
    assert where["layer"] in {"1", "2", "3", "4", "output"}
    assert 1 <= where["iteration"] == update["iteration"] < 50
    json.dumps(update, allow_nan=False)  # the non-finite numbers went out as null


def test_training_stops_at_the_iteration_limit():
    s = Session(parse_config({"dataset": "xor", "hidden": [4]}), make_toy("xor"), max_iterations=7)
    update = s.advance(steps=100)
    assert update["iteration"] == 7 and update["capped"] and update["finished"]


def test_forget_keeps_the_first_record_and_the_latest():
    s = session(dataset="xor", hidden=[4])
    for _ in range(12):
        s.advance(steps=1)
    probe = s.runs[0].probe
    probe.forget(5)
    assert probe.rows["iterations"] == [0, 9, 10, 11, 12]
    assert probe.update_rows["update_iterations"] == [1, 9, 10, 11, 12]
    assert len(probe.arrays()["weight_grad_norm"]) == 5


def test_findings_are_a_list_of_plain_dicts():
    s = session(dataset="xor", hidden=[4, 4])
    found = _findings(s.runs[0].probe.arrays(), "en")
    assert isinstance(found, list)
    for f in found:
        assert set(f) == {"kind", "layer", "iteration", "severity", "message"}


# -- HTTP ----------------------------------------------------------------------------------------
def test_the_page_has_the_stable_test_ids():
    page = client().get("/")
    assert page.status_code == 200
    for testid in ["train", "pause", "step", "reset", "activation", "init", "depth", "batchnorm"]:
        assert f'data-testid="{testid}"' in page.text
    assert 'data-testid="lr"' in page.text and 'data-testid="findings"' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # nothing from elsewhere
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_page_speaks_the_language_it_is_started_with():
    page = TestClient(create_app(port=8765, lang="ja"), base_url=ORIGIN).get("/")
    assert '<html lang="ja"' in page.text
    with pytest.raises(ConfigError):
        create_app(lang="fr")


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1.nip.io:8765", "127.0.0.1:9999"])
def test_requests_for_another_host_are_refused(host):
    response = client().get("/", headers={"host": host})
    assert response.status_code == 403
    assert "Host" in response.text


def test_localhost_is_the_same_machine():
    assert client().get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_host_rules_of_other_binds():
    wildcard = create_app(host="0.0.0.0", port=80)
    c = TestClient(wildcard, base_url="http://192.168.1.5:80")
    assert c.get("/").status_code == 200
    assert c.get("/", headers={"host": "rebind.example:80"}).status_code == 403
    assert _split_host("[::1]:80") == ("::1", "80")
    assert is_loopback("::1") and is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")
    assert page_url("0.0.0.0", 80, "ja") == "http://127.0.0.1:80/?lang=ja"


@pytest.mark.parametrize("path", ["/static/server.py", "/static/..%2Fserver.py", "/static/x"])
def test_only_the_pages_own_files_are_served(path):
    assert client().get(path).status_code == 404


def test_the_assets_are_served():
    c = client()
    assert "WebSocket" in c.get("/static/app.js").text
    assert c.get("/static/style.css").headers["content-type"].startswith("text/css")


# -- the WebSocket -------------------------------------------------------------------------------
def test_a_socket_trains_and_streams_updates():
    with connect(client()) as ws:
        hello = receive(ws, "hello")
        assert "mnist-5k" in hello["datasets"] and "spiral" in hello["datasets"]
        assert ("fashion-mnist" in hello["datasets"]) == datasets.available("fashion-mnist")
        assert hello["limits"]["max_sessions"] == 8
        first = configure(ws, dataset="spiral", hidden=[6, 6])
        assert first["iteration"] == 0 and first["runs"][0]["grad_norm"][0] > 0
        ws.send_text(json.dumps({"type": "step"}))
        assert receive(ws, "update")["iteration"] == 1
        ws.send_text(json.dumps({"type": "play"}))
        iterations = [receive(ws, "update")["iteration"] for _ in range(3)]
        assert iterations == sorted(iterations) and iterations[-1] > 1
        ws.send_text(json.dumps({"type": "pause"}))
        receive(ws, "paused")


def test_a_bad_message_gets_one_line_and_the_session_goes_on():
    with connect(client()) as ws:
        receive(ws, "hello")
        configure(ws, dataset="xor", hidden=[4])
        ws.send_text(json.dumps({"type": "play"}))
        receive(ws, "update")
        ws.send_text(json.dumps({"type": "config", "config": {"hidden": [8] * 50}}))
        error = receive(ws, "error")
        assert "hidden" in error["message"] and "\n" not in error["message"]
        before = receive(ws, "update")["iteration"]
        assert receive(ws, "update")["iteration"] > before  # still training
        ws.send_bytes(b"\x00\x01")
        assert "binary" in receive(ws, "error")["message"]
        ws.send_text("x" * (MAX_MESSAGE_BYTES + 1))
        assert "too long" in receive(ws, "error")["message"]
        assert receive(ws, "update")["runs"][0]["label"] == "A"


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "null", None])
def test_a_cross_origin_socket_is_refused(origin):
    with pytest.raises(WebSocketDisconnect) as err, connect(client(), origin=origin):
        pass
    assert err.value.code == 1008


def test_a_socket_for_another_host_is_refused():
    with pytest.raises(WebSocketDisconnect), connect(client(), host="rebind.example:8765"):
        pass


def test_the_ninth_session_is_told_busy():
    c = client()
    sockets = [connect(c) for _ in range(8)]
    opened = [s.__enter__() for s in sockets]
    try:
        for ws in opened:
            receive(ws, "hello")
        with connect(c) as ninth:
            busy = json.loads(ninth.receive_text())
            assert busy["type"] == "busy" and "8 training sessions" in busy["message"]
    finally:
        for s in sockets:
            s.__exit__(None, None, None)
    with connect(c) as again:  # once the others have gone, there is room
        assert receive(again, "hello")["type"] == "hello"


def test_an_idle_session_is_closed():
    with connect(client(idle_seconds=0.3)) as ws:
        receive(ws, "hello")
        closed = receive(ws, "closed")
        assert "without input" in closed["message"]


def test_a_run_stops_at_the_server_limit():
    with connect(client(max_iterations=30)) as ws:
        receive(ws, "hello")
        configure(ws, dataset="xor", hidden=[4])
        ws.send_text(json.dumps({"type": "play"}))
        update = receive(ws, "update")
        while not update["finished"]:
            update = receive(ws, "update")
        assert update["iteration"] == 30 and update["capped"]
        receive(ws, "paused")


def test_divergence_reaches_the_page():
    with connect(client()) as ws:
        receive(ws, "hello")
        configure(ws, dataset="xor", hidden=[64] * 4, activation="relu", init="he", lr=10.0)
        ws.send_text(json.dumps({"type": "play"}))
        update = receive(ws, "update")
        assert update["runs"][0]["diverged"]["iteration"] >= 1
        assert update["finished"] and not update["playing"]


# -- the command line ----------------------------------------------------------------------------
runner = CliRunner()


def test_without_the_extra_the_command_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert missing_extra() == EXTRA_HINT
    result = runner.invoke(cli_app, ["playground", "--no-browser"])
    assert result.exit_code == 1
    assert 'pip install "koubai[playground]"' in result.output


@pytest.mark.parametrize(
    ("args", "words"), [(["--lang", "fr"], "unknown language"), (["--port", "0"], "--port")]
)
def test_bad_options_are_one_line(args, words):
    result = runner.invoke(cli_app, ["playground", "--no-browser", *args])
    assert result.exit_code == 1 and words in result.output


def test_a_port_in_use_is_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli_app, ["playground", "--no-browser", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_bug_is_one_line_on_the_page_and_no_traceback(monkeypatch, caplog):
    def broken(self, **how):
        raise RuntimeError("a planted bug\nTraceback (most recent call last): ...")

    with connect(client()) as ws:
        receive(ws, "hello")
        configure(ws, dataset="xor", hidden=[4])
        monkeypatch.setattr(Session, "advance", broken)
        for kind in ("step", "play"):
            ws.send_text(json.dumps({"type": kind}))
            error = receive(ws, "error")
            assert error["message"] == "internal error (see the server's log)"
        receive(ws, "paused")  # playing stopped: the page does not wait forever
    assert "a planted bug" in caplog.text  # the server's log has it


def test_real_findings_travel_from_the_records_to_the_page_in_its_language():
    """Six sigmoid layers with gauss(0.01): koubai.diagnose finds the vanishing gradient at
    iteration 0 in hidden layer 1, and the page gets it in the language asked for."""
    setup = dict(dataset="xor", hidden=[16] * 6, activation="sigmoid", init="gauss", init_std=0.01)
    with connect(client()) as ws:
        receive(ws, "hello")
        first = configure(ws, **setup)
        found = first["runs"][0]["findings"]
        vanishing = [f for f in found if f["kind"] == "vanishing_gradient"]
        assert vanishing and vanishing[0]["iteration"] == 0
        assert set(vanishing[0]) == {"kind", "layer", "iteration", "severity", "message"}
        assert "1" in str(vanishing[0]["layer"])
        english = vanishing[0]["message"]
        ws.send_text(json.dumps({"type": "lang", "lang": "ja"}))
        update = receive(ws, "update")
        japanese = [f for f in update["runs"][0]["findings"] if f["kind"] == "vanishing_gradient"]
        assert japanese[0]["message"] != english
        assert any(
            "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff"
            for ch in japanese[0]["message"]
        )
        ws.send_text(json.dumps({"type": "lang", "lang": "de"}))
        assert "unknown language" in receive(ws, "error")["message"]


def test_another_host_than_loopback_is_warned_about():
    with socket.socket() as busy:  # the port is taken, so the command stops right after warning
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["playground", "--no-browser", "--host", "0.0.0.0", "--port", str(port)]
        result = runner.invoke(cli_app, args)
    assert "warning: listening on 0.0.0.0" in result.output
    assert result.exit_code == 1 and f"cannot listen on 0.0.0.0:{port}" in result.output
