"""ISO 20022 pacs.008 (FI to FI customer credit transfer): read a message into payment instructions, strictly.

The structure is that of pacs.008.001.08 (CBPR+, Fedwire); versions 02 to 13 share it for everything read here
(BIC in 02-03 is BICFI later). Every problem names the element path and the rule it breaks, with the ISO 20022
status reason code (ExternalStatusReason1Code) the pacs.002 answers with. A broken group header rejects the
whole message; a broken transaction rejects only itself.
"""

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import pycountry
from lxml import etree
from lxml.builder import ElementMaker
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from fxrates.iso4217 import NOT_MONEY, minor_units
from payments.messages.xml import (
    MessageRefused,
    find_document,
    iso_message_name,
    local_name,
    xml_parse,
    xsd_errors,
    xsd_for,
)
from payments.services import PaymentInstruction
from settlement.validators import is_valid_bic, normalise_bic

MAX_TRANSACTIONS = 10_000
# Settlement through the network's own books: instructed agent or instructing agent account, or clearing.
# COVE (a cover payment through correspondents, pacs.009) is not something the network does.
SETTLEMENT_METHODS = frozenset({"CLRG", "INDA", "INGA"})
CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR", "SLEV"})
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
AMOUNT = re.compile(r"^\d{1,18}(\.\d{1,5})?$")
SWIFT_REFERENCE = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,35}$")
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)

TX = "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
GRP = "/Document/FIToFICstmrCdtTrf/GrpHdr"


@dataclass(frozen=True)
class Issue:
    """One broken rule: where (element path), which rule, in words, and the ISO status reason code."""

    path: str
    rule: str
    message: str
    reason: str = "FF01"

    def as_field(self) -> dict:
        return {"code": self.rule, "message": self.message, "reason": self.reason}


@dataclass
class Pacs008Transaction:
    index: int
    path: str
    instr_id: str = ""
    end_to_end_id: str = ""
    tx_id: str = ""
    uetr: str = ""
    instruction: PaymentInstruction | None = None
    issues: list[Issue] = field(default_factory=list)

    def idempotency_key(self, msg_id: str) -> str:
        return f"pacs008:{msg_id}:{self.end_to_end_id}"


@dataclass
class Pacs008Message:
    message_name: str
    msg_id: str = ""
    created_at: str = ""
    nb_of_txs: str = ""
    ctrl_sum: str = ""
    settlement_method: str = ""
    header_from_bic: str = ""
    issues: list[Issue] = field(default_factory=list)
    transactions: list[Pacs008Transaction] = field(default_factory=list)


@functools.lru_cache(maxsize=256)
def _local_path(path: str) -> str:
    """'p:FinInstnId/p:BICFI' -> 'FinInstnId/BICFI' (the key of an indexed element)."""
    return "/".join(step.removeprefix("p:") for step in path.split("/"))


class _Reader:
    """Namespace-aware lookups in one Document (paths written with the 'p:' prefix).

    A transaction is read with some thirty look-ups; ``index`` walks its elements once so that those under it are
    dictionary look-ups instead of ElementPath searches (they were most of the reading time of a large message).
    """

    def __init__(self, namespace: str):
        self.ns = {"p": namespace}
        self._tag_prefix = f"{{{namespace}}}"
        self._paths: dict = {}
        self._first: dict[str, object] = {}

    def index(self, root) -> None:
        """Index ``root``'s elements in the document's namespace: each path's first element, as ``find`` gives."""
        prefix = self._tag_prefix
        cut = len(prefix)
        paths = {root: ""}
        first: dict[str, object] = {}
        for element in root.iterdescendants():
            tag = element.tag
            if not isinstance(tag, str) or not tag.startswith(prefix):
                continue  # comments, processing instructions and other namespaces' elements are not read
            parent = paths.get(element.getparent())
            if parent is None:
                continue  # inside an element of another namespace
            path = f"{parent}/{tag[cut:]}" if parent else tag[cut:]
            paths[element] = path
            first.setdefault(path, element)
        self._paths = paths
        self._first = first

    def find(self, element, path: str):
        if element is None:
            return None
        base = self._paths.get(element)
        # Indexed, and the first element at its path (so its children are the indexed ones): a look-up.
        if base is not None and (base == "" or self._first.get(base) is element):
            local = _local_path(path)
            return self._first.get(f"{base}/{local}" if base else local)
        return element.find(path, self.ns)

    def text(self, element, path: str) -> str:
        found = self.find(element, path)
        return (found.text or "").strip() if found is not None else ""

    def bic(self, agent) -> str:
        """The BIC of an agent (BICFI, or BIC in versions 02-03)."""
        if agent is None:
            return ""
        return self.text(agent, "p:FinInstnId/p:BICFI") or self.text(agent, "p:FinInstnId/p:BIC")


