"""pacs.008 intake with the public samples, the pacs.002 answer against its XSD, refusals of hostile XML."""

import re
from decimal import Decimal

import pytest
from lxml import etree

from deltran.roles import COMPLIANCE_OFFICER, VIEWER
from payments.choices import Channel
from payments.messages.pacs008 import pacs008_read
from payments.messages.xml import MessageRefused, xsd_for
from payments.models import InboundMessage, InboundMessagePayment, Payment
from tests.payments.iso_support import SAMPLES, XSD_DIR, needs_shared_data, network_banks_ensure

pytestmark = [pytest.mark.django_db, needs_shared_data]

URL = "/api/v1/iso20022/pacs008"
PACS002 = "{urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10}"

# Schema-valid pacs.008 samples (SOURCES.md "XSD check: VALID") that carry no deliberate defect.
ACCEPTED = [
    "cbpr_plus_examples_2025/pacs.008.min.xml",
    "cbpr_plus_examples_2025/pacs.008.max.xml",
    "cbpr_plus_examples_2025/pacs.008_stp.min.xml",
    "cbpr_plus_examples_2025/pacs.008_stp.max.xml",
    "cbpr_ur_test_files_2025/CBPR+ p.8.1.1.a pacs.008 AtoB.xml",
    "cbpr_ur_test_files_2025/CBPR+ p.8.1.1.a pacs.008 CtoD_1.xml",
    "cbpr_ur_test_files_2025/CBPR2025.PACS008-MinMax-0023.xml",
    "cbpr_ur_test_files_2025/cbprplus_pacs008_2025.xml",
    "cbpr_ur_test_files_2025/cbprplus_pacs008_sample_tag_mismatch_issue.xml",
    "cbpr_ur_test_files_2025/pacs008_credit_transfer_sample.xml",
    "cbpr_ur_unit_fixtures/pacs008_valid.xml",
    "cbpr_ur_unit_fixtures/pacs_008_2026_valid.xml",
    "cbpr_ur_unit_fixtures/pacs_008_stp_2025_valid.xml",
    "cbpr_ur_unit_fixtures/pacs_008_stp_2026_valid.xml",
]

# Refused as a whole: schema violations (the XSD names the element) and a broken group header.
REJECTED_MESSAGES = {
    "cbpr_ur_test_files_2025/CBPR2025.PACS008-MinMax-0023_diff_wrapper_missing_bic_xsd_issue.xml": ("xsd", "BICFI"),
    "cbpr_ur_test_files_2025/cbprplus_pacs008_sample_xsd_issue.xml": ("xsd", "CdtrAgt"),
    "cbpr_ur_test_files_2025/cbprplus_pacs008_sequence_addr.xml": ("xsd", "TwnNm"),
    "cbpr_ur_unit_fixtures/pacs008_invalid.xml": ("xsd", "InstrForCdtrAgt"),
    "cbpr_ur_unit_fixtures/pacs_008_2025_invalid.xml": ("xsd", "InstdAmt"),
    "cbpr_ur_unit_fixtures/pacs_008_2025_valid.xml": ("xsd", "InstdAmt"),
    "cbpr_ur_unit_fixtures/pacs_008_2026_invalid.xml": ("xsd", "InstrForCdtrAgt"),
    "cbpr_ur_unit_fixtures/pacs_008_stp_2025_invalid.xml": ("xsd", "WRONGUS33XXX"),
    "cbpr_ur_unit_fixtures/pacs_008_stp_2026_invalid.xml": ("xsd", "PstlAdr"),
    # Schema-valid, but its CtrlSum (10000) is not the sum of its one transaction (5000).
    "prowide_iso20022/pacs.008.001.07.xml": ("ctrl_sum_mismatch", "CtrlSum"),
}

