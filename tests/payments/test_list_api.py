"""GET /api/v1/payments, /payments/{id} and /export/payments: the nine filters, paging, shapes, query counts."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.choices import PaymentStatus
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db

LIST = "/api/v1/payments"
EXPORT = "/api/v1/export/payments"


@pytest.fixture
def book(scenario, users):
    """Six payments that differ in every filtered attribute."""
    return {
        "usd_small": make_payment(
            amount="10.00", created_at=datetime(2026, 1, 5, 9, tzinfo=UTC), payment_reference="INV-1001"
        ),
        "usd_big": make_payment(
            amount="2500000.00",
            created_at=datetime(2026, 1, 6, 23, 59, tzinfo=UTC),
            payment_reference="INV-1002",
            end_to_end_id="E2E-XYZ",
        ),
        "eur": make_payment(
            sender_bic="LUMIILITXXX",
            receiver_bic="ENBXAEADXXX",
            currency="EUR",
            amount="5000.00",
            created_at=datetime(2026, 1, 7, 12, tzinfo=UTC),
            payment_reference="EUR-77",
        ),
        "aed_domestic": make_payment(
            sender_bic="ENBXAEADXXX",
            receiver_bic="ENBXAEADXXX",
            currency="AED",
            amount="700.00",
            created_at=datetime(2026, 1, 8, 12, tzinfo=UTC),
        ),
        "settled": make_payment(
            sender_bic="HABBPKKKXXX",
            receiver_bic="SBININBBXXX",
            amount="999.99",
            created_at=datetime(2026, 1, 9, 12, tzinfo=UTC),
            status=PaymentStatus.SETTLED,
        ),
        "ils_less": make_payment(
            sender_bic="SBININBBXXX",
            receiver_bic="LUMIILITXXX",
            amount="42.00",
            created_at=datetime(2026, 1, 10, 12, tzinfo=UTC),
            status=PaymentStatus.FAILED,
        ),
    }


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["payments"]}


def expect(book, *names) -> set[str]:
    return {str(book[name].id) for name in names}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("status=settled", ["settled"]),
        ("status=settled&status=failed", ["settled", "ils_less"]),
        ("status=queued", ["usd_small", "usd_big", "eur", "aed_domestic"]),
        ("currency=EUR", ["eur"]),
        ("currency=aed", ["aed_domestic"]),
        ("sender_bic=LUMIILITXXX", ["eur"]),
        ("sender_bic=habbpkkk", ["settled"]),
        ("receiver_bic=LUMIILITXXX", ["ils_less"]),
        ("date_from=2026-01-08", ["aed_domestic", "settled", "ils_less"]),
        ("date_to=2026-01-06", ["usd_small", "usd_big"]),
        ("date_from=2026-01-06T12:00:00Z&date_to=2026-01-07T12:00:00Z", ["usd_big", "eur"]),
        ("min_amount=5000", ["usd_big", "eur"]),
        ("max_amount=700", ["usd_small", "aed_domestic", "ils_less"]),
        ("min_amount=42&max_amount=999.99", ["aed_domestic", "settled", "ils_less"]),
        ("reference=INV-", ["usd_small", "usd_big"]),
        ("reference=E2E-XYZ", ["usd_big"]),
        ("currency=USD&sender_bic=ENBXAEADXXX&min_amount=100", ["usd_big"]),
    ],
)
def test_each_filter_returns_exactly_the_matching_rows_in_list_export_and_page(
    client, users, operator_client, book, query, names
):
    expected = expect(book, *names)
    assert ids(operator_client.get(f"{LIST}?{query}")) == expected
    export = operator_client.get(f"{EXPORT}?{query}")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row["Payment ID"] for row in rows} == expected
    client.force_login(users["Operator"])
    page = client.get(f"/payments/?{query}")
    assert page.status_code == 200
    assert {str(p.id) for p in page.context["page"].object_list} == expected


def test_reference_filter_finds_a_payment_by_id(operator_client, book):
    assert ids(operator_client.get(f"{LIST}?reference={book['eur'].id}")) == expect(book, "eur")


def test_list_shape_order_and_paging(operator_client, book):
    response = operator_client.get(f"{LIST}?limit=2&page=2")
    body = response.json()
    assert set(body) == {"payments", "total", "page", "limit"}
    assert (body["total"], body["page"], body["limit"]) == (6, 2, 2)
    newest_first = sorted(book.values(), key=lambda p: p.created_at, reverse=True)
    assert [row["id"] for row in body["payments"]] == [str(p.id) for p in newest_first[2:4]]
    row = body["payments"][0]
    assert set(row) == {
        "id",
        "payment_reference",
        "sender_bic",
        "sender_name",
        "receiver_bic",
        "receiver_name",
        "amount",
        "currency",
        "status",
        "created_at",
        "settled_at",
    }
    assert operator_client.get(f"{LIST}?page=99").json()["payments"] == []
    assert operator_client.get(LIST).json()["limit"] == 50


@pytest.mark.parametrize(
    "query",
    [
        "limit=501",
        "limit=0",
        "page=0",
        "page=x",
        "status=nonsense",
        "min_amount=abc",
        "date_from=yesterday",
        "max_amount=-1",
    ],
)
def test_bad_list_parameters_are_400(operator_client, book, query):
    response = operator_client.get(f"{LIST}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["fields"]


def test_list_query_count_does_not_grow_with_rows(operator_client, book):
    operator_client.get(LIST)  # warm the per-process directory
    with CaptureQueriesContext(connection) as few:
        operator_client.get(f"{LIST}?limit=2")
    with CaptureQueriesContext(connection) as many:
        operator_client.get(f"{LIST}?limit=500")
    assert len(few) == len(many) <= 5


def test_detail_has_the_timeline_and_unknown_ids_are_404(operator_client, book):
    payment = book["usd_big"]
    body = operator_client.get(f"{LIST}/{payment.id}").json()
    assert body["id"] == str(payment.id)
    assert body["amount"] == "2500000.00"
    assert body["end_to_end_id"] == "E2E-XYZ"
    assert body["sender_account_id"] == payment.sender_account.account_number
    assert [step["to_status"] for step in body["timeline"]] == [
        "initiated",
        "validated",
        "screened",
        "approved",
        "queued",
    ]
    missing = operator_client.get(f"{LIST}/01a1fd29-bfaf-7b6e-bdc1-72d31fdb75a0")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert operator_client.get(f"{LIST}/not-a-uuid").status_code == 404


def test_export_has_header_amounts_in_minor_units_and_names(operator_client, book):
    export = operator_client.get(f"{EXPORT}?currency=EUR")
    assert export["Content-Type"].startswith("text/csv")
    assert "attachment" in export["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows == [
        {
            "Payment ID": str(book["eur"].id),
            "Reference": "EUR-77",
            "End-to-end ID": "",
            "Sender BIC": "LUMIILITXXX",
            "Sender": "Bank Leumi Israel",
            "Receiver BIC": "ENBXAEADXXX",
            "Receiver": "Emirates National Bank",
            "Amount": "5000.00",
            "Currency": "EUR",
            "Status": "queued",
            "Debtor": "Acme Trading LLC",
            "Creditor": "Mumbai Textiles Pvt Ltd",
            "Remittance information": "",
            "Created At": "2026-01-07T12:00:00Z",
            "Settled At": "",
            "Debtor Account": "",
            "Creditor Account": "",
        }
    ]


def test_the_list_page_pages_with_its_filters_kept(client, users, scenario):
    for i in range(51):
        make_payment(remittance_info=f"page {i}")
    client.force_login(users["Operator"])
    first = client.get("/payments/?currency=USD").content.decode()
    assert 'href="?currency=USD&amp;page=2" rel="next">Next →' in first
    second = client.get("/payments/?currency=USD&page=2").content.decode()
    assert 'href="?currency=USD&amp;page=1" rel="prev">← Previous' in second and "Page 2 of 2" in second