def _amount(raw: str) -> Decimal | None:
    if not AMOUNT.match(raw or ""):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def _valid_datetime(raw: str) -> bool:
    if not ISO_DATETIME.match(raw):
        return False
    try:
        datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _valid_date(raw: str) -> bool:
    if not ISO_DATE.match(raw):
        return False
    try:
        date.fromisoformat(raw)
    except ValueError:
        return False
    return True


def _currency_issue(path: str, code: str) -> Issue | None:
    if not re.fullmatch(r"[A-Z]{3}", code or ""):
        return Issue(path, "invalid_currency", f"{code!r} is not an ISO 4217 code (three capital letters).", "AM03")
    if code not in CURRENCIES:
        return Issue(path, "unknown_currency", f"{code} is not an ISO 4217 currency.", "AM03")
    if code in NOT_MONEY:
        return Issue(
            path, "commodity_currency", f"{code} is a commodity, fund or test code, not money (CBPR+ R41).", "AM03"
        )
    return None


def _amount_issue(path: str, raw: str, currency: str) -> tuple[Decimal | None, Issue | None]:
    amount = _amount(raw)
    if amount is None:
        return None, Issue(path, "invalid_amount", f"{raw!r} is not an amount (digits, optional decimals).", "AM12")
    if amount == 0:
        return amount, Issue(path, "amount_not_positive", "The amount must be greater than zero.", "AM01")
    if currency in CURRENCIES and -amount.as_tuple().exponent > minor_units(currency):
        return amount, Issue(
            path,
            "amount_precision",
            f"{currency} has {minor_units(currency)} decimal places; {raw} has more.",
            "AM12",
        )
    return amount, None


def _header_bic(root, side: str) -> str:
    """The BIC in the business application header's Fr or To, when the message came with one."""
    for header in root.iter("{*}AppHdr"):
        name = iso_message_name(header) or ""
        if not name.startswith("head."):
            continue
        for element in header:
            if local_name(element) == side:
                for bic in element.iter("{*}BICFI", "{*}BIC"):
                    return normalise_bic(bic.text or "")
    return ""


def _account(reader: _Reader, tx, element: str, path: str, issues: list[Issue], reason: str) -> tuple[str, str]:
    """(IBAN, other account id) of DbtrAcct or CdtrAcct; a bad IBAN is an issue."""
    account = reader.find(tx, f"p:{element}/p:Id")
    if account is None:
        return "", ""
    iban = reader.text(account, "p:IBAN").replace(" ", "").upper()
    if iban:
        try:
            IBAN(iban)
        except SchwiftyException as exc:
            issues.append(
                Issue(f"{path}/{element}/Id/IBAN", "invalid_iban", f"{iban} is not a valid IBAN: {exc}.", reason)
            )
        return iban, ""
    other = reader.text(account, "p:Othr/p:Id")
    if len(other) > 34:
        issues.append(Issue(f"{path}/{element}/Id/Othr/Id", "max_length", "At most 34 characters.", reason))
        other = ""
    return "", other