# Schema-valid messages whose transaction breaks a rule: answered RJCT with the ISO reason.
REJECTED_TRANSACTIONS = {
    "cbpr_ur_test_files_2025/cbprplus_pacs008_sample_bic_mismatch.xml": ("RC01", "sender_mismatch"),
    "cbpr_ur_test_files_2025/cbprplus_pacs008_sample_dodgy_IBAN_and_bic_mismatch.xml": ("AC02", "invalid_iban"),
}


@pytest.fixture(autouse=True)
def xsd_dir(settings):
    settings.ISO20022_XSD_DIR = str(XSD_DIR)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def banks_for(data: bytes) -> None:
    message = pacs008_read(data)
    bics = {t.instruction.sender_bic for t in message.transactions if t.instruction}
    bics |= {t.instruction.receiver_bic for t in message.transactions if t.instruction}
    currencies = {c for t in message.transactions if t.instruction for c in (t.instruction.currency, "EUR")}
    network_banks_ensure(bics, currencies)


def post(client, data: bytes, content_type="application/xml"):
    return client.post(URL, data=data, content_type=content_type)


def report(response) -> etree._Element:
    assert response["Content-Type"].startswith("application/xml"), response.content[:300]
    return etree.fromstring(response.content)


def assert_valid_pacs002(response) -> etree._Element:
    document = report(response)
    schema = xsd_for("pacs.002.001.10")
    assert schema.validate(document), schema.error_log
    return document


def tx_statuses(document) -> list[tuple[str, str]]:
    return [
        (row.findtext(f"{PACS002}OrgnlEndToEndId"), row.findtext(f"{PACS002}TxSts"))
        for row in document.iter(f"{PACS002}TxInfAndSts")
    ]


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_schema_valid_sample_is_accepted(name, scenario, operator_client):
    data = raw(name)
    banks_for(data)
    response = post(operator_client, data)
    assert response.status_code == 200, response.content[:500]
    document = assert_valid_pacs002(response)
    statuses = tx_statuses(document)
    assert statuses and all(status in ("ACSP", "PDNG") for _, status in statuses), statuses
    group = document.findtext(f"{PACS002}FIToFIPmtStsRpt/{PACS002}OrgnlGrpInfAndSts/{PACS002}GrpSts")
    assert group in ("ACSP", "PDNG", "PART")
    message = InboundMessage.objects.get(pk=response["X-Inbound-Message-Id"])
    assert message.content.encode() == data.decode("utf-8", errors="replace").encode()
    payments = Payment.objects.filter(inbound_message__message=message)
    assert payments.count() == len(statuses)
    assert {p.channel for p in payments} == {Channel.PACS008}
    assert {p.end_to_end_id for p in payments} == {e2e for e2e, _ in statuses}


@pytest.mark.parametrize("name", sorted(REJECTED_MESSAGES))
def test_invalid_samples_are_refused_as_a_whole_naming_path_and_rule(name, scenario, operator_client):
    rule, needle = REJECTED_MESSAGES[name]
    response = post(operator_client, raw(name))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "message_rejected"
    issues = [(path, issue) for path, found in body["fields"].items() for issue in found]
    assert any(issue["code"] == rule and (needle in path or needle in issue["message"]) for path, issue in issues), (
        issues
    )
    assert all(path.startswith("/Document") for path, _ in issues)
    assert not Payment.objects.exists() and not InboundMessage.objects.exists()


@pytest.mark.parametrize("name", sorted(REJECTED_TRANSACTIONS))
def test_samples_with_a_bad_transaction_get_it_rejected_with_its_iso_reason(name, scenario, operator_client):
    reason, rule = REJECTED_TRANSACTIONS[name]
    response = post(operator_client, raw(name))
    assert response.status_code == 200
    document = assert_valid_pacs002(response)
    assert [status for _, status in tx_statuses(document)] == ["RJCT"]
    codes = [e.text for e in document.iter(f"{PACS002}Cd")]
    info = " ".join(e.text for e in document.iter(f"{PACS002}AddtlInf"))
    assert reason in codes and rule in info and "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]" in info
    assert not Payment.objects.exists()


