"""A real dashboard server (a subprocess on a free port, as datasette tests do) and headless Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.conftest, as test_load.py
from tests.conftest import DEMO_TODAY  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("OPSMON_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("OPSMON_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(autouse=True)
def demo_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dashboard test runs on the demo's day (OPSMON_TODAY = DEMO_TODAY): the month a page opens on
    follows the clock, never the day the suite runs. A test may set another day."""
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_user(engine, username: str = "test-admin", role: str = "admin", unit: str = "220000") -> str:
    """Create a user (password ``test-password-1``) unless it exists; return its name."""
    from opsmon.access.users import add_user, get_user

    if get_user(engine, username) is None:
        add_user(engine, username, "test-password-1", role, unit)
    return username


def text(component) -> str:
    """All the text inside a component tree."""
    if component is None or isinstance(component, (str, int, float)):
        return "" if component is None else str(component)
    if isinstance(component, (list, tuple)):
        return "".join(text(c) for c in component)
    return text(getattr(component, "children", None))


def find(component, component_id: str):
    """The component with *component_id* inside a Dash component tree (None if absent)."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    if children is None and isinstance(component, (list, tuple)):
        children = component
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            hit = find(child, component_id)
            if hit is not None:
                return hit
    return None


@contextmanager
def signed_in(app, engine, username: str) -> Iterator[object]:
    """A request context of *app* in which *username* is signed in (for calling callbacks as functions)."""
    import flask

    from opsmon.access.users import get_user, open_session

    user = get_user(engine, username)
    assert user is not None, f"no user {username}"
    with app.server.test_request_context("/"):
        flask.session.update(user={"email": user.username, "groups": [user.role]}, token=user.session_token,
                             sid=open_session(engine, username), since=time.time())
        yield user


@contextmanager
def serve(database_url: str, workdir: Path, ready_path: str = "/", **extra_env: str) -> Iterator[str]:
    """Run ``opsmon serve`` on *database_url* on a free port; yield its base URL, stop it after."""
    port = free_port()
    log = workdir / "serve.log"
    env = {**os.environ, "DATABASE_URL": database_url, "OPSMON_SECRET_KEY": f"test-secret-{port}",
           "OPSMON_DATA_DIR": str(workdir / "data"), **extra_env}
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


def post_login(session, base_url: str, username: str, password: str, **form: str):
    """Sign a ``requests`` session in through the form, as a browser does: the form's CSRF token first."""
    page = session.get(f"{base_url}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session.post(f"{base_url}/login", data={"username": username, "password": password,
                                                   "csrf_token": token, **form}, allow_redirects=False)


def page_csrf_token(session, base_url: str) -> str:
    """The CSRF token the signed-in pages carry (the sign-out form's), read from the layout as the browser gets it."""
    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if isinstance(props, dict) and props.get("id") == "signout-csrf":
                return props["value"]
            return next((v for v in map(walk, node.values()) if v), None)
        if isinstance(node, list):
            return next((v for v in map(walk, node) if v), None)
        return None

    return walk(session.get(f"{base_url}/_dash-layout").json())


# Where the session-wide browser is signed in (cookies ignore ports: one server's sign-in replaces another's).
_signed_in: dict[str, str] = {}


def sign_in(browser, base_url: str, username: str, password: str) -> None:
    """Sign *browser* in to the server at *base_url* through its sign-in page, as a person would."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    if _signed_in.get("url") == base_url and _signed_in.get("user") == username:
        return
    # Leave the current page first (a page with no script): a dashboard page still running would answer
    # the deleted cookies with its own redirect to /login, a second sign-in form racing this one.
    browser.get(f"{base_url}/healthz")
    browser.delete_all_cookies()
    # The first page after signing in is the slowest the suite asks for (a cold page on a busy machine):
    # wait for the redirect away from the form, then for the navbar. A form that stayed (its CSRF token
    # outdated by a request racing it) is filled in once more; a navbar that never came, reloaded once.
    for attempt in range(2):
        browser.get(f"{base_url}/login")
        browser.find_element(By.ID, "username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.ID, "login-submit").click()
        try:
            WebDriverWait(browser, 45).until(lambda b: "/login" not in b.current_url)
            break
        except TimeoutException:
            if attempt:
                raise
    try:
        WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "user-name")))
    except TimeoutException:
        browser.refresh()
        WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "user-name")))
    _signed_in.update(url=base_url, user=username)


@pytest.fixture(scope="session")
def dashboard_server(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``opsmon serve`` against the demo database, on a free port, its clock at the demo's reference date
    (so its views open on the months of that day, not of the day the suite runs)."""
    with serve(demo_url, tmp_path_factory.mktemp("serve"), OPSMON_TODAY=DEMO_TODAY.isoformat()) as url:
        yield url


@pytest.fixture
def dashboard_url(dashboard_server: str, browser) -> str:
    """The demo server's URL, with the browser signed in as the demo administrator."""
    sign_in(browser, dashboard_server, "demo-admin", "opsmon-admin-demo")
    # The browser is shared: forget console messages of earlier tests' pages (an outage test leaves 503s).
    browser.get_log("browser")
    return dashboard_server


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
