"""The stress test's pieces: the mix's proportions, the plan, the reconciliation's findings, a short live run."""

import importlib
import json
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from deltran.models import AuditEntry
from deltran.roles import OPERATOR
from liquidity.models import PoolMovement
from payments.models import Payment
from payments.services import BatchItem, PaymentInstruction, payments_initiate_many
from payments.stress.mix import TYPE_RANGES_USD, MixGenerator, due_time, payments_in, plan_build
from payments.stress.reconcile import ledger_snapshot, stress_reconcile
from payments.stress.run import CROSS_REGIONAL_PAIRS, REGIONAL_PAIRS, StressOptions, scenario_mix, stress_run
from settlement.models import LedgerPosting, SettlementAccount
from tests.conftest import ROLE_USERS

# Append-only tables and the migrations holding their triggers (as tests/browser/conftest.py empties them).
APPEND_ONLY = [
    (importlib.import_module("deltran.migrations.0002_audit_append_only"), AuditEntry),
    (importlib.import_module("liquidity.migrations.0002_pool_movements_rebalances"), PoolMovement),
    (importlib.import_module("settlement.migrations.0002_obligations_positions_netting_cycles"), LedgerPosting),
]


@pytest.fixture
def _append_only_emptied_after(transactional_db):
    """The live server needs real commits, so the database is flushed after the test; on SQLite the flush runs
    DELETE, which the append-only triggers refuse: empty those tables first with their triggers off."""
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


def _share(counter: Counter, key: str) -> float:
    return counter[key] / sum(counter.values())


def test_mix_proportions_follow_the_seed():
    mix = scenario_mix(StressOptions(listed_share=0.01, pressure_every=0))
    generator = MixGenerator(mix, run="t", seed=7)
    payments = [next(generator) for _ in range(20_000)]
    patterns = Counter(p.pattern for p in payments)
    types = Counter(p.type for p in payments)
    # 20,000 draws: the standard error of a 60 % share is 0.35 %; 1.5 % is more than four of them.
    assert abs(_share(patterns, "domestic") - 0.60) < 0.015
    assert abs(_share(patterns, "regional") - 0.25) < 0.015
    assert abs(_share(patterns, "cross_regional") - 0.15) < 0.015
    assert abs(_share(types, "retail") - 0.70) < 0.015
    assert abs(_share(types, "corporate") - 0.25) < 0.015
    assert abs(_share(types, "wholesale") - 0.05) < 0.01
    usd = sum(1 for p in payments if p.currency == "USD") / len(payments)
    assert abs(usd - 0.40) < 0.015
    assert abs(sum(p.listed for p in payments) / len(payments) - 0.01) < 0.004
    regional = {pair for a, b in REGIONAL_PAIRS for pair in ((a, b), (b, a))}
    cross = {pair for a, b in CROSS_REGIONAL_PAIRS for pair in ((a, b), (b, a))}
    primaries = {bank.bic: bank.primary_currency for bank in mix.banks}
    for p in payments:
        if p.pattern == "domestic":
            assert p.sender == p.receiver
        else:
            assert (p.sender, p.receiver) in (regional if p.pattern == "regional" else cross)
        if p.currency != "USD":
            assert (p.currency, p.settlement_currency) == (primaries[p.sender], primaries[p.receiver])
        low, high = TYPE_RANGES_USD[p.type]
        usd_value = p.amount / mix.usd_rates[p.currency]
        assert low - Decimal("0.01") <= usd_value <= high + Decimal("0.01")
    assert len({p.key for p in payments}) == len(payments)


def test_liquidity_pressure_bursts_reach_their_share_of_a_limit():
    mix = scenario_mix(StressOptions(pressure_every=1000, listed_share=0))
    generator = MixGenerator(mix, run="t", seed=3)
    payments = [next(generator) for _ in range(3000)]
    bursts = [p for p in payments if p.pressure]
    assert bursts and all(p.type == "wholesale" and p.sender != p.receiver for p in bursts)
    first_sender = bursts[0].sender
    first = [p for p in bursts if p.sender == first_sender]
    total = sum(p.amount / mix.usd_rates[p.currency] for p in first)
    limit = next(b.daily_limit_usd for b in mix.banks if b.bic == first_sender)
    assert total >= limit * mix.pressure_share_of_limit