def _transaction(reader: _Reader, tx, index: int, header_from: str, header_to: str) -> Pacs008Transaction:
    path = f"{TX}[{index + 1}]"
    reader.index(tx)
    item = Pacs008Transaction(index=index, path=path)
    issues = item.issues
    item.instr_id = reader.text(tx, "p:PmtId/p:InstrId")
    item.end_to_end_id = reader.text(tx, "p:PmtId/p:EndToEndId")
    item.tx_id = reader.text(tx, "p:PmtId/p:TxId")
    item.uetr = reader.text(tx, "p:PmtId/p:UETR")
    if not item.end_to_end_id:
        issues.append(Issue(f"{path}/PmtId/EndToEndId", "required", "EndToEndId is mandatory.", "FF01"))
    for name, value in (("InstrId", item.instr_id), ("EndToEndId", item.end_to_end_id), ("TxId", item.tx_id)):
        if len(value) > 35:
            issues.append(Issue(f"{path}/PmtId/{name}", "max_length", f"{name} has at most 35 characters.", "FF01"))

    settled = reader.find(tx, "p:IntrBkSttlmAmt")
    amount = None
    currency = ""
    if settled is None:
        issues.append(Issue(f"{path}/IntrBkSttlmAmt", "required", "IntrBkSttlmAmt is mandatory.", "AM12"))
    else:
        currency = settled.get("Ccy", "")
        problem = _currency_issue(f"{path}/IntrBkSttlmAmt/@Ccy", currency)
        if problem:
            issues.append(problem)
        amount, problem = _amount_issue(f"{path}/IntrBkSttlmAmt", (settled.text or "").strip(), currency)
        if problem:
            issues.append(problem)
    settlement_date = reader.text(tx, "p:IntrBkSttlmDt")
    if settlement_date and not _valid_date(settlement_date):
        issues.append(
            Issue(f"{path}/IntrBkSttlmDt", "invalid_date", f"{settlement_date!r} is not an ISO 8601 date.", "DT01")
        )

    # Cross-currency: the debtor instructed an amount in one currency (InstdAmt), the agents settle another.
    instructed = reader.find(tx, "p:InstdAmt")
    rate_text = reader.text(tx, "p:XchgRate")
    instructed_amount = None
    instructed_currency = ""
    if instructed is not None:
        instructed_currency = instructed.get("Ccy", "")
        problem = _currency_issue(f"{path}/InstdAmt/@Ccy", instructed_currency)
        if problem:
            issues.append(problem)
        instructed_amount, problem = _amount_issue(
            f"{path}/InstdAmt", (instructed.text or "").strip(), instructed_currency
        )
        if problem:
            issues.append(problem)
    cross = instructed is not None and instructed_currency != currency
    if cross and not rate_text:
        issues.append(
            Issue(
                f"{path}/XchgRate",
                "exchange_rate_required",
                "InstdAmt in another currency than IntrBkSttlmAmt needs XchgRate (InstructedAmountAndExchange"
                "Rate1Rule).",
                "AM09",
            )
        )
    # A rate beside an InstdAmt in the same currency (InstructedAmountAndExchangeRate2Rule) is tolerated: the
    # CBPR+ reference "max" example carries one, and the network locks its own rate anyway, so it is only read.
    if rate_text:
        try:
            if Decimal(rate_text) <= 0:
                raise InvalidOperation
        except InvalidOperation:
            issues.append(Issue(f"{path}/XchgRate", "invalid_rate", f"{rate_text!r} is not a positive rate.", "AM09"))

    charge_bearer = reader.text(tx, "p:ChrgBr")
    if charge_bearer not in CHARGE_BEARERS:
        issues.append(
            Issue(
                f"{path}/ChrgBr",
                "invalid_charge_bearer" if charge_bearer else "required",
                f"ChrgBr must be one of {', '.join(sorted(CHARGE_BEARERS))}.",
                "FF01",
            )
        )

    bics = {}
    for side, agent, fallback, header, reason in (
        ("sender", "InstgAgt", "DbtrAgt", header_from, "RC01"),
        ("receiver", "InstdAgt", "CdtrAgt", header_to, "RC01"),
    ):
        raw = reader.bic(reader.find(tx, f"p:{agent}"))
        where = f"{path}/{agent}/FinInstnId/BICFI"
        if not raw:
            raw = reader.bic(reader.find(tx, f"p:{fallback}"))
            where = f"{path}/{fallback}/FinInstnId/BICFI"
        if not raw and header:
            raw, where = header, f"/AppHdr/{'Fr' if side == 'sender' else 'To'}/FIId/FinInstnId/BICFI"
        bic = normalise_bic(raw)
        if not raw:
            issues.append(Issue(where, "required", f"No BIC of the {agent} (nor {fallback}).", reason))
        elif not is_valid_bic(bic):
            issues.append(Issue(where, "invalid_bic", f"{raw} is not a BIC (ISO 9362).", reason))
        bics[side] = bic
    if header_from and bics["sender"] and bics["sender"] != header_from:
        issues.append(
            Issue(
                f"{path}/InstgAgt/FinInstnId/BICFI",
                "sender_mismatch",
                f"InstgAgt {bics['sender']} is not the sender of the message ({header_from} in AppHdr/Fr).",
                "RC01",
            )
        )
    for name in ("DbtrAgt", "CdtrAgt"):
        raw = reader.bic(reader.find(tx, f"p:{name}"))
        if raw and not is_valid_bic(normalise_bic(raw)):
            issues.append(Issue(f"{path}/{name}/FinInstnId/BICFI", "invalid_bic", f"{raw} is not a BIC.", "RC01"))

    names = {}
    for party, reason in (("Dbtr", "RR02"), ("Cdtr", "RR03")):
        name = " ".join(reader.text(tx, f"p:{party}/p:Nm").split())
        if reader.find(tx, f"p:{party}") is None:
            issues.append(Issue(f"{path}/{party}", "required", f"{party} is mandatory.", reason))
        elif not name:
            issues.append(Issue(f"{path}/{party}/Nm", "required", f"The {party} needs a name (Nm).", reason))
        elif len(name) > 140 or not name.isprintable():
            issues.append(Issue(f"{path}/{party}/Nm", "invalid_name", "At most 140 printable characters.", reason))
        names[party] = name
    debtor_iban, debtor_account = _account(reader, tx, "DbtrAcct", path, issues, "AC02")
    creditor_iban, creditor_account = _account(reader, tx, "CdtrAcct", path, issues, "AC03")
    remittance = " ".join(
        " ".join((line.text or "").split()) for line in tx.iterfind("p:RmtInf/p:Ustrd", reader.ns)
    ).strip()[:140]

    if issues:
        return item
    if cross:
        pay_amount, pay_currency, settlement_currency = instructed_amount, instructed_currency, currency
    else:
        pay_amount, pay_currency, settlement_currency = amount, currency, ""
    reference = item.instr_id if SWIFT_REFERENCE.match(item.instr_id or "") else ""
    item.instruction = PaymentInstruction(
        sender_bic=bics["sender"],
        receiver_bic=bics["receiver"],
        amount=pay_amount,
        currency=pay_currency,
        settlement_currency=settlement_currency,
        debtor_name=names["Dbtr"],
        creditor_name=names["Cdtr"],
        debtor_iban=debtor_iban,
        debtor_account=debtor_account,
        creditor_iban=creditor_iban,
        creditor_account=creditor_account,
        remittance_info=remittance,
        payment_reference=reference,
        end_to_end_id=item.end_to_end_id,
    )
    return item


