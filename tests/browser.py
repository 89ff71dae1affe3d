"""Headless Chromium for the tests: Debian's ``chromium`` and ``chromium-driver`` via selenium.

CI installs both with apt (see ``.ci/run``); a missing browser is a test failure with the
install command in the message, never a skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by chromium() as a failure with the install command
    webdriver = Service = ActionChains = By = WebDriverWait = None

__all__ = ["ActionChains", "By", "WebDriverWait", "chromium", "console_errors", "file_url"]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1280,1000")
INSTALL_HINT = ("apt-get update && apt-get install -y --no-install-recommends chromium "
                "chromium-driver, and pip install selenium (the dev extra)")


def find_binaries() -> tuple[str, str]:
    """Paths of chromium and chromedriver (env CHROMIUM / CHROMEDRIVER override); fail if absent."""
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(f"headless Chromium not found (chromium={browser}, chromedriver={driver}): "
                    f"install it with {INSTALL_HINT}", pytrace=False)
    return browser, driver


@contextmanager
def chromium() -> Iterator[object]:
    """A selenium Chrome driver on a fresh profile, with browser console logging enabled."""
    if webdriver is None:
        pytest.fail(f"selenium is not installed: {INSTALL_HINT}", pytrace=False)
    browser, driver_path = find_binaries()
    with tempfile.TemporaryDirectory(prefix="textkl-chromium-") as profile:
        opts = webdriver.ChromeOptions()
        opts.binary_location = browser
        for flag in CHROMIUM_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={profile}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=opts, service=Service(driver_path))
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()


def console_errors(driver: object) -> list[str]:
    """Browser console entries at level SEVERE since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()
