"""The built site in a real browser: headless Chromium driven by Playwright.

Without Chromium the tests skip with the reason; under CI (CI=true) a missing
browser fails instead. A page whose checks fail is photographed into
test-results/screenshots/ so the run can be inspected, as are the dark scheme and
the search results.
"""
import contextlib
import functools
import http.server
import os
import shutil
import threading
import time

import pytest

from tests.conftest import ROOT
from tests.site_checks import nav_urls

SCREENSHOTS = ROOT / "test-results" / "screenshots"
CHROMIUM_ARGS = [  # a sandboxed CI container, and no network but loopback
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SITE_ORIGIN = "http://127.0.0.1:"
# After 'load' the search worker is still fetching the index; the browser asks for the
# favicon once the page has stopped loading, so when the favicon is in, all is in. A
# browser that remembers a missing favicon does not ask again: then, like Playwright's
# 'networkidle', wait until no request to the site has been open for IDLE seconds.
IDLE, SETTLE_TIMEOUT = 0.5, 30

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


@contextlib.contextmanager
def watched_page(browser):
    """A page in a context of its own, recording its console errors and its requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  color_scheme="light")
    page = context.new_page()
    page.errors, page.in_flight, page.done = [], set(), set()
    page.last_request = time.monotonic()

    def on_console(message):
        # Requests that leave this machine (the repository's star count from GitHub's API)
        # fail here by design: only the site's own resources must load.
        url = message.location.get("url", "")
        if message.type == "error" and (not url or url.startswith(SITE_ORIGIN)):
            report(f"{message.text} ({url})" if url else message.text)

    def report(error):  # with the page it came from: the tab goes on to other pages
        page.errors.append(f"{error} [on {page.url}]")

    def on_request(request, started):
        if request.url.startswith(SITE_ORIGIN):
            if started:
                page.in_flight.add(request)
            else:
                page.in_flight.discard(request)
                page.done.add(request.url)
            page.last_request = time.monotonic()

    page.on("console", on_console)
    page.on("pageerror", lambda e: report(str(e)))
    page.on("request", lambda r: on_request(r, True))
    page.on("requestfinished", lambda r: on_request(r, False))
    page.on("requestfailed", lambda r: on_request(r, False))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser):
    """A fresh page, for a test that changes what the browser remembers (the scheme)."""
    with watched_page(browser) as page:
        yield page


@pytest.fixture(scope="module")
def tab(browser):
    """One page that goes from page to page for the read-only checks: a context per page
    costs a new renderer process each time."""
    with watched_page(browser) as page:
        yield page
        # An error the last page reports after its test has looked is not lost.
        page.wait_for_timeout(IDLE * 1000)
        assert not page.errors, f"reported after the page was checked: {page.errors}"


def open_page(page, url):
    """Go to url and wait until the site has answered every request of the page."""
    page.in_flight.clear()
    page.done.clear()
    response = page.goto(url, wait_until="load")
    favicon = page.evaluate("document.querySelector(\"link[rel~='icon']\")?.href")
    page.last_request = max(page.last_request, time.monotonic())
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while page.in_flight or (favicon not in page.done
                             and time.monotonic() - page.last_request < IDLE):
        assert time.monotonic() < deadline, \
            f"{url}: requests still open: {[r.url for r in page.in_flight]}"
        page.wait_for_timeout(10)  # lets Playwright deliver the request events
    return response


def new_errors(page):
    """The errors reported since the last look: a page's own, and any that the page
    before it reported after its test had looked."""
    errors = list(page.errors)
    page.errors.clear()
    return errors


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@contextlib.contextmanager
def photographed_on_failure(page, name):
    try:
        yield
    except BaseException:
        screenshot(page, name)
        raise


# In one round trip: images that did not load, code blocks, copy buttons.
PAGE_FACTS = """() => {
    const count = selector => document.querySelectorAll(selector).length;
    const broken = Array.from(document.images)
        .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src);
    // Material's code blocks; a notebook's Markdown cells are rendered by mkdocs-jupyter.
    const blocks = count("div.highlight pre") - count(".jp-Notebook div.highlight pre");
    // Material 9.8 draws them as md-code__button (older releases: md-clipboard).
    const copy = count("button.md-code__button[data-md-type='copy'], button.md-clipboard");
    return [broken, blocks, copy];
}"""


@pytest.mark.parametrize("path", nav_urls(), ids=lambda p: p or "index")
def test_page_loads_cleanly(tab, site_url, path):
    with photographed_on_failure(tab, path.strip("/") or "index"):
        response = open_page(tab, site_url + path)
        errors = new_errors(tab)
        where = f"page /{path}"
        assert response is not None and response.status == 200, \
            f"{where}: HTTP {response.status}"
        assert not errors, f"{where}: console errors {errors}"
        broken, blocks, copy_buttons = tab.evaluate(PAGE_FACTS)
        assert not broken, f"{where}: images that did not load: {broken}"
        assert copy_buttons >= blocks, \
            f"{where}: {blocks} code blocks, {copy_buttons} copy buttons"


def test_search_finds_the_gradients_chapter(page, site_url):
    open_page(page, site_url)
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
        screenshot(page, "search-results")


def test_palette_toggle_switches_light_and_dark(page, site_url):
    def scheme():
        return page.evaluate("document.body.getAttribute('data-md-color-scheme')")

    def toggle_to(wanted):
        page.locator("form[data-md-component='palette'] label:visible").first.click()
        page.wait_for_function(
            f"document.body.getAttribute('data-md-color-scheme') === '{wanted}'")

    with photographed_on_failure(page, "tensors-palette"):
        open_page(page, site_url + "tensors/")
        assert scheme() == "default"
        toggle_to("slate")
        screenshot(page, "tensors-dark")
        toggle_to("default")


def test_case_study_shows_its_figures_and_its_results_table(tab, site_url):
    with photographed_on_failure(tab, "cifar10-full"):
        open_page(tab, site_url + "cifar10/")
        errors = new_errors(tab)
        sizes = tab.evaluate("""() => Array.from(document.images)
            .filter(img => /plots\\/[a-z]+\\.png$/.test(img.src))
            .map(img => [img.src.split('/').pop(), img.naturalWidth])""")
        assert sorted(name for name, _ in sizes) == [
            "acc.png", "confusion.png", "errors.png", "loss.png", "samples.png"], sizes
        assert all(width > 0 for _, width in sizes), sizes
        table = tab.locator("table", has_text="Seconds per epoch")  # the results table
        assert table.count() == 1
        text = table.inner_text()
        assert "Test accuracy" in text and "baseline" in text and "improved" in text
        assert "%" in text
        assert not errors, errors


def test_math_is_typeset(tab, site_url):
    with photographed_on_failure(tab, "gradients"):
        open_page(tab, site_url + "gradients/")
        errors = new_errors(tab)
        assert tab.locator(".katex").count() > 0, "no formula rendered by KaTeX"
        assert not errors, errors