def _header(reader: _Reader, group, message: Pacs008Message, transactions: list) -> None:
    issues = message.issues
    if group is None:
        issues.append(Issue(GRP, "required", "GrpHdr is mandatory.", "FF01"))
        return
    message.msg_id = reader.text(group, "p:MsgId")
    message.created_at = reader.text(group, "p:CreDtTm")
    message.nb_of_txs = reader.text(group, "p:NbOfTxs")
    message.ctrl_sum = reader.text(group, "p:CtrlSum")
    message.settlement_method = reader.text(group, "p:SttlmInf/p:SttlmMtd")
    if not message.msg_id:
        issues.append(Issue(f"{GRP}/MsgId", "required", "MsgId is mandatory.", "FF01"))
    elif len(message.msg_id) > 35:
        issues.append(Issue(f"{GRP}/MsgId", "max_length", "MsgId has at most 35 characters.", "FF01"))
    if not _valid_datetime(message.created_at):
        issues.append(
            Issue(f"{GRP}/CreDtTm", "invalid_datetime", f"{message.created_at!r} is not an ISO 8601 date-time.", "DT01")
        )
    if not re.fullmatch(r"\d{1,15}", message.nb_of_txs):
        issues.append(Issue(f"{GRP}/NbOfTxs", "invalid_number", "NbOfTxs is a whole number.", "AM18"))
    elif int(message.nb_of_txs) != len(transactions):
        issues.append(
            Issue(
                f"{GRP}/NbOfTxs",
                "nb_of_txs_mismatch",
                f"NbOfTxs is {message.nb_of_txs}; the message has {len(transactions)} transactions.",
                "AM18",
            )
        )
    amounts = [_amount((reader.text(tx, "p:IntrBkSttlmAmt") or "").strip()) for tx in transactions]
    if message.ctrl_sum:
        ctrl_sum = _amount(message.ctrl_sum)
        if ctrl_sum is None:
            issues.append(Issue(f"{GRP}/CtrlSum", "invalid_amount", "CtrlSum is a decimal number.", "AM10"))
        elif None not in amounts and ctrl_sum != sum(amounts, Decimal(0)):
            issues.append(
                Issue(
                    f"{GRP}/CtrlSum",
                    "ctrl_sum_mismatch",
                    f"CtrlSum is {message.ctrl_sum}; the transactions add up to {sum(amounts, Decimal(0))}.",
                    "AM10",
                )
            )
    total = reader.find(group, "p:TtlIntrBkSttlmAmt")
    if total is not None:
        currencies = {
            tx.find("p:IntrBkSttlmAmt", reader.ns).get("Ccy")
            for tx in transactions
            if tx.find("p:IntrBkSttlmAmt", reader.ns) is not None
        }
        value = _amount((total.text or "").strip())
        if currencies != {total.get("Ccy")} or value is None or None in amounts or value != sum(amounts, Decimal(0)):
            issues.append(
                Issue(
                    f"{GRP}/TtlIntrBkSttlmAmt",
                    "total_mismatch",
                    "TtlIntrBkSttlmAmt must be the sum of the transactions' IntrBkSttlmAmt, in their one currency.",
                    "AM10",
                )
            )
    group_date = reader.text(group, "p:IntrBkSttlmDt")
    if group_date and not _valid_date(group_date):
        issues.append(Issue(f"{GRP}/IntrBkSttlmDt", "invalid_date", f"{group_date!r} is not an ISO 8601 date.", "DT01"))
    if not message.settlement_method:
        issues.append(Issue(f"{GRP}/SttlmInf/SttlmMtd", "required", "SttlmMtd is mandatory.", "FF01"))
    elif message.settlement_method not in SETTLEMENT_METHODS:
        issues.append(
            Issue(
                f"{GRP}/SttlmInf/SttlmMtd",
                "settlement_method",
                f"Settlement method {message.settlement_method} is not offered; use one of "
                f"{', '.join(sorted(SETTLEMENT_METHODS))}.",
                "FF01",
            )
        )
    if not transactions:
        issues.append(Issue(TX, "required", "At least one CdtTrfTxInf.", "FF01"))
    elif len(transactions) > MAX_TRANSACTIONS:
        issues.append(Issue(TX, "too_many", f"At most {MAX_TRANSACTIONS} transactions per message.", "FF01"))


