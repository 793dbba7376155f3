"""The real-browser harness: Debian's chromium driven by Playwright, against
``noisefleet-dashboard run`` as a subprocess.

1. find the system chromium (``/usr/bin/chromium``, or ``NOISEFLEET_CHROMIUM``); missing, the
   tests fail with one line naming the Debian package, unless ``NOISEFLEET_SKIP_BROWSER_TESTS=1``
   says to skip them (Playwright's own browser download, ``playwright install``, is never used);
2. start the dashboard on a free port and wait for ``/_stcore/health``;
3. drive pages (``Dashboard``): sign in, open a page from the sidebar or by URL, read metrics,
   tables and alerts as text, save a full-page screenshot of every page;
4. copy the screenshots to a stable folder (``NOISEFLEET_SCREENSHOT_DIR``, default
   ``test-output/screenshots`` in the repository, gitignored; empty: no copy).

Every wait is on a condition (Playwright's ``expect`` and ``wait_for`` with a timeout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.server.helpers import wait_for
from tests.support.mosquitto import free_port

CHROMIUM_ENV = "NOISEFLEET_CHROMIUM"
SKIP_ENV = "NOISEFLEET_SKIP_BROWSER_TESTS"
SCREENSHOT_ENV = "NOISEFLEET_SCREENSHOT_DIR"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCREENSHOTS = REPO / "test-output" / "screenshots"
TIMEOUT_MS = 30_000
"""How long one condition may take to appear (a cold Streamlit run imports pandas, Altair)."""

CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system chromium, or the test fails (skips only when explicitly opted out)."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    message = (
        f"chromium not found at {path}: install the Debian package `chromium` "
        f"(scripts/setup.sh as root), or set {SKIP_ENV}=1 to skip the browser tests"
    )
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@contextmanager
def chromium() -> Iterator[Browser]:
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=args
        )
        try:
            yield browser
        finally:
            browser.close()


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.read() == b"ok")
    except OSError:
        return False


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "noisefleet-dashboard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "noisefleet_dashboard.cli"]


@contextmanager
def dashboard_server(env: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """``noisefleet-dashboard run`` on a free loopback port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_cli(), "run", "--port", str(port)],
            env=dict(env),
            stdout=log,
            stderr=log,
            cwd=log_path.parent,
        )
        try:
            wait_for(lambda: process.poll() is not None or _health(url), 60, "the dashboard")
            if process.poll() is not None:
                raise AssertionError(f"the dashboard exited: {log_path.read_text()[-2000:]}")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclass
class Dashboard:
    """One browser tab on the dashboard (a fresh context: signed out)."""

    page: Page
    url: str
    shots: Path

    def open(self, path: str = "") -> None:
        """Load a URL (a reload: Streamlit starts a new session, so this signs out)."""
        self.page.goto(f"{self.url}/{path}")
        self.wait_idle()

    def wait_idle(self) -> None:
        """Until the script run has finished (Streamlit's status widget says "running")."""
        self.page.locator('[data-testid="stApp"]').wait_for(timeout=TIMEOUT_MS)
        expect(self.page.locator('[data-testid="stStatusWidget"]')).to_have_count(
            0, timeout=TIMEOUT_MS
        )

    def title(self, text: str) -> None:
        expect(self.page.locator("h1")).to_have_text(text, timeout=TIMEOUT_MS)

    def sign_in(self, username: str, password: str) -> None:
        self.page.get_by_role("textbox", name="Username").fill(username)
        self.page.get_by_role("textbox", name="Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.wait_idle()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.title("noisefleet — sign in")

    def go(self, page_title: str) -> None:
        """Open a page from the sidebar's navigation."""
        self.page.locator('[data-testid="stSidebarNav"]').get_by_text(
            page_title, exact=True
        ).click()
        self.title(page_title)
        self.wait_idle()

    def choose(self, label: str, option: str) -> None:
        """Pick ``option`` in the ``st.selectbox`` labelled ``label``."""
        self.page.get_by_role("combobox", name=label).click()
        self.page.get_by_role("option", name=option, exact=True).click()
        self.wait_idle()

    def metric(self, label: str) -> Locator:
        """The value of the ``st.metric`` labelled ``label`` (to ``expect`` on: it waits)."""
        metric = self.page.locator('[data-testid="stMetric"]').filter(
            has=self.page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)
        )
        return metric.locator('[data-testid="stMetricValue"]')

    def expect_metrics(self, expected: Mapping[str, str]) -> None:
        for label, value in expected.items():
            expect(self.metric(label)).to_have_text(value, timeout=TIMEOUT_MS)

    def alert(self, kind: str) -> Locator:
        """``kind``: error, info, warning or success (``st.error`` …)."""
        return self.page.locator(f'[data-testid="stAlertContent{kind.capitalize()}"]')

    def table(self, index: int = 0) -> list[dict[str, str]]:
        """The rows of the ``index``-th ``st.dataframe`` as its grid shows them (text).

        The grid draws on a canvas; its accessible twin (``role=grid``) holds the same text."""
        grid = self.page.locator('[data-testid="stDataFrame"]').nth(index)
        grid.wait_for(timeout=TIMEOUT_MS)
        table = grid.locator("table[role=grid]")
        expect(table.locator("tbody tr").first).to_be_attached(timeout=TIMEOUT_MS)
        header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        rows = []
        for row in table.locator("tbody tr").all():
            cells = [c.strip() for c in row.locator("td").all_inner_texts()]
            rows.append(dict(zip(header[-len(cells) :], cells, strict=True)))
        return rows

    def screenshot(self, name: str) -> Path:
        """The whole page: Streamlit scrolls inside ``stMain``, not the document, so the
        viewport grows to the content's height for the shot (``full_page`` alone would cut)."""
        path = self.shots / f"{name}.png"
        viewport = self.page.viewport_size or {"width": 1400, "height": 900}
        height = self.page.evaluate(
            "Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
            "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 0)"
        )
        self.page.set_viewport_size({"width": viewport["width"], "height": max(height, 600)})
        try:
            self.page.screenshot(path=path, full_page=True)
        finally:
            self.page.set_viewport_size(viewport)
        return path


def stable_copy(shots: Path) -> None:
    """Copy the screenshots to the stable folder (pytest's basetemp may be wiped)."""
    target = os.environ.get(SCREENSHOT_ENV, str(DEFAULT_SCREENSHOTS))
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    for old in Path(target).glob("*.png"):
        old.unlink()
    for png in shots.glob("*.png"):
        shutil.copy2(png, Path(target) / png.name)
