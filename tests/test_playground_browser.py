"""The playground in a real browser: Playwright drives Debian's chromium against a live server.

Skipped only when ``/usr/bin/chromium`` is missing (``apt-get install chromium``; CI installs
it). Small networks and a few steps keep the whole file well under a minute.
"""

import re
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)",
)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

DEEP = ",".join(["40"] * 6)


@pytest.fixture(scope="module")
def base_url():
    import uvicorn

    from koubai.playground import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(port=port), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser, base_url):
    """Open the playground at a query string; console errors are collected in page.errors."""
    pages = []

    def _open(query: str = "", width: int = 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(f"{base_url}/{query}")
        expect(page.get_by_test_id("grad-layer-1")).to_have_text(re.compile(r"\d"))
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.close()


def grads(page, depth: int, prefix: str = "grad-layer") -> list[float]:
    return [float(page.get_by_test_id(f"{prefix}-{i}").inner_text()) for i in range(1, depth + 1)]


def one_step(page) -> None:
    page.get_by_test_id("step").click()
    expect(page.get_by_test_id("iteration")).to_have_text("1")


def test_the_page_loads_with_no_console_errors(open_page):
    page = open_page()
    expect(page.get_by_test_id("status")).to_have_text(re.compile("paused|connected"))
    for testid in ["train", "pause", "step", "reset", "activation", "init", "depth", "batchnorm"]:
        expect(page.get_by_test_id(testid)).to_be_visible()
    expect(page.get_by_test_id("lr")).to_be_visible()
    assert page.errors == []


def test_train_makes_the_gradient_values_change(open_page):
    page = open_page("?dataset=xor&hidden=8,8")
    before = page.get_by_test_id("grad-layer-1").inner_text()
    page.get_by_test_id("train").click()
    expect(page.get_by_test_id("grad-layer-1")).not_to_have_text(before)
    expect(page.get_by_test_id("iteration")).not_to_have_text("0")
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("status")).to_have_text("paused")
    assert page.errors == []


def test_sigmoid_gauss_vanishes_and_relu_he_brings_it_back(open_page):
    page = open_page(f"?hidden={DEEP}&activation=sigmoid&init=gauss&init_std=0.01")
    one_step(page)
    g = grads(page, 6)
    assert g[0] * 100 <= g[5], g  # layer 1 at least 100x smaller than the last hidden layer
    page.get_by_test_id("activation").select_option("relu")
    page.get_by_test_id("init").select_option("he")
    expect(page.get_by_test_id("run-A")).to_contain_text("relu + he")
    one_step(page)
    g = grads(page, 6)
    assert 0.1 <= g[0] / g[5] <= 10, g


def test_compare_mode_runs_two_networks(open_page):
    page = open_page("?dataset=xor&hidden=8,8,8&compare=relu-he")
    expect(page.get_by_test_id("run-A")).to_contain_text("sigmoid")
    expect(page.get_by_test_id("run-B")).to_contain_text("relu + he")
    page.get_by_test_id("train").click()
    expect(page.get_by_test_id("iteration")).to_have_text(re.compile(r"^\d{3,}$"))
    page.get_by_test_id("pause").click()
    b = grads(page, 3, "grad-layer-b")
    a = grads(page, 3)
    assert b != a and all(v > 0 for v in a + b)


def test_the_url_round_trips_the_state(open_page, browser):
    query = "?dataset=circles&hidden=16,16,16&activation=tanh&init=he&lr=0.003&batch_size=50"
    page = open_page(query + "&batchnorm=1&bn_convention=torch&optimizer=adam&seed=3")
    assert page.get_by_test_id("depth").input_value() == "3"
    assert page.get_by_test_id("width").input_value() == "16"
    assert page.get_by_test_id("activation").input_value() == "tanh"
    assert page.get_by_test_id("init").input_value() == "he"
    assert page.get_by_test_id("batchnorm").is_checked()
    assert page.get_by_test_id("bn-convention").input_value() == "torch"
    assert page.get_by_test_id("optimizer").input_value() == "adam"
    assert page.get_by_test_id("seed").input_value() == "3"
    expect(page.get_by_test_id("run-A")).to_contain_text("adam 0.003")
    page.get_by_test_id("activation").select_option("leaky_relu")
    expect(page.get_by_test_id("run-A")).to_contain_text("leaky_relu")
    url = page.url
    assert "activation=leaky_relu" in url and "lr=0.003" in url and "hidden=16%2C16%2C16" in url
    again = browser.new_page()
    again.goto(url)
    expect(again.get_by_test_id("run-A")).to_contain_text("circles · [16, 16, 16] · leaky_relu")
    assert again.get_by_test_id("batch-size").input_value() == "50"
    assert again.get_by_test_id("batchnorm").is_checked()
    again.close()


def test_a_phone_width_has_no_horizontal_scroll(open_page):
    page = open_page(f"?hidden={DEEP}&compare=relu-he", width=390)
    one_step(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_japanese_mode_shows_japanese_labels(open_page):
    page = open_page("?lang=ja&dataset=xor&hidden=4")
    expect(page.get_by_test_id("train")).to_have_text("学習")
    expect(page.locator("label", has=page.get_by_test_id("activation"))).to_contain_text(
        "活性化関数"
    )
    assert page.evaluate("document.documentElement.lang") == "ja"
    page.get_by_test_id("activation").focus()
    expect(page.get_by_test_id("help")).to_contain_text("シグモイド")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("train")).to_have_text("Train")
    assert "lang=en" in page.url


def test_divergence_is_shown_not_frozen(open_page):
    page = open_page("?dataset=xor&hidden=64,64,64,64&activation=relu&init=he&lr=10")
    page.get_by_test_id("train").click()
    banner = page.get_by_test_id("diverged-A")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(re.compile(r"(layer \d|output layer).*iteration \d+"))
    expect(page.get_by_test_id("status")).to_have_text("paused")


def test_a_bad_value_shows_one_line_and_keeps_the_page(open_page):
    page = open_page("?dataset=xor&hidden=4")
    page.get_by_test_id("depth").fill("25")
    page.get_by_test_id("depth").dispatch_event("change")
    expect(page.get_by_test_id("error")).to_contain_text("1 to 20")
    one_step(page)


def test_the_findings_panel_shows_the_diagnosis_in_the_pages_language(open_page):
    # Six sigmoid layers with gauss(0.01): koubai.diagnose finds the vanishing gradient.
    page = open_page("?dataset=xor&hidden=16,16,16,16,16,16&activation=sigmoid&init=gauss")
    findings = page.get_by_test_id("findings")
    expect(findings).to_contain_text("vanishing gradient")
    english = findings.inner_text()
    one_step(page)
    page.get_by_test_id("lang").click()
    expect(findings).not_to_have_text(english)
    expect(findings).to_contain_text(re.compile("[\u3040-\u30ff\u4e00-\u9fff]"))
    expect(page.get_by_test_id("iteration")).to_have_text("1")  # the language did not reset