def _duplicates(items: list[Pacs008Transaction]) -> None:
    """Unique EndToEndId and TxId within the message: every later repeat is rejected (AM05, duplication)."""
    for attribute, element in (("end_to_end_id", "EndToEndId"), ("tx_id", "TxId")):
        first: dict[str, int] = {}
        for item in items:
            value = getattr(item, attribute)
            if not value:
                continue
            if value in first:
                item.issues.append(
                    Issue(
                        f"{item.path}/PmtId/{element}",
                        "duplicate",
                        f"{element} {value} is also transaction {first[value] + 1} of this message.",
                        "AM05",
                    )
                )
                item.instruction = None
            else:
                first[value] = item.index


def pacs008_read(raw: bytes) -> Pacs008Message:
    """The message's group header and transactions with their issues; MessageRefused when it is no pacs.008."""
    root = xml_parse(raw)
    document = find_document(root, "pacs.008")
    if document is None:
        raise MessageRefused(
            "The message holds no ISO 20022 pacs.008 Document (urn:iso:std:iso:20022:tech:xsd:pacs.008.001.xx).",
            code="not_pacs008",
        )
    name = iso_message_name(document)
    message = Pacs008Message(message_name=name)
    schema = xsd_for(name)
    if schema is not None:
        for path, text in xsd_errors(schema, document):
            message.issues.append(Issue(path, "xsd", text, "FF01"))
        if message.issues:
            return message
    reader = _Reader(etree.QName(document).namespace)
    body = reader.find(document, "p:FIToFICstmrCdtTrf")
    if body is None:
        raise MessageRefused("The Document holds no FIToFICstmrCdtTrf.", code="not_pacs008")
    transactions = body.findall("p:CdtTrfTxInf", reader.ns)
    _header(reader, reader.find(body, "p:GrpHdr"), message, transactions)
    if message.issues:
        return message
    header_from, header_to = _header_bic(root, "Fr"), _header_bic(root, "To")
    message.header_from_bic = header_from
    message.transactions = [
        _transaction(reader, tx, index, header_from, header_to) for index, tx in enumerate(transactions)
    ]
    _duplicates(message.transactions)
    return message