def test_schedule_ramps_up_then_holds_the_rate():
    assert payments_in(10, rate=100, ramp=4) == 200 + 600
    assert due_time(200, rate=100, ramp=4) == pytest.approx(4.0)
    assert due_time(50, rate=100, ramp=4) == pytest.approx(2.0)  # a quarter of the ramp's payments by half of it
    assert due_time(300, rate=100, ramp=4) == pytest.approx(5.0)


def test_plan_puts_every_payment_in_one_request_of_its_kind():
    mix = scenario_mix(StressOptions(batch_size=20, single_share=0.1, pressure_every=0))
    plan = plan_build(mix, run="p", rate=200, duration=5, ramp=1, seed=2)
    keys = [key for r in plan.requests for key in r.keys]
    assert len(keys) == len(set(keys)) == plan.payments == payments_in(5, rate=200, ramp=1)
    dues = [r.due for r in plan.requests]
    assert dues == sorted(dues) and dues[-1] <= 5
    kinds = Counter(r.kind for r in plan.requests)
    assert set(kinds) == {"batch", "pacs008", "single"}
    for r in plan.requests:
        if r.kind == "single":
            assert len(r.keys) == 1 and "idempotency_key" not in json.loads(r.body)
        elif r.kind == "batch":
            items = json.loads(r.body)
            assert 1 <= len(items) <= 20 and [i["idempotency_key"] for i in items] == r.keys
            assert {i["sender_bic"] for i in items} == {r.sender}
        else:
            assert r.body.count(b"<CdtTrfTxInf>") == len(r.keys) and all(k.startswith("pacs008:") for k in r.keys)
    assert abs(plan.planned["kind"]["single"] / plan.payments - 0.1) < 0.03


def _initiate(keys: list[str], user) -> None:
    items = [
        BatchItem(
            instruction=PaymentInstruction(
                sender_bic="ENBXAEADXXX",
                receiver_bic="SBININBBXXX",
                amount=Decimal("1500.00"),
                currency="USD",
                debtor_name=f"Reconcile Debtor {i}",
                creditor_name="Reconcile Creditor",
            ),
            idempotency_key=key,
            fingerprint=key,
        )
        for i, key in enumerate(keys)
    ]
    outcomes = payments_initiate_many(actor=user, items=items, channel="batch")
    assert all(o.payment is not None for o in outcomes)


def test_reconciliation_finds_a_lost_payment_and_a_ledger_mismatch(scenario, users):
    since = timezone.now()
    before = ledger_snapshot()
    _initiate(["r-1", "r-2", "r-3"], users[OPERATOR])

    clean = stress_reconcile(sent_keys=["r-1", "r-2", "r-3"], refused_keys=set(), since=since, ledger_before=before)
    assert clean.ok, clean.as_dict()
    assert clean.recorded == 3 and clean.statuses == {"queued": 3}

    lost = stress_reconcile(
        sent_keys=["r-1", "r-2", "r-3", "r-lost"], refused_keys=set(), since=since, ledger_before=before
    )
    assert not lost.ok and lost.counts_missing == 1 and lost.missing == ["r-lost"]
    # A key the server refused at intake is not lost.
    assert stress_reconcile(sent_keys=["r-1", "r-lost"], refused_keys={"r-lost"}, since=since, ledger_before=before).ok

    # A balance changed without a posting.
    account = SettlementAccount.objects.get(account_number__isnull=False, bank__bic="SBININBBXXX", currency="USD")
    SettlementAccount.objects.filter(pk=account.pk).update(balance=account.balance + Decimal("0.01"))
    broken = stress_reconcile(sent_keys=["r-1"], refused_keys=set(), since=since, ledger_before=before)
    assert not broken.ok
    assert [m["account"] for m in broken.ledger_mismatches] == [account.account_number]