def test_commodity_currency_violators_are_rejected_am03(scenario, operator_client):
    violators = sorted((SAMPLES / "cbpr_ur_test_files_2025_violators").glob("*pacs008*XAU.xml")) + sorted(
        (SAMPLES / "cbpr_ur_test_files_2025_violators").glob("*pacs.008*XAU.xml")
    )
    assert len(violators) >= 8
    for path in violators:
        response = post(operator_client, path.read_bytes())
        if response.status_code == 400:  # the ones that also break the schema
            assert response.json()["fields"], path.name
            continue
        document = assert_valid_pacs002(response)
        assert {status for _, status in tx_statuses(document)} == {"RJCT"}, path.name
        assert "AM03" in [e.text for e in document.iter(f"{PACS002}Cd")], path.name
    assert not Payment.objects.exists()


def build(transactions: list[dict], *, nb: int | None = None, ctrl_sum: str | None = None, method="CLRG") -> bytes:
    """A pacs.008.001.08 message with the scenario's banks."""
    rows = []
    for tx in transactions:
        rows.append(
            f"""<CdtTrfTxInf><PmtId><InstrId>{tx.get("instr", "I1")}</InstrId><EndToEndId>{tx["e2e"]}</EndToEndId>
            <TxId>{tx.get("txid", tx["e2e"])}</TxId></PmtId>
            <IntrBkSttlmAmt Ccy="{tx.get("ccy", "USD")}">{tx.get("amount", "1000.00")}</IntrBkSttlmAmt>
            <IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt>{tx.get("instd", "")}<ChrgBr>SHAR</ChrgBr>
            <InstgAgt><FinInstnId><BICFI>{tx.get("from", "ENBXAEADXXX")}</BICFI></FinInstnId></InstgAgt>
            <InstdAgt><FinInstnId><BICFI>{tx.get("to", "SBININBBXXX")}</BICFI></FinInstnId></InstdAgt>
            <Dbtr><Nm>{tx.get("debtor", "Acme Trading LLC")}</Nm></Dbtr>
            <DbtrAcct><Id><IBAN>{tx.get("iban", "AE070331234567890123456")}</IBAN></Id></DbtrAcct>
            <DbtrAgt><FinInstnId><BICFI>ENBXAEADXXX</BICFI></FinInstnId></DbtrAgt>
            <CdtrAgt><FinInstnId><BICFI>SBININBBXXX</BICFI></FinInstnId></CdtrAgt>
            <Cdtr><Nm>Mumbai Textiles Pvt Ltd</Nm></Cdtr><RmtInf><Ustrd>Invoice {tx["e2e"]}</Ustrd></RmtInf>
            </CdtTrfTxInf>"""
        )
    total = f"<CtrlSum>{ctrl_sum}</CtrlSum>" if ctrl_sum else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>
