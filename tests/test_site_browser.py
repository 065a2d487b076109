"""The published bundle in a real headless browser (Debian ``chromium`` + ``chromium-driver``).

Builds ``results/`` with the engine itself: the synthetic two-region toy of
``tests/data/solved_toy/make_solved_toy.py`` (wind, solar, coal, battery, heat pump, hot-water
tank, an export corridor) is written as a network CSV folder into a throw-away project with a
toy final-energy table, and ``energy-model run`` solves two scenarios (a plan year with a 30 %
goal and a green export contract, a calibration year) with the real accounting, then
``energy-model compare`` writes the site. The *parent* folder is served with a local
``http.server`` on 127.0.0.1 so the site lives under ``/results/`` (relative links must work below
any prefix), and the test crawls every page of the site:

* the page loads (HTTP 200, expected title);
* every image has loaded (``complete`` and ``naturalWidth > 0``);
* every link (``href``/``src``) is relative and resolves with HTTP 200;
* the browser console has no errors;

and checks the first screen of the index at phone widths (420 and 390 CSS px): one verdict
sentence per target built from ``verdict.csv``, no horizontal overflow of the page, no raw ids.

Without chromium or chromedriver the test is skipped with the reason, except when the
environment sets ``CI=true``: there a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pandas as pd
import pytest

from energy_model.cli import main

# headless Chromium + two solved toy scenarios (~60 s): run with make test-slow
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).parent.parent
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


def _write_toy_project(project: Path) -> list[Path]:
    """A project with the synthetic toy network, toy final-energy data and two scenarios."""
    sys.path.insert(0, str(TOY))
    try:
        from make_solved_toy import build_toy  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(TOY))
    (project / "scenarios").mkdir(parents=True)
    (project / "data").mkdir()
    n = build_toy()
    del n._toy_temperature
    (project / "networks" / "toy").mkdir(parents=True)
    n.export_to_csv_folder(project / "networks" / "toy")
    shutil.copy(ROOT / "data" / "coal_equivalent_factor.csv", project / "data")
    (project / "data" / "final_energy.csv").write_text(TOY_FINAL_ENERGY, encoding="utf-8")
    paths = []
    for name, text in TOY_SCENARIOS.items():
        path = project / "scenarios" / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


#: Non-electric final energy of the toy region [Mtce]: invented test values of the order of the
#: toy's electricity use (192 h of about 80 MW ≈ 4,600 tce coal-equivalent).
TOY_FINAL_ENERGY = """year,sector,fuel,renewable,value_mtce,source
2022,industry,coal,false,0.003,toy value for tests: 3000 tce of industrial coal
2022,households,biomass,true,0.0005,toy value for tests: 500 tce of biomass
2018,industry,coal,false,0.003,toy value for tests: 3000 tce of industrial coal
2018,households,biomass,true,0.0005,toy value for tests: 500 tce of biomass
"""

TOY_SCENARIOS = {
    "toy-2022": "description: 'Toy plan year: 30 % goal, green export contract (invented numbers).'\n"
    "network: networks/toy\nyear: 2022\n"
    "targets: [{name: final_energy_2022, indicator: final_energy, min_share: 0.30, source: test}]\n"
    "export_contracts: [{name: beijing_green, links: [zjk_beijing_hvdc], min_energy_twh: 0.008,"
    " renewable_only: true}]\n",
    "toy-2018": "description: Toy calibration year (invented numbers).\n"
    "network: networks/toy\nyear: 2018\n"
    "targets: [{name: final_energy_2018, kind: calibration, indicator: final_energy,"
    " min_share: 0.23, source: test statistics}]\n",
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``results/`` of the toy scenarios, solved and published by the CLI (real accounting)."""
    _find_browser()  # skip before the solves when there is no browser
    base = tmp_path_factory.mktemp("published")
    scenarios = _write_toy_project(base / "project")
    root = base / "results"
    try:
        assert main(["run", *map(str, scenarios), "--results", str(root), "-q"]) == 0
        assert main(["compare", "--results", str(root), "--project-root", str(ROOT), "-q"]) == 0
    finally:
        logging.getLogger().handlers.clear()
    shutil.copytree(root / "toy-2022", root / ".toy-running.tmp")  # must not be listed
    return root


