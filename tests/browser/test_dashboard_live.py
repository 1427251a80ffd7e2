"""The live overview end to end, on the processes `make run` starts: gunicorn (pages and API), Daphne (WebSocket,
with its outbox relay), a Celery worker and beat, in a fresh embedded system (SQLite, filesystem broker) and on
PostgreSQL + Redis.

An operator has the overview open; a payment initiated through the API appears on it within 2 s without a reload;
a netting cycle settled by the Celery worker process shows in its alerts feed, and the figures follow. Screenshots
at 1280 and 390 px go to tests/browser/screenshots/ (dashboard-*, activity-*).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Every bank clears all day on every day, with no holidays: a payment made now is due now, whatever the clock says.
OPEN_ALL_DAY = """
import datetime
from settlement.models import Bank, ClearingWindow, Holiday
Bank.objects.update(active_weekdays=[1, 2, 3, 4, 5, 6, 7])
ClearingWindow.objects.update(opens_at=datetime.time(0, 0), closes_at=datetime.time(23, 59, 59))
Holiday.objects.all().delete()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up within {timeout:g} s")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class LiveSystem:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.env = env
        self.http = f"http://127.0.0.1:{env['DELTRAN_HTTP_PORT']}"
        self.processes: dict[str, tuple[subprocess.Popen, tuple[str, ...]]] = {}
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def manage(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )

    def start(self, name: str, *command: str) -> None:
        with open(self.logs / f"{name}.log", "a") as log:
            self.processes[name] = (
                subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                ),
                command,
            )

    def stop_one(self, name: str) -> None:
        process, _ = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def restart(self, name: str) -> None:
        self.stop_one(name)
        self.start(name, *self.processes[name][1])

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_one(name)

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        request = urllib.request.Request(
            self.http + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log")))


def _postgres_database(url: str, name: str, *, create: bool) -> str:
    import psycopg2

    parts = urlsplit(url)
    admin = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def live_system(request, tmp_path_factory):
    """One system per mode for this module's tests (starting one takes half a minute)."""
    tmp_path = tmp_path_factory.mktemp(f"live-{request.param}")
    mode = request.param
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    http_port, ws_port = free_port(), free_port()
    env.update(
        DJANGO_SETTINGS_MODULE="deltran.settings",
        DELTRAN_VAR_DIR=str(tmp_path / "var"),
        DELTRAN_HTTP_PORT=str(http_port),
        WEBSOCKET_URL=f"ws://127.0.0.1:{ws_port}/api/v1/ws",
        FX_SIMULATION_ENABLED="0",
        NETTING_CYCLE_SECONDS="3600",
        POOL_REBALANCE_SECONDS="3600",
        PYTHONUNBUFFERED="1",
    )
    database = None
    if mode == "postgres":
        base = settings.DATABASES["default"]
        database = f"{base['NAME']}_live_e2e"[:60]
        env["DATABASE_URL"] = _postgres_database(os.environ["DATABASE_URL"], database, create=True)
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    system = LiveSystem(tmp_path, env)
    system.mode = mode
    try:
        system.manage("migrate", "-v0")
        system.manage("load_scenario")
        system.manage("shell", stdin=OPEN_ALL_DAY)
        system.start("web", str(BIN / "gunicorn"), "deltran.wsgi", "--bind", f"127.0.0.1:{http_port}", "--workers", "2")
        system.start(
            "ws", str(BIN / "daphne"), "--bind", "127.0.0.1", "--port", str(ws_port), "deltran.asgi:application"
        )
        system.start(
            "worker", str(BIN / "celery"), "--app", "deltran", "worker", "--concurrency", "1", "--loglevel", "INFO"
        )
        system.start(
            "beat",
            str(BIN / "celery"),
            "--app",
            "deltran",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        )
        wait_for(lambda: http_ok(system.http + "/login/"), "gunicorn")
        wait_for(lambda: port_open(ws_port), "daphne")
        yield system
    finally:
        system.stop()
        print(system.log_tail())  # shown by pytest when the test failed
        if database:
            _postgres_database(os.environ["DATABASE_URL"], database, create=False)


@pytest.fixture
def live_page(browser, live_system):
    """A fresh browser profile that may reach only the live system (its pages and its WebSocket)."""
    ctx = browser.new_context(viewport=WIDE, base_url=live_system.http, locale="en-GB", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    allowed = {urlsplit(live_system.http).netloc}
    offsite: list[str] = []

    def only_the_system(route):
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlsplit(url).netloc in allowed:
            route.continue_()
        else:
            offsite.append(url)
            route.abort()

    ctx.route("**/*", only_the_system)
    page = ctx.new_page()
    page.offsite = offsite
    yield page
    ctx.close()


def test_dashboard_shows_payments_and_a_worker_settled_cycle_live(live_system, live_page, screenshot):
    page = live_page
    log_in(page, "operator", "deltran-operator")
    page.goto("/dashboard/")
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live")
    expect(status).to_have_text("Live")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Overview", "Activity", "Payments", "Netting", "Calendar", "FX rates", "Liquidity pool", "API docs"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator('[data-metric="queue_depth"]')).to_have_text("0")

    token = live_system.api("POST", "/api/v1/auth/login", {"username": "operator", "password": "deltran-operator"})[
        "access"
    ]
    body = {
        "sender_bic": "ENBXAEADXXX",
        "receiver_bic": "SBININBBXXX",
        "amount": "125000.50",
        "currency": "USD",
        "debtor_name": "Acme Trading LLC",
        "creditor_name": "Mumbai Textiles Pvt Ltd",
    }
    started = time.monotonic()
    first = live_system.api("POST", "/api/v1/payments/initiate", body, token)
    row = page.locator(f'#latest-payments tr[data-payment="{first["id"]}"]')
    expect(row).to_be_visible(timeout=2_000)
    assert time.monotonic() - started < 2.0
    expect(row).to_contain_text(first["payment_reference"])
    expect(row).to_contain_text("125,000.50 USD")
    expect(row.locator(".status")).to_have_text("Queued")
    second = live_system.api(
        "POST",
        "/api/v1/payments/initiate",
        {**body, "sender_bic": "SBININBBXXX", "receiver_bic": "ENBXAEADXXX", "amount": "25000.00"},
        token,
    )
    expect(page.locator(f'#latest-payments tr[data-payment="{second["id"]}"]')).to_be_visible(timeout=2_000)
    # beat rolls the counters up every second: the tiles follow without a reload.
    expect(page.locator('[data-metric="queue_depth"]')).to_have_text("2", timeout=5_000)
    expect(page.locator('#volume tr[data-currency="USD"] .amount')).to_have_text("150,000.50", timeout=5_000)

    # The netting cycle runs in the Celery worker process, sent through the broker.
    subprocess.run(
        [str(BIN / "celery"), "--app", "deltran", "call", "settlement.netting_cycle"],
        cwd=ROOT,
        env=live_system.env,
        check=True,
        capture_output=True,
    )
    alert = page.locator('#alerts li[data-kind="netting_cycle"]').first
    expect(alert).to_contain_text("settled: 2 payments", timeout=15_000)
    expect(alert).to_contain_text("gross 150,000.50 USD, net 100,000.50 USD")
    expect(row.locator(".status")).to_have_text("Settled")
    expect(page.locator('[data-metric="settled_today"]')).to_have_text("2", timeout=5_000)
    expect(page.locator('[data-metric="success_rate"]')).to_have_text("100%", timeout=5_000)
    expect(page.locator('[data-metric="queue_depth"]')).to_have_text("0")
    assert page_problems(page) == []
    assert page.offsite == []
    screenshot(page, f"dashboard-{live_system.mode}-1280")

    # The connection indicator reconnects by itself, and what happened meanwhile arrives (replay from the last id).
    live_system.stop_one("ws")
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_contain_text("reconnecting in")
    during = live_system.api("POST", "/api/v1/payments/initiate", {**body, "amount": "7.00"}, token)
    live_system.restart("ws")
    expect(status).to_have_text("Live", timeout=20_000)
    expect(page.locator(f'#latest-payments tr[data-payment="{during["id"]}"]')).to_be_visible()

    page.set_viewport_size(NARROW)
    page.reload()
    expect(status).to_have_text("Live")
    assert page_problems(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    screenshot(page, f"dashboard-{live_system.mode}-390")


def test_activity_page_charts_and_banks(live_system, live_page, screenshot):
    page = live_page
    token = live_system.api("POST", "/api/v1/auth/login", {"username": "operator", "password": "deltran-operator"})[
        "access"
    ]
    live_system.api(
        "POST",
        "/api/v1/payments/initiate",
        {
            "sender_bic": "LUMIILITXXX",
            "receiver_bic": "ENBXAEADXXX",
            "amount": "990.00",
            "currency": "EUR",
            "debtor_name": "Acme Trading LLC",
            "creditor_name": "Mumbai Textiles Pvt Ltd",
        },
        token,
    )
    log_in(page, "viewer", "deltran-viewer")
    # The page shows counters at most METRICS_STALE_SECONDS old (beat rolls them up every second): the payment
    # may land just after a roll-up, so look again until it is counted.
    page.goto("/activity/")
    deadline = time.monotonic() + 20
    while "990.00 EUR" not in page.locator('#bank-activity tr[data-bic="LUMIILITXXX"]').inner_text():
        assert time.monotonic() < deadline, "the payment was not counted on the activity page within 20 s"
        page.wait_for_timeout(500)
        page.reload()
    for viewport in (WIDE, NARROW):
        page.set_viewport_size(viewport)
        page.goto("/activity/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Activity, last 30 days")
        expect(
            page.get_by_role("img", name="Bar chart of the number of payments received per day", exact=False)
        ).to_be_visible()
        expect(page.locator("svg.bars-svg")).to_have_count(3)
        bank = page.locator('#bank-activity tr[data-bic="LUMIILITXXX"]')
        expect(bank).to_contain_text("990.00 EUR")
        assert page_problems(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        saved = screenshot(page, f"activity-{live_system.mode}-{viewport['width']}")
        page.screenshot(path=str(saved.with_name(f"activity-{live_system.mode}-{viewport['width']}-top.png")))
    assert page.offsite == []