<GrpHdr><MsgId>MSG-TEST-1</MsgId><CreDtTm>2026-03-02T10:00:00Z</CreDtTm>
<NbOfTxs>{len(transactions) if nb is None else nb}</NbOfTxs>{total}
<SttlmInf><SttlmMtd>{method}</SttlmMtd></SttlmInf></GrpHdr>{"".join(rows)}
</FIToFICstmrCdtTrf></Document>""".encode()


def test_one_bad_transaction_rejects_only_itself_with_reasons(scenario, operator_client):
    data = build(
        [
            {"e2e": "E-1"},
            {"e2e": "E-2", "amount": "10.001"},  # 3 decimals in USD
            {"e2e": "E-3", "iban": "AE070331234567890123450"},  # checksum
            {"e2e": "E-1", "txid": "T-4"},  # duplicate EndToEndId
            {"e2e": "E-5", "to": "NOPEGB2LXXX"},  # not a bank of the network
            {"e2e": "E-6", "ccy": "XAU"},
        ],
        ctrl_sum="5010.001",
    )
    response = post(operator_client, data)
    assert response.status_code == 200, response.content[:400]
    document = assert_valid_pacs002(response)
    assert [s for _, s in tx_statuses(document)] == ["ACSP", "RJCT", "RJCT", "RJCT", "RJCT", "RJCT"]
    rows = list(document.iter(f"{PACS002}TxInfAndSts"))
    codes = [[c.text for c in row.iter(f"{PACS002}Cd")] for row in rows]
    assert codes[1:] == [["AM12"], ["AC02"], ["AM05"], ["RC01"], ["AM03"]]
    assert document.findtext(f".//{PACS002}GrpSts") == "PART"
    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    assert payment.end_to_end_id == "E-1" and payment.amount == Decimal("1000.00")
    assert InboundMessagePayment.objects.get().position == 0


@pytest.mark.parametrize(
    ("kwargs", "path", "rule"),
    [
        ({"nb": 3}, "GrpHdr/NbOfTxs", "nb_of_txs_mismatch"),
        ({"ctrl_sum": "999.99"}, "GrpHdr/CtrlSum", "ctrl_sum_mismatch"),
        ({"method": "COVE"}, "GrpHdr/SttlmInf/SttlmMtd", "settlement_method"),
    ],
)
def test_group_header_errors_reject_the_whole_message(kwargs, path, rule, scenario, operator_client):
    response = post(operator_client, build([{"e2e": "E-1"}, {"e2e": "E-2"}], **kwargs))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "message_rejected"
    assert body["fields"][f"/Document/FIToFICstmrCdtTrf/{path}"][0]["code"] == rule
    assert not Payment.objects.exists()


def test_without_xsd_the_own_rules_still_hold(settings, scenario, operator_client):
    settings.ISO20022_XSD_DIR = ""
    response = post(operator_client, build([{"e2e": "E-1", "from": "WRONGUS33XXX"}]))
    document = report(response)
    assert [s for _, s in tx_statuses(document)] == ["RJCT"]
    assert "invalid_bic" in " ".join(e.text for e in document.iter(f"{PACS002}AddtlInf"))


def test_a_repeated_message_is_answered_without_new_payments(scenario, operator_client):
    data = build([{"e2e": "E-1"}, {"e2e": "E-2"}])
    first = post(operator_client, data)
    again = post(operator_client, data)
    assert tx_statuses(report(first)) == tx_statuses(report(again)) == [("E-1", "ACSP"), ("E-2", "ACSP")]
    assert Payment.objects.count() == 2
    changed = build([{"e2e": "E-1", "amount": "5.00"}])
    conflict = report(post(operator_client, changed))
    assert tx_statuses(conflict) == [("E-1", "RJCT")]
    assert "AM05" in [e.text for e in conflict.iter(f"{PACS002}Cd")]


def test_cross_currency_uses_instructed_amount_and_rate(scenario, operator_client):
    instd = '<InstdAmt Ccy="USD">1000.00</InstdAmt><XchgRate>83.25</XchgRate>'
    response = post(operator_client, build([{"e2e": "FX-1", "ccy": "INR", "amount": "83250.00", "instd": instd}]))
    assert tx_statuses(assert_valid_pacs002(response)) == [("FX-1", "ACSP")]
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency_id, payment.settlement_currency_id) == (Decimal("1000.00"), "USD", "INR")
    assert payment.fx_rate is not None
    missing_rate = build([{"e2e": "FX-2", "ccy": "INR", "amount": "83250.00", "instd": instd.split("<Xchg")[0]}])
    document = report(post(operator_client, missing_rate))
    assert "exchange_rate_required" in " ".join(e.text for e in document.iter(f"{PACS002}AddtlInf"))


def test_compliance_hold_is_pending(scenario, operator_client):
    response = post(operator_client, build([{"e2e": "H-1", "debtor": "Vostok Shadow Shipping LLC"}]))
    assert tx_statuses(assert_valid_pacs002(response)) == [("H-1", "PDNG")]


def test_roles(scenario, client_for):
    data = build([{"e2e": "E-1"}])
    assert post(client_for(VIEWER), data).status_code == 403
    assert post(client_for(COMPLIANCE_OFFICER), data).status_code == 403
    assert not Payment.objects.exists()


def test_xxe_is_refused_and_the_file_never_read(scenario, operator_client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    data = f"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf><GrpHdr>
<MsgId>&xxe;</MsgId></GrpHdr></FIToFICstmrCdtTrf></Document>""".encode()
    response = post(operator_client, data)
    assert response.status_code == 400
    assert response.json()["code"] == "doctype_forbidden"
    assert b"TOP-SECRET-4711" not in response.content
    assert "TOP-SECRET" not in str(response.headers)
    # Also in UTF-16, where a byte scan would not see it: still refused, still not read.
    utf16 = data.decode().replace('encoding="UTF-8"', "").encode("utf-16")
    response = post(operator_client, utf16)
    assert response.status_code == 400 and b"TOP-SECRET-4711" not in response.content
    assert not InboundMessage.objects.exists()


