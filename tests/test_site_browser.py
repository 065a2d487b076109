"""The published bundle in a real headless browser (Debian ``chromium`` + ``chromium-driver``).

Builds ``results/`` from the stored solved toy (two scenarios, comparison, index), serves the
*parent* folder with a local ``http.server`` on 127.0.0.1 so the site lives under ``/results/``
(relative links must work below any prefix), then crawls every page of the site:

* the page loads (HTTP 200, expected title);
* every image has loaded (``complete`` and ``naturalWidth > 0``);
* every link (``href``/``src``) is relative and resolves with HTTP 200;
* the browser console has no errors.

Without chromium or chromedriver the test is skipped with the reason, except when the
environment sets ``CI=true``: there a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from energy_model import site
from energy_model.report import catalog, rendering

pytestmark = pytest.mark.browser

TOY = Path(__file__).parent / "data" / "solved_toy"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
)


def _find_browser() -> tuple[str, str]:
    """Paths of the chromium binary and of chromedriver; skip (or fail under CI) when absent."""
    browser = next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    missing = [what for what, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if missing:
        reason = (
            f"{' and '.join(missing)} not found on PATH; install them with "
            "'apt-get install -y chromium chromium-driver' to run the browser test"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    try:
        import selenium  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the selenium package is not installed")
        pytest.skip("selenium is not installed (pip install selenium)")
    return str(browser), str(driver)


@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the bundle, serve its parent folder, yield the URL of ``results/index.html``."""
    base = tmp_path_factory.mktemp("published")
    root = base / "results"
    toy = root / "toy-2022"
    shutil.copytree(TOY, toy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rendering.render_scenario_figures(toy)
    site.write_scenario_page(toy)
    other = root / "toy-copy"
    shutil.copytree(toy, other)
    (other / "scenario.yaml").write_text(
        (other / "scenario.yaml").read_text(encoding="utf-8").replace("name: solved_toy", "name: toy-copy"),
        encoding="utf-8",
    )
    site.write_scenario_page(other)
    shutil.copytree(toy, root / ".toy-running.tmp")  # must not be listed
    rendering.render_comparison(root, site.list_scenario_dirs(root))
    site.write_site_index(root)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(base))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/results/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium driven by selenium, with the browser console log enabled."""
    binary, driver_path = _find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(os.environ.get("TMPDIR", "/tmp"))
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    user_data = profile / f"chromium-profile-{os.getpid()}-{threading.get_ident()}"
    options.add_argument(f"--user-data-dir={user_data}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(user_data, ignore_errors=True)


def _status(url: str) -> int:
    """HTTP status of a GET request to the local server."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()  # whole body: the server never writes into a closed socket
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_site_loads_with_images_links_and_no_console_errors(browser: object, served_site: str) -> None:
    driver = browser
    prefix = served_site.rsplit("/", 1)[0] + "/"
    to_visit = [served_site]
    visited: set[str] = set()
    checked: dict[str, int] = {}
    images_seen = 0
    while to_visit:
        url = to_visit.pop(0)
        if url in visited:
            continue
        visited.add(url)
        assert _status(url) == 200, url
        driver.get(url)
        # a loaded machine may still be decoding images when get() returns: wait (bounded)
        deadline = time.monotonic() + 10.0
        while driver.execute_script("return document.readyState") != "complete":
            assert time.monotonic() < deadline, f"{url}: page did not finish loading in 10 s"
            time.sleep(0.05)
        title = driver.title
        assert title == "Zhangjiakou energy scenarios" or title.startswith("Scenario "), (url, title)

        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        for src, complete, width in images:
            assert complete and width > 0, f"{url}: image {src} did not load"
        images_seen += len(images)

        raw = driver.execute_script(
            "return Array.from(document.querySelectorAll('[href],[src]'))"
            ".map(e => e.getAttribute('href') ?? e.getAttribute('src'))"
        )
        for target in raw:
            if target.startswith("data:"):
                continue
            assert not urlsplit(target).scheme and not target.startswith("/"), (
                f"{url}: link '{target}' is not relative"
            )
            absolute = urldefrag(urljoin(url, target)).url
            if absolute not in checked:
                checked[absolute] = _status(absolute)
            assert checked[absolute] == 200, f"{url}: link '{target}' gives HTTP {checked[absolute]}"
            if absolute.endswith(".html") and absolute.startswith(prefix):
                to_visit.append(absolute)

        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        assert not errors, f"{url}: console errors {errors}"

    pages = {u.removeprefix(prefix) for u in visited}
    assert pages == {"index.html", "toy-2022/index.html", "toy-copy/index.html"}
    n_figures = len(catalog.SCENARIO_FIGURES)
    assert images_seen == 2 * n_figures + len(catalog.COMPARISON_FIGURES)
    assert any(u.endswith("toy-2022/network.nc") for u in checked)
