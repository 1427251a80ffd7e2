"""The audit log: a hash chain written by payment intake, checked by `verify_audit`, append-only in the database."""

import importlib
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from deltran.audit import GENESIS_HASH, AuditItem, audit_record, audit_record_many, audit_verify, entry_hash
from deltran.models import AuditEntry
from tests.conftest import payment_body

INITIATE_URL = "/api/v1/payments/initiate"

# The migration that installs the triggers; its statements let a test remove and restore them on SQLite.
append_only = importlib.import_module("deltran.migrations.0002_audit_append_only")


def initiate_payments(client, count: int) -> list[str]:
    ids = []
    for n in range(count):
        response = client.post(
            INITIATE_URL, payment_body(amount=f"{100 + n}.25", remittance_info=f"Invoice {n}"), format="json"
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def recomputed_hash(entry: AuditEntry) -> str:
    return entry_hash(
        prev_hash=entry.prev_hash,
        occurred_at=entry.occurred_at,
        actor_label=entry.actor_label,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        payload=entry.payload,
    )


@contextmanager
def triggers_bypassed():
    """Tamper the way a DBA with full rights would: switch the append-only triggers off, then on again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            for statement in append_only.SQLITE_DOWN:
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")
            else:
                for statement in append_only.SQLITE_UP:
                    cursor.execute(statement)


def verify_audit_error() -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=StringIO())
    return str(excinfo.value)


def names_entry(message: str, pk: int) -> bool:
    # "#12" must not be satisfied by "#123".
    return re.search(rf"#{pk}(?!\d)", message) is not None


@pytest.fixture
def chain(scenario, operator_client):
    """Five payments initiated over the API, and the audit entries they wrote (in chain order)."""
    before = AuditEntry.objects.count()
    payment_ids = initiate_payments(operator_client, 5)
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert [entry.object_id for entry in entries] == payment_ids
    return entries


# --- The chain as payment intake writes it --------------------------------------------


def test_payment_initiation_writes_one_linked_entry_per_payment(chain):
    assert [entry.action for entry in chain] == ["payment.initiate"] * 5
    assert {entry.object_type for entry in chain} == {"payment"}
    assert {entry.actor_label for entry in chain} == {"t_operator"}
    assert all(entry.actor_id is not None for entry in chain)
    assert chain[0].payload["amount"] == "100.25"
    assert chain[0].payload["sender_bic"] == "ENBXAEADXXX"

    everything = list(AuditEntry.objects.order_by("id"))
    assert everything[0].prev_hash == GENESIS_HASH
    for previous, entry in zip(everything, everything[1:], strict=False):
        assert entry.prev_hash == previous.entry_hash
    for entry in everything:
        assert recomputed_hash(entry) == entry.entry_hash
    assert len({entry.entry_hash for entry in everything}) == len(everything)


def test_audit_record_many_links_entries_within_one_call(db):
    with transaction.atomic():
        first = audit_record(actor=None, action="test.first", object_type="thing", object_id=1, payload={})
        batch = audit_record_many(
            actor=None,
            items=[
                AuditItem(action="test.batch", object_type="thing", object_id=str(n), payload={"n": n}) for n in (2, 3)
            ],
        )
    assert batch[0].prev_hash == first.entry_hash
    assert batch[1].prev_hash == batch[0].entry_hash
    assert first.actor_label == "system"
    for entry in AuditEntry.objects.filter(action__startswith="test."):
        assert recomputed_hash(entry) == entry.entry_hash
    assert audit_verify().ok


@pytest.mark.parametrize(
    "occurred_at",
    [
        pytest.param(datetime(2026, 11, 21, 12, 30, 15, 250000, tzinfo=ZoneInfo("Asia/Dubai")), id="Asia/Dubai"),
        pytest.param(datetime(2026, 7, 1, 9, 15, 0, 1, tzinfo=ZoneInfo("Europe/London")), id="Europe/London"),
        pytest.param(datetime(2026, 11, 21, 8, 30, 15, 250000, tzinfo=UTC), id="UTC"),
    ],
)
def test_an_entry_dated_in_any_zone_verifies_after_the_round_trip(db, occurred_at):
    # The database hands the instant back in UTC; the hash must be of that same instant.
    with transaction.atomic():
        (entry,) = audit_record_many(
            actor=None,
            items=[AuditItem(action="test.zoned", object_type="thing", object_id="1", payload={})],
            occurred_at=occurred_at,
        )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.occurred_at == occurred_at
    assert recomputed_hash(stored) == stored.entry_hash
    assert audit_verify().ok


def test_a_different_field_gives_a_different_hash(chain):
    entry = chain[0]
    base = recomputed_hash(entry)
    assert entry_hash(**{**_fields(entry), "payload": {**entry.payload, "amount": "100.26"}}) != base
    assert entry_hash(**{**_fields(entry), "prev_hash": "1" * 64}) != base
    assert entry_hash(**{**_fields(entry), "occurred_at": entry.occurred_at + timedelta(microseconds=1)}) != base


def _fields(entry: AuditEntry) -> dict:
    return {
        "prev_hash": entry.prev_hash,
        "occurred_at": entry.occurred_at,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "payload": entry.payload,
    }


# --- verify_audit ---------------------------------------------------------------------------


def test_verify_audit_passes_an_intact_chain(chain):
    out = StringIO()
    call_command("verify_audit", stdout=out)
    total = AuditEntry.objects.count()
    assert f"Audit chain intact: {total} entries verified." in out.getvalue()
    assert audit_verify().checked == total >= 5


def test_verify_audit_passes_an_empty_log(db):
    assert not AuditEntry.objects.exists()
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "0 entries verified" in out.getvalue()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"payload": {"amount": "999999.00"}}, id="payload"),
        pytest.param({"actor_label": "someone_else"}, id="actor_label"),
        pytest.param({"object_id": "00000000-0000-0000-0000-000000000000"}, id="object_id"),
        pytest.param({"action": "payment.cancel"}, id="action"),
        pytest.param("occurred_at", id="occurred_at"),
    ],
)
def test_verify_audit_names_the_one_altered_entry(chain, change):
    target = chain[2]
    if change == "occurred_at":
        change = {"occurred_at": target.occurred_at - timedelta(days=1)}
    with triggers_bypassed():
        assert AuditEntry.objects.filter(pk=target.pk).update(**change) == 1

    message = verify_audit_error()
    assert names_entry(message, target.pk), message
    assert "altered" in message
    for other in chain:
        if other.pk != target.pk:
            assert not names_entry(message, other.pk), message
    result = audit_verify()
    assert (result.ok, result.first_broken_id) == (False, target.pk)
    assert result.checked == AuditEntry.objects.filter(pk__lt=target.pk).count()


def test_verify_audit_names_the_next_entry_when_an_altered_entry_is_rehashed(chain):
    # A forger who also recomputes the altered entry's own hash breaks the link of the entry after it.
    target = chain[1]
    target.payload = {**target.payload, "amount": "1.00"}
    target.entry_hash = recomputed_hash(target)
    with triggers_bypassed():
        AuditEntry.objects.filter(pk=target.pk).update(payload=target.payload, entry_hash=target.entry_hash)

    message = verify_audit_error()
    assert names_entry(message, chain[2].pk), message
    assert not names_entry(message, target.pk), message
    assert "removed or reordered" in message


def test_verify_audit_names_the_entry_after_a_deleted_one(chain):
    removed, following = chain[2], chain[3]
    with triggers_bypassed():
        assert AuditEntry.objects.filter(pk=removed.pk).delete()[0] == 1
    assert not AuditEntry.objects.filter(pk=removed.pk).exists()

    message = verify_audit_error()
    assert names_entry(message, following.pk), message
    assert not names_entry(message, removed.pk), message
    assert audit_verify().first_broken_id == following.pk


def test_verify_audit_names_the_first_entry_when_the_chain_start_is_deleted(chain):
    everything = list(AuditEntry.objects.order_by("id"))
    with triggers_bypassed():
        AuditEntry.objects.filter(pk=everything[0].pk).delete()
    assert names_entry(verify_audit_error(), everything[1].pk)


# --- Append-only in the database itself -----------------------------------------------


def _snapshot(entry: AuditEntry) -> tuple:
    entry = AuditEntry.objects.get(pk=entry.pk)
    return (entry.occurred_at, entry.actor_label, entry.action, entry.object_id, entry.payload, entry.entry_hash)


def _save_changed(entry: AuditEntry) -> None:
    entry.payload = {"amount": "0.01"}
    entry.save()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_save_changed, id="instance-save"),
        pytest.param(
            lambda entry: AuditEntry.objects.filter(pk=entry.pk).update(actor_label="x"), id="queryset-update"
        ),
        pytest.param(lambda entry: AuditEntry.objects.update(payload={}), id="update-all"),
        pytest.param(lambda entry: entry.delete(), id="instance-delete"),
        pytest.param(lambda entry: AuditEntry.objects.filter(pk=entry.pk).delete(), id="queryset-delete"),
        pytest.param(lambda entry: AuditEntry.objects.all().delete(), id="delete-all"),
    ],
)
def test_the_database_refuses_to_change_or_remove_an_entry(chain, tamper):
    target = chain[1]
    before = _snapshot(target)
    total = AuditEntry.objects.count()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            tamper(AuditEntry.objects.get(pk=target.pk))
    assert _snapshot(target) == before
    assert AuditEntry.objects.count() == total
    assert audit_verify().ok


def test_the_database_refuses_raw_sql_updates_too(chain):
    target = chain[0]
    before = _snapshot(target)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE deltran_auditentry SET actor_label = %s WHERE id = %s", ["dba", target.pk])
    assert _snapshot(target) == before


def test_the_triggers_are_back_after_a_bypass(chain):
    with triggers_bypassed():
        pass
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEntry.objects.filter(pk=chain[0].pk).update(actor_label="x")


# --- Writing outside a transaction --------------------------------------------------------


@pytest.fixture
def audit_log_cleared_after():
    """For transaction=True tests: pytest-django's flush runs DELETE on SQLite, which the trigger refuses.

    (PostgreSQL flushes with TRUNCATE, which row triggers do not see.)
    """
    yield
    with triggers_bypassed():
        AuditEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_audit_record_many_outside_a_transaction_is_refused(audit_log_cleared_after):
    assert not connection.in_atomic_block
    item = AuditItem(action="test.loose", object_type="thing", object_id="1", payload={})
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record_many(actor=None, items=[item])
    with pytest.raises(RuntimeError):
        audit_record(actor=None, action="test.loose", object_type="thing", object_id=1, payload={})
    assert not AuditEntry.objects.exists()

    with transaction.atomic():
        audit_record_many(actor=None, items=[item])
    assert AuditEntry.objects.count() == 1