@pytest.fixture(scope="module")
def served_site(published: Path) -> Iterator[str]:
    """Serve the parent of ``results/``; yield the URL of ``results/index.html``."""
    base = published.parent

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


def test_site_loads_with_images_links_and_no_console_errors(
    browser: object, served_site: str, published: Path
) -> None:
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
    assert pages == {"index.html", "toy-2022/index.html", "toy-2018/index.html"}
    root = published
    drawn = len(list(root.glob("toy-20*/figures/*.png"))) + len(list((root / "comparison").glob("*.png")))
    assert drawn >= 15
    assert images_seen == drawn  # every figure drawn is shown (once) and loads
    assert any(u.endswith("toy-2022/network.nc") for u in checked)
    assert any(u.endswith("docs/glossary.md") for u in checked)
    assert any(u.endswith("docs/accounting.md") for u in checked)


#: Raw ids of the metrics files that must not be visible text on the first screen.
RAW_IDS = ("coal_equivalent|", "annual_mix", "green_contract", "final_energy_20", "hourly_mix")


@pytest.mark.parametrize("width", [420, 390])
def test_first_screen_answers_at_phone_width(
    browser: object, served_site: str, published: Path, width: int
) -> None:
    """The verdict sentences come first, from verdict.csv; nothing overflows; no raw ids."""
    driver = browser
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        for page in ("index.html", "toy-2022/index.html"):
            driver.get(served_site.rsplit("/", 1)[0] + "/" + page)
            assert driver.execute_script("return document.documentElement.clientWidth") == width
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{page}: the page is {overflow} px wider than a {width} px screen"
            sentences = driver.execute_script(
                "return Array.from(document.querySelectorAll('ul.answer li')).map(li => li.innerText)"
            )
            verdicts = pd.concat(
                pd.read_csv(published / name / "verdict.csv", keep_default_na=False)
                for name in (["toy-2018", "toy-2022"] if page == "index.html" else ["toy-2022"])
            )
            assert len(sentences) == len(verdicts)
            for sentence, (_, v) in zip(sentences, verdicts.iterrows(), strict=True):
                assert sentence.startswith(v.scenario)
                assert f"{100 * v.achieved_share:.1f}\u00a0%" in sentence
                assert v.status in sentence
                assert f"{abs(v.margin_pp):.1f}\u00a0pp" in sentence
            assert "calibration year" in " ".join(sentences) or page != "index.html"
            # the first screen: the first sentence and the share figure start within 1.5 screens
            top = driver.execute_script(
                "const f = document.querySelector('figure'); return f.getBoundingClientRect().top"
            )
            assert top < 1.5 * 844, f"{page}: the share figure starts {top} px down"
            text = driver.execute_script(
                "const h = document.querySelector('h2'); let t = ''; "
                "for (let e = document.body.firstElementChild; e && e !== h; e = e.nextElementSibling)"
                " t += e.innerText + ' '; return t"
            )
            for raw in RAW_IDS:
                assert raw not in text, f"{page}: raw id '{raw}' on the first screen"
            # the verdict column of the verdict table is on the screen without scrolling sideways
            right = driver.execute_script(
                "let e = document.getElementById('verdicts');"
                "while (e && !(e.querySelector && e.querySelector('table'))) e = e.nextElementSibling;"
                "const heads = Array.from(e.querySelectorAll('th')).map(h => h.innerText);"
                "const col = heads.indexOf('Verdict');"
                "return e.querySelector('tbody tr').children[col].getBoundingClientRect().right"
            )
            assert right <= width, f"{page}: the verdict column ends at {right} px, off a {width} px screen"
            # tables scroll inside their box instead of widening the page
            for box in driver.find_elements("css selector", ".scroll"):
                assert box.rect["width"] <= width
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
