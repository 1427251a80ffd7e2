"""Browser fixtures: one headless Debian Chromium for the browser tests, a fresh context and page per test.

Playwright's sync API keeps an asyncio loop running in the test thread while it is
started, and Django refuses ORM calls from such a thread (SynchronousOnlyOperation).
So DJANGO_ALLOW_ASYNC_UNSAFE is set while the driver runs, and both last only as
long as this package's tests (scope="package"): the rest of the suite keeps
Django's check and has no loop in its thread.

Without /usr/bin/chromium the tests are skipped with the reason; CI sets
DELTRAN_REQUIRE_SERVICES=1, which turns that skip into a failure. Browsers are
never downloaded: Playwright launches Debian's Chromium.
"""

import importlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from deltran.models import AuditEntry
from liquidity.models import PoolMovement
from settlement.models import LedgerPosting

append_only = importlib.import_module("deltran.migrations.0002_audit_append_only")
# Append-only tables (UPDATE and DELETE refused by triggers) and the migrations that hold their triggers.
APPEND_ONLY = [
    (append_only, AuditEntry),
    (importlib.import_module("liquidity.migrations.0002_pool_movements_rebalances"), PoolMovement),
    (importlib.import_module("settlement.migrations.0002_obligations_positions_netting_cycles"), LedgerPosting),
]

CHROMIUM = Path(os.environ.get("DELTRAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
REQUIRE_SERVICES = os.environ.get("DELTRAN_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    for item in items:
        if "browser" in item.keywords:
            if REQUIRE_SERVICES:
                raise pytest.UsageError(f"DELTRAN_REQUIRE_SERVICES=1 but {CHROMIUM} is missing")
            reason = f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _audit_log_cleared_after(transactional_db):
    """The live server needs real commits, so the database is flushed after each test; on SQLite the flush
    runs DELETE, which the append-only triggers (audit log, pool movements, ledger postings) refuse (PostgreSQL
    flushes with TRUNCATE, which row triggers do not see). Empty those tables first with their triggers off, as a
    DBA would."""
    yield
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for migration, model in APPEND_ONLY:
            for statement in migration.SQLITE_DOWN:
                cursor.execute(statement)
            try:
                model.objects.all().delete()
            finally:
                for statement in migration.SQLITE_UP:
                    cursor.execute(statement)


@pytest.fixture(scope="package")
def _orm_beside_playwright():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_orm_beside_playwright):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offsite_requests() -> list[str]:
    """URLs the pages tried to fetch from anywhere but the live server; the pages must work offline."""
    return []


@pytest.fixture
def context(browser, live_server, offsite_requests):
    """A fresh profile (no cookies) that may reach only the live server; other requests are recorded and aborted."""
    ctx = browser.new_context(viewport=WIDE, base_url=live_server.url, locale="en-GB", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    server = urlsplit(live_server.url).netloc

    def only_the_live_server(route):
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlsplit(url).netloc == server:
            route.continue_()
        else:
            offsite_requests.append(url)
            route.abort()

    ctx.route("**/*", only_the_live_server)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot as tests/browser/screenshots/<name>.png (the folder is git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
