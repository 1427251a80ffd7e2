"""The pool's services on the real database: rebalancing (movements, conservation, minimums, event and audit,
no-ops, the beat task and the command), pool movements, and who may see and rebalance the pool (API and page).

The scenario's pool is the seed's, at the seed's USD base rates; tests move balances with PoolBalance updates.
"""

import json
from decimal import Decimal

import lxml.html
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client
from rest_framework.test import APIClient

from deltran.audit import audit_verify
from deltran.errors import DomainError
from deltran.models import AuditEntry, OutboxEvent
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, ROLES, VIEWER
from fxrates.selectors import current_rate_table
from liquidity.choices import BalanceState, MovementKind, RebalanceStatus, RebalanceTrigger
from liquidity.engines.rebalance import VALUATION_CURRENCY
from liquidity.models import LiquidityPool, PoolBalance, PoolMovement, Rebalance
from liquidity.services import PoolBalanceInsufficient, pool_movement_apply, pool_rebalance
from liquidity.tasks import pool_rebalance_task
from payments.scenario import POOL
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.django_db

D = Decimal
MILLION = D(1_000_000)
SEED_CURRENCIES = sorted(POOL["balances"])
OPERATORS = {ADMIN, OPERATOR}


def set_pool(**available_millions) -> None:
    """Every currency of the seed pool on its target, except the given ones (available, in millions)."""
    for code, (_, _, target, _) in POOL["balances"].items():
        available = D(available_millions[code]) * MILLION if code in available_millions else target
        PoolBalance.objects.filter(currency_id=code).update(available=available)


def balances() -> dict[str, Decimal]:
    return dict(PoolBalance.objects.values_list("currency_id", "available"))


def pool_value_usd(amounts: dict[str, Decimal]) -> Decimal:
    """Exact: the engine's valuation (amount x rate(currency, USD)), no rounding."""
    table = current_rate_table()
    return sum((amount * table.rate(code, VALUATION_CURRENCY) for code, amount in amounts.items()), D(0))


@pytest.fixture
def pool(scenario) -> LiquidityPool:
    return LiquidityPool.objects.get(name=POOL["name"])


# --- Rebalancing ---------------------------------------------------------------------------------------------------


def test_rebalance_moves_value_from_usd_to_the_currencies_below_target(pool, users):
    # USD 2,000m (+100 %), EUR 150m (-40 %), GBP 100m (-33 %); the rest on target. As in the engine's example:
    # EUR and GBP land exactly on their targets, bought with USD.
    set_pool(USD=2000, EUR=150, GBP=100)
    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[OPERATOR])

    assert rebalance.status == RebalanceStatus.APPLIED
    assert rebalance.trigger == RebalanceTrigger.OPERATOR
    assert rebalance.run_by == users[OPERATOR]
    assert rebalance.beyond_threshold == ["EUR", "GBP", "USD"]
    assert rebalance.moves == [
        {
            "source": "USD",
            "target": "EUR",
            "source_amount": "108750027.02",
            "target_amount": "100000000.00",
            "rate": "0.92000000",
            "fx_cost_usd": "54375.013510",
        },
        {
            "source": "USD",
            "target": "GBP",
            "source_amount": "63322800.41",
            "target_amount": "50000000.00",
            "rate": "0.79000000",
            "fx_cost_usd": "31661.400205",
        },
    ]
    after = balances()
    assert after["EUR"] == D("250000000") and after["GBP"] == D("150000000")
    assert after["USD"] == D("1827927172.57")
    assert all(after[code] == POOL["balances"][code][2] for code in ("AED", "ILS", "INR", "PKR"))

    # One movement per leg, in the order the legs were applied, each with the balance it left.
    movements = list(PoolMovement.objects.filter(reference=f"rebalance:{rebalance.pk}").order_by("id"))
    assert [(m.kind, m.currency_id, m.amount, m.balance_after) for m in movements] == [
        (MovementKind.REBALANCE_OUT, "USD", D("-108750027.02"), D("1891249972.98")),
        (MovementKind.REBALANCE_IN, "EUR", D("100000000.00"), D("250000000.00")),
        (MovementKind.REBALANCE_OUT, "USD", D("-63322800.41"), D("1827927172.57")),
        (MovementKind.REBALANCE_IN, "GBP", D("50000000.00"), D("150000000.00")),
    ]
    assert movements[0].memo == "108750027.02 USD sold for 100000000.00 EUR at 1 USD = 0.92000000 EUR"