def test_billion_laughs_is_refused(scenario, operator_client):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    data = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><Document>&lol9;</Document>'.encode()
    response = post(operator_client, data)
    assert response.status_code == 400
    assert response.json()["code"] == "doctype_forbidden"
    assert len(response.content) < 1000


def test_direct_parser_refuses_doctype_even_past_the_byte_scan():
    # The parser itself, with a DOCTYPE the scan would miss (UTF-32), resolves nothing and refuses.
    data = '<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>'.encode("utf-32")
    with pytest.raises(MessageRefused) as refused:
        pacs008_read(data)
    assert refused.value.code in ("doctype_forbidden", "malformed_xml")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "malformed_request"),
        (b"<Document><unclosed></Document>", "malformed_xml"),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.009.001.08"/>', "not_pacs008"),
        (b"not xml at all", "malformed_xml"),
    ],
)
def test_bad_bodies_are_400_in_the_one_shape(data, code, scenario, operator_client):
    response = post(operator_client, data)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "fields"}


def test_size_limit(settings, scenario, operator_client):
    settings.ISO20022_MAX_MESSAGE_BYTES = 2000
    response = post(operator_client, build([{"e2e": f"E-{i}"} for i in range(5)]))
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


def test_wrong_content_type(scenario, operator_client):
    response = operator_client.post(URL, data={"a": 1}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_report_names_the_original_message(scenario, operator_client):
    document = assert_valid_pacs002(post(operator_client, build([{"e2e": "E-1"}])))
    assert document.findtext(f".//{PACS002}OrgnlMsgId") == "MSG-TEST-1"
    assert document.findtext(f".//{PACS002}OrgnlMsgNmId") == "pacs.008.001.08"
    assert re.fullmatch(r"DLT[0-9a-f]{32}", document.findtext(f".//{PACS002}GrpHdr/{PACS002}MsgId"))


def test_a_transaction_fingerprint_is_the_hash_of_all_its_instruction_fields():
    # Stored with each (MsgId, EndToEndId) key and compared on repeats: it must not change between releases.
    from dataclasses import asdict

    from deltran.idempotency import request_fingerprint
    from payments.messages.services import instruction_fingerprint
    from payments.services import PaymentInstruction

    instruction = PaymentInstruction(
        sender_bic="ENBXAEADXXX",
        receiver_bic="SBININBBXXX",
        amount=Decimal("10.01"),
        currency="USD",
        debtor_name="A",
        creditor_name="B",
        debtor_iban="AE070331234567890123456",
        settlement_currency="INR",
    )
    assert instruction_fingerprint(instruction) == request_fingerprint(asdict(instruction))
    changed = PaymentInstruction(**{**asdict(instruction), "settlement_currency": ""})
    assert instruction_fingerprint(changed) != instruction_fingerprint(instruction)
