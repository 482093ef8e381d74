"""Playwright fixtures: Debian's Chromium (never `playwright install`) and the real persd
app served on 127.0.0.1 from this process, on demo sessions built in temp folders.

Every test marked `browser` is skipped, saying why, only when /usr/bin/chromium is missing
(CI installs it: scripts/system-deps.sh chromium).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox: CI runs as root; the rest stop Chromium calling home on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
# Actions and `expect` wait up to 20 s: a loaded 2-core CI machine runs the app, its
# sandbox and Chromium side by side; a wrong page still fails, only later.
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)
DEMO_TASKS = 24
USERS = [("ana", "ana-password"), ("ben", "ben-password")]
_names = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium "
                                   "(scripts/system-deps.sh chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser():
    # Module scope: sync Playwright marks an asyncio loop as running in this thread while
    # it is open, and later tests of other modules call asyncio.run() (collect, teacher).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    from persd.demo import build_demo_session

    return build_demo_session(tmp_path_factory.mktemp("template"), limit=DEMO_TASKS)


class Server:
    """A running app on a sessions folder; `session()` adds a fresh copy of the demo."""

    def __init__(self, sessions_dir: Path, template: Path, **options) -> None:
        from persd_app.app import launch

        self.sessions_dir, self.template = sessions_dir, template
        self.running = launch(sessions_dir, port=free_port(), block=False, quiet=True,
                              **options)
        self.url = self.running.url.rstrip("/")
        self.runs_dir = options.get("runs_dir")

    def session(self, name: str | None = None) -> str:
        name = name or f"s{next(_names)}"
        shutil.copy(self.template, self.sessions_dir / f"{name}.sqlite")
        return name

    def store(self, name: str):
        from persd.store import SessionStore

        return SessionStore.open(self.sessions_dir, name)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, demo_template):
    # Custom endpoints: the Collect test's teacher listens on a port chosen in the test.
    # The tests' temp root is a data folder: the tiny model and adapter fixtures live there.
    server = Server(tmp_path_factory.mktemp("sessions"), demo_template,
                    runs_dir=tmp_path_factory.mktemp("runs"), allow_custom_endpoints=True,
                    data_dirs=[tmp_path_factory.getbasetemp()])
    yield server
    server.running.close()


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, demo_template):
    server = Server(tmp_path_factory.mktemp("auth-sessions"), demo_template, auth=USERS)
    yield server
    server.running.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