def test_rebalance_conserves_usd_value_up_to_the_recorded_fx_cost_and_rounding(pool):
    set_pool(USD=2000, EUR=150, GBP=100)
    before = balances()
    rebalance = pool_rebalance(trigger=RebalanceTrigger.COMMAND)
    after = balances()

    exact_before, exact_after = pool_value_usd(before), pool_value_usd(after)
    exact_fx_cost = sum((D(move["fx_cost_usd"]) for move in rebalance.moves), D(0))
    exact_rounding = exact_before - exact_after - exact_fx_cost
    # Never creates money; loses at most the FX cost and less than one minor unit per move.
    assert exact_fx_cost == D("86036.413715")
    assert exact_rounding == D("0.016285")
    assert 0 <= exact_rounding < len(rebalance.moves) * D("0.01")
    # The recorded figures are those exact ones, rounded to their columns' places.
    assert rebalance.value_before_usd == exact_before.quantize(D("0.0001"))
    assert rebalance.value_after_usd == exact_after.quantize(D("0.0001"))
    assert rebalance.fx_cost_usd == exact_fx_cost.quantize(D("0.0001"))
    assert rebalance.rounding_usd == exact_rounding
    stored = Rebalance.objects.get(pk=rebalance.pk)
    gap = stored.value_before_usd - stored.value_after_usd - stored.fx_cost_usd - stored.rounding_usd
    assert abs(gap) <= D("0.0002")  # three figures rounded to 4 places


@pytest.mark.parametrize(
    "available",
    [
        {"USD": 1100, "EUR": 0},  # USD has only 100m to give: it lands on its target, EUR gets what it buys
        {"USD": 1100, "EUR": 100, "GBP": 50, "AED": 520},  # two small surpluses, two deep deficits
        {"EUR": 20, "GBP": 10, "INR": 60000},  # INR far above target funds two currencies below their minimum
    ],
)
def test_rebalance_never_takes_a_source_below_its_minimum_nor_its_target(pool, available):
    set_pool(**available)
    before = balances()
    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR)
    after = balances()
    assert rebalance.status == RebalanceStatus.APPLIED
    thresholds = {code: (minimum, target, maximum) for code, (_, minimum, target, maximum) in POOL["balances"].items()}
    for code in {move["source"] for move in rebalance.moves}:
        minimum, target, _ = thresholds[code]
        assert target <= after[code] < before[code]
        assert after[code] >= minimum
    for code in {move["target"] for move in rebalance.moves}:
        assert before[code] < after[code] <= thresholds[code][1]
    # Every currency's movements add up to its change, and the last one's balance_after is the balance.
    for code in before:
        rows = list(PoolMovement.objects.filter(currency_id=code).order_by("id"))
        assert sum((m.amount for m in rows), D(0)) == after[code] - before[code]
        if rows:
            assert rows[-1].balance_after == after[code]


def test_rebalance_writes_its_event_and_its_audit_entry(pool, users):
    set_pool(USD=2000, EUR=150)
    events_before = OutboxEvent.objects.count()
    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[ADMIN])

    (event,) = OutboxEvent.objects.all()[events_before:]
    assert event.topic == "liquidity"
    assert event.event_type == "liquidity.liquidity_rebalance"
    payload = json.loads(json.dumps(event.payload))  # what the WebSocket relay sends
    assert payload["rebalance_id"] == rebalance.pk
    assert payload["status"] == "applied"
    assert payload["moves"] == rebalance.moves
    assert payload["fx_cost_usd"] == format(rebalance.fx_cost_usd, "f")
    assert payload["run_by"] == ROLE_USERS[ADMIN]

    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.action == "liquidity.rebalance"
    assert (entry.object_type, entry.object_id) == ("rebalance", str(rebalance.pk))
    assert entry.actor_label == ROLE_USERS[ADMIN]
    assert entry.payload["moves"] == rebalance.moves
    movement_ids = list(PoolMovement.objects.filter(reference=f"rebalance:{rebalance.pk}").values_list("id", flat=True))
    assert sorted(entry.payload["movements"]) == sorted(movement_ids)
    assert audit_verify().ok


