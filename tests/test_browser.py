"""The built site in a real browser: headless Chromium driven by Playwright.

Without Chromium the tests skip with the reason; under CI (CI=true) a missing
browser fails instead. Screenshots of every page go to test-results/ so a
failing run can be inspected.
"""
import functools
import http.server
import os
import shutil
import threading

import pytest

from tests.conftest import ROOT
from tests.site_checks import nav_urls

SCREENSHOTS = ROOT / "test-results" / "screenshots"
CHROMIUM_ARGS = [  # a sandboxed CI container, and no network but loopback
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]


def find_chromium():
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if path:
        return path
    reason = "Chromium not found (install Debian's 'chromium', or set CHROMIUM=/path)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: under CI the browser test must run")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site_url(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stdout + result.stderr
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  color_scheme="light")
    page = context.new_page()
    page.errors = []

    def on_console(message):
        # Requests that leave this machine (the repository's star count from GitHub's API)
        # fail here by design: only the site's own resources must load.
        url = message.location.get("url", "")
        if message.type == "error" and (not url or url.startswith(site_origin(page))):
            page.errors.append(f"{message.text} ({url})" if url else message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def site_origin(page):
    return "http://127.0.0.1:"


def open_page(page, url, name):
    response = page.goto(url, wait_until="networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name or 'index'}.png".replace("/", "")),
                    full_page=False)
    return response


@pytest.mark.parametrize("path", nav_urls(), ids=lambda p: p or "index")
def test_page_loads_cleanly(page, site_url, path):
    response = open_page(page, site_url + path, path)
    where = f"page /{path}"
    assert response is not None and response.status == 200, f"{where}: HTTP {response.status}"
    assert not page.errors, f"{where}: console errors {page.errors}"
    broken = page.evaluate("""() => Array.from(document.images)
        .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src)""")
    assert not broken, f"{where}: images that did not load: {broken}"
    # Material's code blocks; a notebook's Markdown cells are rendered by mkdocs-jupyter.
    blocks = (page.locator("div.highlight pre").count()
              - page.locator(".jp-Notebook div.highlight pre").count())
    # Material 9.8 draws them as md-code__button (older releases: md-clipboard).
    copy_buttons = page.locator("button.md-code__button[data-md-type='copy'], "
                                "button.md-clipboard").count()
    assert copy_buttons >= blocks, f"{where}: {blocks} code blocks, {copy_buttons} copy buttons"


def test_search_finds_the_gradients_chapter(page, site_url):
    open_page(page, site_url, "search")
    search = page.locator("input.md-search__input")
    search.focus()
    search.press_sequentially("GradientTape")  # typed: the search reacts to key events
    # The list re-renders with every key and every worker message: read it in one step
    # inside the page, and wait (generously: a busy 2-core machine) until it holds the
    # chapter, instead of reading links one by one while they are being replaced.
    found = """() => Array.from(document.querySelectorAll('.md-search-result__item a'))
        .some(a => (a.getAttribute('href') || '').includes('gradients/'))"""
    try:
        page.wait_for_function(found, timeout=45000)
    finally:
        page.screenshot(path=str(SCREENSHOTS / "search-results.png"))


def test_palette_toggle_switches_light_and_dark(page, site_url):
    open_page(page, site_url + "tensors/", "tensors-light")

    def scheme():
        return page.evaluate("document.body.getAttribute('data-md-color-scheme')")

    assert scheme() == "default"
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    page.screenshot(path=str(SCREENSHOTS / "tensors-dark.png"))
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")


def test_case_study_shows_its_figures_and_its_results_table(page, site_url):
    open_page(page, site_url + "cifar10/", "cifar10-full")
    sizes = page.evaluate("""() => Array.from(document.images)
        .filter(img => /plots\\/[a-z]+\\.png$/.test(img.src))
        .map(img => [img.src.split('/').pop(), img.naturalWidth])""")
    assert sorted(name for name, _ in sizes) == ["acc.png", "confusion.png", "errors.png",
                                                 "loss.png", "samples.png"], sizes
    assert all(width > 0 for _, width in sizes), sizes
    table = page.locator("table", has_text="Seconds per epoch")  # the results table
    assert table.count() == 1
    text = table.inner_text()
    assert "Test accuracy" in text and "baseline" in text and "improved" in text
    assert "%" in text


def test_math_is_typeset(page, site_url):
    open_page(page, site_url + "gradients/", "gradients")
    assert page.locator(".katex").count() > 0, "no formula rendered by KaTeX"
    assert not page.errors, page.errors
