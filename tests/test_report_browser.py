"""The report in a real browser (Playwright driving Debian's chromium): a desktop and a phone,
no console errors, no sideways scrolling, values on hover, runs toggled from the legend,
Japanese when asked, nothing fetched from the network, and static figures with JS off."""

import re
from pathlib import Path

import pytest

from koubai.experiments import parse_spec, run_experiment
from koubai.report.html import write_report

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (apt install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

SPEC = """
name = "browser"
title = "Browser check"
[base]
hidden_sizes = [8, 6]
iterations = 60
batch_size = 20
eval_every = 10
diagnostics_every = 20
lr = 0.5
[[group]]
name = "g"
title = "sigmoid against ReLU"
runs = [{ activation = "sigmoid", init = "gauss" }, { activation = "relu", init = "he" }]
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from conftest import make_blobs  # the shared synthetic data
    from koubai.datasets import from_arrays

    data = from_arrays(*make_blobs(), name="blobs", source="tests")
    out = tmp_path_factory.mktemp("browser")
    exp = run_experiment(parse_spec(SPEC), dataset=data, out_dir=out, lang="en", workers=1)
    english = exp.folder / "report.html"
    japanese = exp.folder / "report-ja-copy.html"
    japanese.write_text(write_report(exp.folder, lang="ja").read_text("utf-8"), "utf-8")
    write_report(exp.folder, lang="en")
    return {"en": english, "ja": japanese}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path: Path, width: int, *, javascript: bool = True):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=javascript
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    fetched: list[str] = []

    def no_network(route):
        fetched.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(https?|wss?)://"), no_network)
    page.goto(path.as_uri())
    if javascript:
        page.wait_for_selector("[data-testid^='chart-comparison'] .main-svg", timeout=20_000)
    return context, page, problems, fetched


@pytest.mark.parametrize("width", [1280, 390])
def test_loads_without_errors_or_sideways_scrolling(browser, reports, width):
    context, page, problems, fetched = _open(browser, reports["en"], width)
    try:
        assert problems == [] and fetched == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert page.locator("[data-testid='what-g']").is_visible()
    finally:
        context.close()


def test_hovering_a_curve_shows_a_value(browser, reports):
    context, page, _, _ = _open(browser, reports["en"], 1280)
    try:
        chart = page.locator("[data-testid='chart-comparison-g']")
        chart.scroll_into_view_if_needed()
        box = chart.locator(".nsewdrag").first.bounding_box()
        value = re.compile(r"\b[01]\.\d{3}\b")
        texts = ""
        for fraction in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75):  # until a label is drawn
            page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.5)
            page.wait_for_timeout(300)
            texts = " ".join(chart.locator(".hoverlayer text").all_text_contents())
            if value.search(texts):
                break
        assert value.search(texts), texts
    finally:
        context.close()


def test_clicking_a_legend_entry_hides_that_run(browser, reports):
    context, page, _, _ = _open(browser, reports["en"], 1280)
    try:
        chart = page.locator("[data-testid='chart-comparison-g']")
        lines = chart.locator(".scatterlayer .trace")
        assert lines.count() == 2
        chart.locator(".legendtoggle").first.click()
        page.wait_for_function(
            "document.querySelector(\"[data-testid='chart-comparison-g']\").data[0].visible"
            " === 'legendonly'"
        )
        assert lines.count() == 1
    finally:
        context.close()


def test_japanese_when_asked(browser, reports):
    context, page, problems, _ = _open(browser, reports["ja"], 390)
    try:
        assert page.evaluate("document.documentElement.lang") == "ja"
        assert "この結果からわかること" in page.inner_text("body")
        assert problems == []
    finally:
        context.close()


def test_static_figures_without_javascript(browser, reports):
    context, page, _, fetched = _open(browser, reports["en"], 390, javascript=False)
    try:
        image = page.locator("[data-testid='chart-comparison-g'] img")
        assert image.is_visible()
        assert page.evaluate("document.querySelector('[data-testid=\"chart-comparison-g\"] img')"
                             ".naturalWidth") > 100  # fmt: skip
        assert fetched == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def monitor_reports(tmp_path_factory):
    """The report of ``koubai.torch.Monitor`` on a deep sigmoid net (a vanishing gradient)
    whose layers have long names, in English and in Japanese."""
    torch = pytest.importorskip("torch", reason='koubai.torch needs "koubai[torch]"')
    from koubai.torch import Monitor

    nn = torch.nn
    torch.manual_seed(0)
    layers = {}
    for k in range(6):
        lin = nn.Linear(8 if k == 0 else 16, 16)
        nn.init.normal_(lin.weight, std=0.01)
        layers[f"encoder_block_{k}_with_a_rather_long_descriptive_name"] = lin
        layers[f"sigmoid_{k}"] = nn.Sigmoid()
    layers["head"] = nn.Linear(16, 3)
    model = nn.Sequential(__import__("collections").OrderedDict(layers))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    out = tmp_path_factory.mktemp("monitor")
    with Monitor(model, opt, every=2) as mon:
        for _ in range(9):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        assert mon.findings, "the deep sigmoid net should show a vanishing gradient"
        return {lang: mon.report(out / lang, lang=lang) for lang in ("en", "ja")}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_monitor_report_fits_and_speaks_the_language(browser, monitor_reports, width, lang):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        page.goto(monitor_reports[lang].as_uri())
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0 and problems == []
        assert page.locator("[data-testid='finding']").first.is_visible()
        assert page.locator("[data-testid='figure-gradient-flow'] img").is_visible()
        headings = " ".join(page.locator("h1, h2").all_inner_texts())
        if lang == "ja":
            assert "診断結果" in headings and "勾配の流れ" in headings
            assert not re.search(r"Findings|Gradient flow|Layers|diagnostics of", headings)
            assert "問題" in page.locator("[data-testid='finding']").first.inner_text()
        else:
            assert "Findings" in headings and "Gradient flow" in headings
    finally:
        context.close()