def test_within_the_threshold_an_operator_records_a_noop_and_beat_records_nothing(pool, users):
    set_pool(USD=1150, EUR=210)  # +15 % and -16 %: both within 20 %
    before = balances()
    counts = (Rebalance.objects.count(), OutboxEvent.objects.count(), AuditEntry.objects.count())

    assert pool_rebalance(trigger=RebalanceTrigger.BEAT) is None
    assert (Rebalance.objects.count(), OutboxEvent.objects.count(), AuditEntry.objects.count()) == counts

    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[OPERATOR])
    assert rebalance.status == RebalanceStatus.NOOP
    assert rebalance.moves == [] and rebalance.beyond_threshold == []
    assert rebalance.fx_cost_usd == rebalance.rounding_usd == 0
    assert rebalance.value_before_usd == rebalance.value_after_usd
    assert balances() == before
    assert not PoolMovement.objects.exists()
    assert AuditEntry.objects.order_by("-id").first().payload["status"] == "noop"


def test_the_seed_pool_as_loaded_has_nothing_to_move(pool):
    # Every currency holds twice its target: all beyond the threshold, none short, so nothing can trade.
    rebalance = pool_rebalance(trigger=RebalanceTrigger.COMMAND)
    assert rebalance.status == RebalanceStatus.NOOP
    assert rebalance.beyond_threshold == SEED_CURRENCIES


def test_beat_rebalances_only_pools_with_automatic_rebalancing_and_is_safe_to_run_twice(pool):
    set_pool(USD=2000, EUR=150)
    LiquidityPool.objects.filter(pk=pool.pk).update(auto_rebalance=False)
    assert pool_rebalance_task() == 0
    assert pool_rebalance(pool_id=pool.pk, trigger=RebalanceTrigger.BEAT) is None
    assert not Rebalance.objects.exists()

    LiquidityPool.objects.filter(pk=pool.pk).update(auto_rebalance=True)
    assert pool_rebalance_task() == 1
    rebalance = Rebalance.objects.get()
    assert (rebalance.trigger, rebalance.run_by, rebalance.status) == ("beat", None, "applied")
    assert pool_rebalance_task() == 0  # on target now: nothing more to do, nothing recorded
    assert Rebalance.objects.count() == 1


def test_beat_schedule_runs_the_rebalance_task():
    entry = settings.CELERY_BEAT_SCHEDULE["liquidity.rebalance"]
    assert entry == {"task": "liquidity.rebalance", "schedule": settings.POOL_REBALANCE_SECONDS}
    assert settings.POOL_REBALANCE_SECONDS == 300
    assert settings.POOL_FX_SPREAD == D("0.0005")


def test_the_fx_spread_comes_from_the_setting(pool, settings):
    settings.POOL_FX_SPREAD = D("0.001")
    set_pool(USD=2000, EUR=150)
    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR)
    (move,) = rebalance.moves
    assert rebalance.fx_spread == D("0.001")
    assert D(move["fx_cost_usd"]) == D(move["source_amount"]) * D("0.001")


def test_management_command_rebalances_and_says_what_moved(pool, capsys):
    set_pool(USD=2000, EUR=150)
    call_command("rebalance_pool")
    out = capsys.readouterr().out
    rebalance = Rebalance.objects.get()
    assert rebalance.trigger == RebalanceTrigger.COMMAND
    assert (
        f"Rebalance {rebalance.pk} applied: sold 108,750,027.02 USD for 100,000,000.00 EUR at 1 USD = 0.92000000 EUR."
        in out
    )
    assert "FX cost 54,375.01 USD." in out

    # USD is still 82.8 % above its target, but no currency is left below its own to buy.
    call_command("rebalance_pool")
    assert capsys.readouterr().out == (
        f"Rebalance {Rebalance.objects.first().pk}: nothing moved. USD is more than 20% from target, but no currency "
        "on the other side of its target can trade with it.\n"
    )
    set_pool(USD=1100)
    call_command("rebalance_pool")
    latest = Rebalance.objects.first()  # newest first
    assert latest.status == RebalanceStatus.NOOP
    assert (
        capsys.readouterr().out
        == f"Rebalance {latest.pk}: nothing to move, every currency is within 20% of its target.\n"
    )