def test_reconciliation_finds_a_position_that_does_not_match_the_payments(scenario, users):
    from settlement.models import BankPosition

    since = timezone.now()
    before = ledger_snapshot()
    _initiate(["q-1"], users[OPERATOR])
    assert stress_reconcile(sent_keys=["q-1"], refused_keys=set(), since=since, ledger_before=before).ok
    position = BankPosition.objects.get(bank__bic="ENBXAEADXXX")
    BankPosition.objects.filter(pk=position.pk).update(debit_usd=position.debit_usd + 1)
    result = stress_reconcile(sent_keys=["q-1"], refused_keys=set(), since=since, ledger_before=before)
    assert not result.ok and len(result.position_mismatches) == 1
    assert result.position_mismatches[0]["bank_id"] == position.bank_id


def test_reconciliation_finds_child_rows_without_their_payment(scenario, users):
    # Those keys carry no database constraint (decision 0006): the reconciliation is what notices an orphan.
    from payments.models import PaymentTransition

    since = timezone.now()
    before = ledger_snapshot()
    _initiate(["o-1"], users[OPERATOR])
    assert stress_reconcile(sent_keys=["o-1"], refused_keys=set(), since=since, ledger_before=before).orphans == {}
    step = PaymentTransition.objects.first()
    PaymentTransition.objects.create(
        payment_id=uuid.uuid4(),
        from_status=step.from_status,
        to_status=step.to_status,
        actor_label="stray",
        reason="written by something outside the intake",
        occurred_at=step.occurred_at,
    )
    result = stress_reconcile(sent_keys=["o-1"], refused_keys=set(), since=since, ledger_before=before)
    assert not result.ok and result.orphans == {"payments_paymenttransition.payment_id": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_append_only_emptied_after")
def test_a_short_stress_run_against_a_live_server(live_server, scenario, users, tmp_path, settings):
    # The test server shares one in-memory SQLite connection between its threads: one request at a time.
    options = StressOptions(
        poll_queue=settings.DATABASE_VENDOR == "postgresql",
        url=live_server.url,
        rate=30,
        duration=3,
        ramp=1,
        interval=1,
        connections=1 if settings.DATABASE_VENDOR == "sqlite" else 3,
        batch_size=8,
        single_share=0.15,
        listed_share=0.05,
        pressure_every=0,
        seed=5,
        username=ROLE_USERS[OPERATOR],
        password="pw-" + ROLE_USERS[OPERATOR],
        grace=60,
        drain=True,
        out_dir=tmp_path,
    )
    lines = []
    report = stress_run(options=options, log=lines.append)

    planned = payments_in(3, rate=30, ramp=1)
    sent = report["sent"]
    assert report["planned_payments"] == planned
    # Drained: every planned payment was sent, however late the server let it leave.
    assert sent["payments"] == planned and sent["unsent_payments"] == 0, lines
    assert sent["recorded"] == sent["payments"] and sent["refused_at_intake"] == 0, sent["errors"]
    assert report["success_rate"] == 1.0
    for dim in ("pattern", "type", "currency", "kind"):
        assert sum(report["counts"][dim].values()) == sent["payments"]
    assert set(report["latency"]) <= {"batch", "pacs008", "single"} and report["latency"]
    assert report["intervals"] and any("payments/s" in line for line in lines)

    reconciliation = report["reconciliation"]
    assert reconciliation["ok"], reconciliation
    assert reconciliation["sent"] == reconciliation["recorded"] == sent["payments"]
    assert (
        Payment.objects.filter(created_at__gte=timezone.now() - timezone.timedelta(minutes=5)).count()
        == (sent["payments"])
    )
    held = reconciliation["statuses"].get("compliance_review", 0)
    assert held == report["held_for_review"] and held >= 1  # the listed names are held for a review

    saved = json.loads((tmp_path / report["files"]["json"].rsplit("/", 1)[1]).read_text())
    assert saved["sent"]["payments"] == sent["payments"]
    html = (tmp_path / report["files"]["html"].rsplit("/", 1)[1]).read_text()
    assert "<svg" in html and "Reconciliation" in html and "clean" in html
