"""Browser fixtures: a real ``easd`` (started by the end-to-end suite's ``run_easd``, with
alice and bob), devices registered by real EAS Provision through pyactivesync, and a
headless Chromium driven by Selenium through Debian's chromedriver.

Environment (besides tests/e2e/conftest.py's EASD_BIN):
  CHROMIUM       browser binary (default: /usr/bin/chromium)
  CHROMEDRIVER   driver binary (default: /usr/bin/chromedriver)
  CI             "true": a missing browser fails the run instead of skipping it
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "e2e"
SCREENSHOTS = REPO / "target" / "screenshots"
WAIT_S = 15.0

# The end-to-end suite's server fixtures, imported under a name of their own (both
# directories' conftest modules are called "conftest"); netutil comes from its directory.
sys.path.insert(0, str(E2E))
_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
assert _spec is not None and _spec.loader is not None
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# Server output in the report of a failed test, as in the end-to-end suite.
pytest_runtest_makereport = e2e.pytest_runtest_makereport

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by the browser fixture
    webdriver = None  # type: ignore[assignment]


def _browser_missing() -> str | None:
    if webdriver is None:
        return "selenium is not installed"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="session")
def easd_server() -> Iterator[e2e.EasServer]:
    # No change-notification listener: its fixed UDP port would clash with an end-to-end
    # suite running at the same time, and the web pages do not use it.
    with e2e.run_easd(extra_args=["--notify", "off"]) as server:
        yield server


@dataclass(frozen=True)
class Device:
    account: e2e.Account
    device_id: str

    @property
    def name(self) -> str:
        """As the admin pages and the command line name it: ``user/device``."""
        return f"{self.account.email}/{self.device_id}"


@pytest.fixture
def register_device(easd_server: e2e.EasServer) -> Iterator[Callable[[e2e.Account], Device]]:
    """Registers a new device of the account by a real Provision (pyactivesync) and a
    FolderSync, so the registry has it with its last sync."""
    clients = []

    def register(account: e2e.Account) -> Device:
        client = e2e.new_client(easd_server, account)
        clients.append(client)
        client.provision()
        client.list_folders()
        return Device(account, client._transport.device_id)

    yield register
    for c in clients:
        c.close()


def sync_again(server: e2e.EasServer, device: Device) -> None:
    """One more FolderSync by the device (same DeviceId): what its protocol log records."""
    client = e2e.new_client(server, device.account, device_id=device.device_id)
    try:
        client.provision()
        client.list_folders()
    finally:
        client.close()


class Page:
    """A Chromium tab on the server, with the steps the tests share."""

    def __init__(self, driver, server: e2e.EasServer, test: str) -> None:
        self.driver = driver
        self.server = server
        self.test = test
        self.wait = WebDriverWait(driver, WAIT_S)

    def open(self, path: str) -> None:
        self.driver.get(self.server.base_url + path)
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def shot(self, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.test}-{step}.png"
        assert self.driver.save_screenshot(str(path)), f"screenshot {path} not written"
        return path

    def find(self, css: str):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self) -> str:
        return self.find("body").text

    def leave_by(self, action: Callable[[], object]) -> None:
        """Runs ``action`` (a click, a key) and waits until a new document has replaced this
        one and loaded: the old one carries a mark the new one does not. (Chromium's
        driver can answer an element check on a replaced page with an inspector error
        rather than "stale element", so EC.staleness_of is not reliable here.)"""
        self.driver.execute_script("window.easdOldPage = true;")
        action()

        def loaded(d) -> bool:
            try:
                return d.execute_script(
                    "return window.easdOldPage === undefined && document.readyState === 'complete';")
            except WebDriverException:  # between documents
                return False

        self.wait.until(loaded)

    def submit_and_wait(self, element) -> None:
        """Clicks a submit button (or link) and waits for the next page."""
        self.leave_by(element.click)

    def button(self, label: str, within: str = "body"):
        """The submit button whose visible text is ``label`` inside ``within`` (CSS)."""
        for b in self.driver.find_elements(By.CSS_SELECTOR, f"{within} button"):
            if b.text.strip() == label:
                return b
        raise AssertionError(f"no button {label!r} in {within!r} on {self.driver.current_url}:\n{self.text()}")

    def login(self, user: str, password: str) -> None:
        self.open("/login")
        self.find("#user").send_keys(user)
        self.find("#password").send_keys(password)
        self.submit_and_wait(self.find("form.login button[type=submit]"))

    def row_of(self, cell_text: str):
        """The table row with a cell whose text contains ``cell_text``."""
        for tr in self.driver.find_elements(By.CSS_SELECTOR, "tbody tr"):
            if cell_text in tr.text:
                return tr
        raise AssertionError(f"no row with {cell_text!r} on {self.driver.current_url}:\n{self.text()}")

    def device_rows(self) -> dict[str, object]:
        """The admin device list's rows by the device they choose (``user/device``)."""
        rows = {}
        for tr in self.driver.find_elements(By.CSS_SELECTOR, "tbody tr"):
            radio = tr.find_elements(By.CSS_SELECTOR, "input[type=radio][name=device]")
            if radio:
                rows[radio[0].get_attribute("value")] = tr
        return rows

    def device_row(self, device: Device):
        rows = self.device_rows()
        assert device.name in rows, f"{device.name} not listed on {self.driver.current_url}:\n{self.text()}"
        return rows[device.name]

    def status(self) -> int | None:
        """The HTTP status of the page shown, from the browser's Navigation Timing."""
        return self.driver.execute_script(
            "const e = performance.getEntriesByType('navigation');"
            "return e.length ? e[0].responseStatus : null;"
        )


@pytest.fixture
def browser(request: pytest.FixtureRequest, easd_server: e2e.EasServer) -> Iterator[Page]:
    """A fresh headless Chromium (its own profile: no cookies carried between tests)."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    profile = Path(tempfile.mkdtemp(prefix="easd-chromium-"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000",
        # easd's certificate is self-signed; the tests do not test TLS trust.
        "--ignore-certificate-errors", "--lang=en-US",
    ):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    test = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)
    try:
        yield Page(driver, easd_server, test)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