# --- Writing a payment as a pacs.008.001.08 -----------------------------------------------

OUT_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
OUT = ElementMaker(namespace=OUT_NAMESPACE, nsmap={None: OUT_NAMESPACE})


def _agent(bic: str):
    return OUT.FinInstnId(OUT.BICFI(bic))


def _account_element(tag: str, iban: str, other: str):
    if iban:
        return getattr(OUT, tag)(OUT.Id(OUT.IBAN(iban)))
    if other:
        return getattr(OUT, tag)(OUT.Id(OUT.Othr(OUT.Id(other[:34]))))
    return None


def _amount_text(value: Decimal, currency: str) -> str:
    return f"{value:.{minor_units(currency)}f}"


def pacs008_render(payment) -> bytes:
    """One payment as a pacs.008.001.08 message with one transaction, as the network forwards it to the receiver."""
    cross = payment.settlement_currency_id != payment.currency_id
    settled_at = payment.scheduled_for or payment.created_at
    tx = [
        OUT.PmtId(
            OUT.InstrId(payment.payment_reference[:35]),
            OUT.EndToEndId((payment.end_to_end_id or "NOTPROVIDED")[:35]),
            OUT.TxId(payment.id.hex[:35]),
        ),
        OUT.IntrBkSttlmAmt(
            _amount_text(payment.settlement_amount if cross else payment.amount, payment.settlement_currency_id),
            Ccy=payment.settlement_currency_id,
        ),
        OUT.IntrBkSttlmDt(settled_at.date().isoformat()),
    ]
    if cross:
        tx.append(OUT.InstdAmt(_amount_text(payment.amount, payment.currency_id), Ccy=payment.currency_id))
        tx.append(OUT.XchgRate(f"{payment.fx_rate.normalize():f}" if payment.fx_rate else "1"))
    tx += [
        OUT.ChrgBr("SHAR"),
        OUT.InstgAgt(_agent(payment.sender_bic)),
        OUT.InstdAgt(_agent(payment.receiver_bic)),
        OUT.Dbtr(OUT.Nm(payment.debtor_name[:140])),
    ]
    debtor_account = _account_element("DbtrAcct", payment.debtor_iban, payment.debtor_account)
    if debtor_account is not None:
        tx.append(debtor_account)
    tx += [OUT.DbtrAgt(_agent(payment.sender_bic)), OUT.CdtrAgt(_agent(payment.receiver_bic))]
    tx.append(OUT.Cdtr(OUT.Nm(payment.creditor_name[:140])))
    creditor_account = _account_element("CdtrAcct", payment.creditor_iban, payment.creditor_account)
    if creditor_account is not None:
        tx.append(creditor_account)
    if payment.remittance_info:
        tx.append(OUT.RmtInf(OUT.Ustrd(payment.remittance_info[:140])))
    document = OUT.Document(
        OUT.FIToFICstmrCdtTrf(
            OUT.GrpHdr(
                OUT.MsgId(f"DLT{payment.id.hex}"[:35]),
                OUT.CreDtTm(payment.created_at.isoformat(timespec="seconds")),
                OUT.NbOfTxs("1"),
                OUT.SttlmInf(OUT.SttlmMtd("CLRG")),
            ),
            OUT.CdtTrfTxInf(*tx),
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")