# --- Movements -----------------------------------------------------------------------------------------------------


def test_pool_movement_apply_records_each_change_with_the_balance_after_it(pool):
    first = pool_movement_apply(
        pool=pool, currency="EUR", amount=D("1000.50"), kind=MovementKind.FX_LEG_IN, reference="cycle:7", memo="in"
    )
    second = pool_movement_apply(pool=pool.pk, currency="EUR", amount=D("-250.25"), kind=MovementKind.FX_LEG_OUT)
    assert first.balance_after == D("500001000.50")
    assert second.balance_after == D("500000750.25")
    assert balances()["EUR"] == D("500000750.25")
    assert (first.reference, first.memo) == ("cycle:7", "in")


def test_pool_movement_apply_refuses_to_take_a_balance_below_zero(pool):
    PoolBalance.objects.filter(currency_id="GBP").update(available=D("100.00"))
    with pytest.raises(PoolBalanceInsufficient) as refused:
        pool_movement_apply(pool=pool, currency="GBP", amount=D("-100.01"), kind=MovementKind.FX_LEG_OUT, memo="")
    assert refused.value.code == "pool_balance_insufficient"
    assert refused.value.status_code == 409
    assert balances()["GBP"] == D("100.00")
    assert not PoolMovement.objects.exists()
    # Down to exactly zero is allowed (below the minimum is for rebalancing to repair).
    assert pool_movement_apply(pool=pool, currency="GBP", amount=D("-100.00"), kind="fx_leg_out").balance_after == 0


@pytest.mark.parametrize(
    ("currency", "amount", "kind", "code"),
    [
        ("SAR", D("1.00"), MovementKind.ADJUSTMENT, "pool_currency_unknown"),
        ("EUR", D("1.001"), MovementKind.ADJUSTMENT, "validation_error"),
        ("EUR", D("-5.00"), MovementKind.FX_LEG_IN, "validation_error"),
        ("EUR", D("5.00"), MovementKind.FX_COST, "validation_error"),
        ("EUR", D("0"), MovementKind.ADJUSTMENT, "validation_error"),
        ("EUR", D("5.00"), "gift", "pool_movement_kind_unknown"),
    ],
)
def test_pool_movement_apply_refuses_what_is_not_a_movement(pool, currency, amount, kind, code):
    with pytest.raises(DomainError) as refused:
        pool_movement_apply(pool=pool, currency=currency, amount=amount, kind=kind)
    assert getattr(refused.value, "code", None) == code
    assert not PoolMovement.objects.exists()


def test_pool_movements_cannot_be_changed_or_deleted(pool):
    movement = pool_movement_apply(pool=pool, currency="USD", amount=D("5.00"), kind=MovementKind.ADJUSTMENT)
    with pytest.raises(DatabaseError), transaction.atomic():
        PoolMovement.objects.filter(pk=movement.pk).update(amount=D("6.00"))
    with pytest.raises(DatabaseError), transaction.atomic():
        PoolMovement.objects.filter(pk=movement.pk).delete()
    assert PoolMovement.objects.get(pk=movement.pk).amount == D("5.00")


