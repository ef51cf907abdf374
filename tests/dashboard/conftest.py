"""A real dashboard server (a subprocess on a free port, as datasette tests do) and headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("OPSMON_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("OPSMON_CHROMEDRIVER", "/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_url: str, workdir: Path, ready_path: str = "/", **extra_env: str) -> Iterator[str]:
    """Run ``opsmon serve`` on *database_url* on a free port; yield its base URL, stop it after."""
    port = free_port()
    log = workdir / "serve.log"
    env = {**os.environ, "DATABASE_URL": database_url, **extra_env}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "opsmon.cli", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + ready_path, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"opsmon serve did not start:\n{log.read_text()}") from None
            time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def dashboard_url(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``opsmon serve`` against the demo database, on a free port."""
    with serve(demo_url, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by its own chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1440,1000", "--lang=zh-CN"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser) -> Iterator[object]:
    """Call with a name to save a PNG under tests/artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        browser.save_screenshot(str(path))
        return path

    yield take
