"""A real headless Chromium for the page tests (fixtures ``chromium`` and ``page``): the
system's (Debian's ``chromium``), driven by Playwright through its executable path, so no
browser is ever downloaded. A missing browser or driver fails the test with the command that
installs it: these tests never skip."""

from __future__ import annotations

import io
import os
import shutil

import pytest

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome")
"""Names a Chromium executable goes by on PATH; ``$ANOMSEER_CHROMIUM`` overrides them."""


def chromium_executable() -> str:
    """The path of the system Chromium, or a failed test saying how to install one."""
    named = os.environ.get("ANOMSEER_CHROMIUM")
    path = named or next(filter(None, map(shutil.which, EXECUTABLES)), None)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "no Chromium found for the browser tests: run 'make browser' (as root it runs "
            "apt-get install -y chromium) or set ANOMSEER_CHROMIUM to a Chromium executable",
            pytrace=False,
        )
    return path


def launch(playwright):
    """A headless Chromium from the system executable (no sandbox: tests may run as root)."""
    return playwright.chromium.launch(
        executable_path=chromium_executable(), args=["--no-sandbox"], headless=True
    )


def inked_share(png: bytes) -> float:
    """Share of a screenshot's pixels that are not near-white: 0 for a blank page."""
    from PIL import Image

    gray = Image.open(io.BytesIO(png)).convert("L")
    histogram = gray.histogram()
    return sum(histogram[:240]) / sum(histogram)


@pytest.fixture(scope="session")
def chromium():
    """One headless system Chromium per test session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the browser tests need the 'playwright' package (the dev extra: "
            "uv sync --extra dev); its browsers are not needed, the system Chromium is used",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A page that records every request it makes and every script error."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