# --- API -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/v1/liquidity/pool"), ("post", "/api/v1/liquidity/rebalance")]
)
def test_anonymous_api_callers_get_401(pool, method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_read_the_pool_and_only_operators_and_admins_rebalance(pool, client_for, role):
    set_pool(USD=2000, EUR=150)
    api = client_for(role)
    assert api.get("/api/v1/liquidity/pool").status_code == 200
    response = api.post("/api/v1/liquidity/rebalance", data={}, format="json")
    if role in OPERATORS:
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "applied"
        assert response.json()["run_by"] == ROLE_USERS[role]
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert not Rebalance.objects.exists()


def test_pool_api_gives_balances_with_thresholds_deviation_movements_and_rebalances(pool, client_for):
    set_pool(USD=2000, EUR=50)
    operator = client_for(OPERATOR)
    posted = operator.post("/api/v1/liquidity/rebalance").json()
    assert posted["trigger"] == "operator"
    assert [(m["source"], m["target"], m["target_amount"]) for m in posted["moves"]] == [("USD", "EUR", "200000000.00")]

    body = client_for(VIEWER).get("/api/v1/liquidity/pool").json()
    assert body["pool"] == {
        "id": pool.pk,
        "name": "Primary Liquidity Pool",
        "auto_rebalance": True,
        "rebalance_threshold": "0.2000",
    }
    by_code = {row["currency"]: row for row in body["balances"]}
    assert sorted(by_code) == SEED_CURRENCIES
    usd = by_code["USD"]
    assert (usd["minimum"], usd["target"], usd["maximum"]) == ("500000000.0000", "1000000000.0000", "3000000000.0000")
    assert usd["usd_rate"] == "1"
    assert usd["available"] == "1782499945.9700"
    assert usd["deviation_from_target"] == "0.782500"  # (available - target) / target, to 6 places
    assert usd["deviation_pct"] == "78.2"
    assert usd["state"] == BalanceState.BEYOND_THRESHOLD
    assert by_code["EUR"]["state"] == BalanceState.OK and by_code["EUR"]["deviation_pct"] == "0.0"
    assert by_code["AED"]["available_usd"] == "136147040.00"  # 500m AED at 0.27229408
    assert [(m["kind"], m["currency"]) for m in body["movements"]] == [
        ("rebalance_in", "EUR"),
        ("rebalance_out", "USD"),
    ]
    assert body["movements"][0]["balance_after"] == "250000000.0000"
    assert [r["id"] for r in body["rebalances"]] == [posted["id"]]
    assert D(body["total_usd"]) == sum((D(row["available_usd"]) for row in body["balances"]), D(0))


def test_pool_api_refuses_unknown_pools_and_bad_bodies(pool, client_for):
    api = client_for(OPERATOR)
    missing = api.get("/api/v1/liquidity/pool", {"pool": 999})
    assert (missing.status_code, missing.json()["code"]) == (404, "pool_not_found")
    assert api.get("/api/v1/liquidity/pool", {"pool": "x"}).json()["code"] == "validation_error"
    refused = api.post("/api/v1/liquidity/rebalance", data={"pool_id": 999}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (404, "pool_not_found")
    unknown = api.post("/api/v1/liquidity/rebalance", data={"pool": 1}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "validation_error")
    assert not Rebalance.objects.exists()


# --- Page ----------------------------------------------------------------------------------------------------------


def page_client(users, role) -> Client:
    client = Client()
    client.force_login(users[role])
    return client


def test_anonymous_visitors_are_sent_to_log_in(pool):
    response = Client().get("/liquidity/")
    assert response.status_code == 302 and response.url.startswith("/login/?next=/liquidity/")
    response = Client().post("/liquidity/rebalance/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert not Rebalance.objects.exists()


@pytest.mark.parametrize("role", [VIEWER, AUDITOR, COMPLIANCE_OFFICER])
def test_other_roles_see_the_pool_but_cannot_rebalance_it(pool, users, role):
    client = page_client(users, role)
    response = client.get("/liquidity/")
    assert response.status_code == 200
    assert b"Rebalance now" not in response.content
    assert b'href="/liquidity/"' in response.content  # the nav entry
    assert client.post("/liquidity/rebalance/").status_code == 403
    assert not Rebalance.objects.exists()


def test_the_page_draws_a_bar_per_seed_currency_against_its_thresholds(pool, users):
    set_pool(USD=2000, EUR=50, GBP=160)
    doc = lxml.html.fromstring(page_client(users, VIEWER).get("/liquidity/").content)
    cards = doc.xpath('//article[contains(@class, "pool-currency")]')
    assert [card.get("data-currency") for card in cards] == SEED_CURRENCIES
    assert len(doc.xpath('//svg[@class="pool-bar"][@role="img"]')) == 7
    states = {card.get("data-currency"): card.get("data-state") for card in cards}
    assert states == {
        "AED": "ok",
        "EUR": "below_minimum",
        "GBP": "ok",
        "ILS": "ok",
        "INR": "ok",
        "PKR": "ok",
        "USD": "beyond_threshold",
    }
    usd = doc.xpath('//article[@data-currency="USD"]')[0]
    # Scale: 0 to 1.06 x 3,000m; balance 2,000m, minimum 500m, target 1,000m, maximum 3,000m.
    assert usd.xpath('.//rect[contains(@class, "balance")]')[0].get("width") == "62.8931%"
    assert usd.xpath('.//rect[contains(@class, "balance")]')[0].get("class") == "balance state-beyond_threshold"
    assert [line.get("x1") for line in usd.xpath(".//line")] == ["15.7233%", "94.3396%", "31.4465%"]
    title = usd.xpath(".//svg/title")[0].text
    assert title.startswith("USD: 2,000,000,000.00 available, 100.0% above its target of 1,000,000,000.00")
    assert "2,000,000,000.00 USD" in usd.text_content()
    assert "+100.0% from target" in usd.text_content()
    eur = doc.xpath('//article[@data-currency="EUR"]')[0]
    assert "≈ 54,347,826.00 USD" in " ".join(eur.text_content().split())
    assert doc.xpath('//*[@id="pool-movements"]')[0].text_content().strip() == "No movements yet."


def test_an_operator_rebalances_from_the_page_and_is_told_what_moved(pool, users):
    set_pool(USD=2000, EUR=50)
    client = page_client(users, OPERATOR)
    page = client.get("/liquidity/")
    assert b"Rebalance now" in page.content
    response = client.post("/liquidity/rebalance/", follow=True)
    assert response.redirect_chain == [("/liquidity/", 302)]
    rebalance = Rebalance.objects.get()
    doc = lxml.html.fromstring(response.content)
    (message,) = doc.xpath('//ul[@class="messages"]/li[@class="success"]')
    assert message.text_content() == (
        f"Rebalance {rebalance.pk} applied: sold 217,500,054.03 USD for 200,000,000.00 EUR at 1 USD = 0.92000000 EUR. "
        "FX cost 108,750.03 USD."
    )
    rows = doc.xpath('//*[@id="pool-movements"]/tbody/tr')
    assert [(row.get("data-kind"), row.get("data-currency")) for row in rows] == [
        ("rebalance_in", "EUR"),
        ("rebalance_out", "USD"),
    ]
    assert "+200,000,000.00 EUR" in rows[0].text_content()
    assert "−217,500,054.03 USD" in rows[1].text_content()
    (history,) = doc.xpath('//*[@id="pool-rebalances"]/tbody/tr')
    assert "217,500,054.03 USD → 200,000,000.00 EUR" in history.text_content()
    assert "108,750.03" in history.text_content()

    # Again: nothing beyond the threshold but USD, and nothing left below target to fill.
    response = client.post("/liquidity/rebalance/", follow=True)
    (message,) = lxml.html.fromstring(response.content).xpath('//ul[@class="messages"]/li[@class="info"]')
    assert "nothing moved. USD is more than 20% from target" in message.text_content()


def test_the_page_reads_a_fixed_number_of_queries(pool, users, django_assert_max_num_queries):
    set_pool(USD=2000, EUR=50)
    for _ in range(3):
        pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[OPERATOR])
    for index in range(60):
        pool_movement_apply(pool=pool, currency="AED", amount=D(index + 1), kind=MovementKind.ADJUSTMENT)
    client = page_client(users, VIEWER)
    client.get("/liquidity/")  # warm the session and the rate table
    with django_assert_max_num_queries(10):
        response = client.get("/liquidity/")
    assert len(lxml.html.fromstring(response.content).xpath('//*[@id="pool-movements"]/tbody/tr')) == 50


# --- Admin ---------------------------------------------------------------------------------------------------------


def test_admin_lists_movements_and_rebalances_read_only(pool, users, admin_client):
    set_pool(USD=2000, EUR=150)
    rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[OPERATOR])
    movement = PoolMovement.objects.first()
    for model, pk in (("poolmovement", movement.pk), ("rebalance", rebalance.pk)):
        assert admin_client.get(f"/admin/liquidity/{model}/").status_code == 200
        detail = admin_client.get(f"/admin/liquidity/{model}/{pk}/change/")
        assert detail.status_code == 200
        assert b'type="submit"' not in detail.content.split(b'id="content-main"')[1].split(b"</form>")[0]
        assert admin_client.get(f"/admin/liquidity/{model}/add/").status_code == 403
        assert admin_client.post(f"/admin/liquidity/{model}/{pk}/delete/").status_code == 403
