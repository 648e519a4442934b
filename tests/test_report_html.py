"""The HTML report in a real browser (Debian's Chromium, headless, driven by
Selenium): the index lists every experiment in the database with the database's
verdict, every figure loads, the console shows no errors, from the file system and
from `serve`; text from configs and rows is shown escaped, never run."""

import dataclasses
import shutil
import threading

import pytest
from rich.console import Console

from complab import experiments, reporting_html, runner
from complab.experiments.base import Check, Experiment
from complab.store import Store


webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not "
                                "installed (make test installs them where it can)")
EVIL = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@dataclasses.dataclass(frozen=True)
class Hostile:
    label: str = EVIL


def _hostile_experiment():
    def plot(results, cfg):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([r["v"] for r in results.rows])
        return fig

    return Experiment(id="hostile", title=f"title {EVIL}", paper=f"paper {EVIL}", claim=f"claim {EVIL}",
                      tiers={"smoke": Hostile(), "cpu": Hostile(), "paper": Hostile()},
                      run=lambda cfg, cell, key, ctx: [{"v": 1.0, "note": EVIL}],
                      expect=lambda res, cfg: [Check(f"check {EVIL}", True, f"measured {EVIL}")], plot=plot)


@pytest.fixture(scope="module")
def site(tmp_path_factory, smoke_results):
    """A results directory with the flagship (a copy of the session's smoke run), ea_mutation_schedules (two seeds;
    no programs to compile) and a hostile experiment, and its site."""
    root = tmp_path_factory.mktemp("site") / "results"
    shutil.copytree(smoke_results[0], root)
    quiet = Console(quiet=True)
    runner.run("ea_mutation_schedules", tier="smoke", seeds=[0, 1], results=root, console=quiet)
    hostile, load, ids = _hostile_experiment(), experiments.load, experiments.ids
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiments, "load", lambda eid: hostile if eid == "hostile" else load(eid))
        mp.setattr(experiments, "ids", lambda: [*ids(), "hostile"])
        runner.run("hostile", tier="smoke", seeds=[0], results=root, console=quiet)
        store = Store(root)
        store.log_bench("peak", [{"n": 1024, "gflops": 12.5}], f"cpu {EVIL}", "abc")
        store.close()
        index = reporting_html.write(results=root, out=root / "site")
    return root, index


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _stored_verdicts(root) -> dict[str, str]:
    store = Store(root, readonly=True)
    try:
        return {eid: ("holds" if store.last_verdict(eid)["passed"] else "does not hold")
                for eid in sorted({r.experiment for r in store.runs()})}
    finally:
        store.close()


def _check_pages(driver, base: str, root) -> list[str]:
    """Load the index and every experiment page; returns the pages visited."""
    by = webdriver.common.by.By
    driver.get(f"{base}/index.html")
    rows = {r.get_attribute("data-id"): r for r in driver.find_elements(by.CSS_SELECTOR, "#experiments tbody tr")}
    stored = _stored_verdicts(root)
    assert set(stored) <= set(rows) and set(experiments.ids()) <= set(rows)
    for eid, verdict in stored.items():
        assert rows[eid].find_element(by.CSS_SELECTOR, "td.verdict").text == verdict, eid
    pages = [a.get_attribute("href") for a in driver.find_elements(by.CSS_SELECTOR, "#experiments a")]
    assert len(pages) == len(stored)  # a page for each experiment that ran
    driver.get(f"{base}/bench.html")
    peak = driver.find_element(by.CSS_SELECTOR, "#bench-peak").text
    assert "12.5" in peak and EVIL in peak and driver.execute_script("return window.pwned === undefined")
    for page in pages:
        driver.get(page)
        images = driver.find_elements(by.TAG_NAME, "img")
        assert images and all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0",
                                                    img) for img in images), page
        assert driver.execute_script("return window.pwned === undefined"), page
    errors = [m for m in driver.get_log("browser") if m["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors
    return pages


def test_the_site_opens_from_the_file_system(site, browser):
    root, index = site
    assert len(_check_pages(browser, index.parent.as_uri(), root)) == 3


def test_the_site_is_served_on_loopback(site, browser):
    root, index = site
    server = reporting_html.server(index.parent, 0)
    assert server.server_address[0] == "127.0.0.1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _check_pages(browser, f"http://127.0.0.1:{server.server_address[1]}", root)
    finally:
        server.shutdown()
        server.server_close()


def test_text_from_configs_and_rows_is_shown_escaped(site, browser):
    root, index = site
    by = webdriver.common.by.By
    browser.get((index.parent / "hostile.html").as_uri())
    body = browser.find_element(by.TAG_NAME, "body").text
    assert body.count(EVIL) >= 5  # title, paper, claim, check, measured, config, row: as text
    assert not browser.find_elements(by.CSS_SELECTOR, "script, img[src=x]")
    assert browser.execute_script("return window.pwned === undefined")
