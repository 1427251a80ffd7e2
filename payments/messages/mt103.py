"""SWIFT MT103 (single customer credit transfer): read one into a payment instruction, and write a payment as one.

Blocks 1 (basic header: the sender's logical terminal), 2 (application header: the receiver, or for an output
message the sender in the message input reference) and 4 (the text: fields 20, 23B, 32A, 33B, 36, 50a, 52A, 57A,
59a, 70, 71A...). Errors are per field tag, with a stable code. Text is written in the SWIFT X character set
within each field's line limits.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pycountry
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from fxrates.iso4217 import NOT_MONEY, minor_units
from payments.services import PaymentInstruction
from settlement.validators import is_valid_bic, normalise_bic

X_CHARACTERS = re.compile(r"^[A-Za-z0-9/\-?:().,'+ \n]*$")
REFERENCE = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,16}$")
FIELD_START = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
AMOUNT_32A = re.compile(r"^(\d{6})([A-Z]{3})(\d{1,15},\d*)$")
AMOUNT_33B = re.compile(r"^([A-Z]{3})(\d{1,15},\d*)$")
RATE_36 = re.compile(r"^\d{1,12},\d*$")
BANK_OPERATION_CODES = frozenset({"CRED", "CRTS", "SPAY", "SPRI", "SSTD"})
CHARGES = frozenset({"OUR", "SHA", "BEN"})
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)
REPEATABLE = frozenset({"13C", "23E", "71F"})
LINE = 35


class Mt103Errors(Exception):
    def __init__(self, fields: dict):
        super().__init__("The MT103 is not valid.")
        self.fields = fields


@dataclass
class Mt103:
    sender_bic: str = ""
    receiver_bic: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[dict]] = field(default_factory=dict)

    def error(self, tag: str, code: str, message: str) -> None:
        self.errors.setdefault(tag, []).append({"code": code, "message": message})


def _blocks(text: str) -> tuple[dict[str, str], str | None]:
    """Header blocks {'1': ..., '2': ...} and the text block (None when there is none)."""
    headers: dict[str, str] = {}
    body = None
    start = text.find("{4:")
    head = text if start < 0 else text[:start]
    for number, content in re.findall(r"\{([123]):([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", head):
        headers.setdefault(number, content)
    if start >= 0:
        rest = text[start + 3 :]
        end = rest.find("\n-}")
        if end < 0:
            end = rest.find("-}")
        body = rest if end < 0 else rest[:end]
    elif ":20:" in text or ":32A:" in text:
        body = text  # a text block sent on its own, without envelope
    return headers, body


def _party(value: str) -> tuple[str, str, str]:
    """(account, name, BIC) of a 50a or 59a field value: optional /account line, then name lines or a BIC."""
    lines = [line.strip() for line in value.split("\n") if line.strip()]
    account = ""
    if lines and lines[0].startswith("/"):
        account = lines.pop(0)[1:].strip()
    structured = [line[2:] for line in lines if re.match(r"^\d/", line)]
    if structured:
        # Option F: 1/name, 2/address...; the name is every "1/" line.
        names = [line[2:] for line in lines if line.startswith("1/")]
        return account, " ".join(names) or structured[0], ""
    if len(lines) == 1 and is_valid_bic(normalise_bic(lines[0])) and len(lines[0]) in (8, 11):
        return account, "", normalise_bic(lines[0])
    if not lines:
        return account, "", ""
    # A name longer than a line is written over full 35-character lines; a shorter line ends it.
    name, used = lines[0], 1
    while len(lines[used - 1]) == LINE and used < len(lines):
        name += lines[used]
        used += 1
    return account, name, ""


def _account_fields(account: str) -> tuple[str, str]:
    """An IBAN when the account is one, else the account number."""
    compact = account.replace(" ", "").upper()
    if re.match(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$", compact):
        try:
            IBAN(compact)
            return compact, ""
        except SchwiftyException:
            pass
    return "", account[:34]


def _swift_amount(raw: str, currency: str, message: Mt103, tag: str) -> Decimal | None:
    try:
        amount = Decimal(raw.replace(",", ".").rstrip(".") or "0")
    except InvalidOperation:
        message.error(tag, "invalid_amount", f"{raw} is not an amount.")
        return None
    decimals = len(raw.split(",", 1)[1].rstrip("0")) if "," in raw else 0
    if currency in CURRENCIES and decimals > minor_units(currency):
        message.error(
            tag, "amount_precision", f"{currency} has {minor_units(currency)} decimal places; {raw} has more."
        )
    if amount <= 0:
        message.error(tag, "amount_not_positive", "The amount must be greater than zero.")
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency))) if currency in CURRENCIES else amount


def _currency(code: str, message: Mt103, tag: str) -> None:
    if code not in CURRENCIES:
        message.error(tag, "unknown_currency", f"{code} is not an ISO 4217 currency.")
    elif code in NOT_MONEY:
        message.error(tag, "commodity_currency", f"{code} is not money (commodity, fund or test code).")


def mt103_read(text: str) -> tuple[Mt103, PaymentInstruction | None]:
    """The parsed message and its instruction; every problem is in ``errors`` keyed by block or field tag."""
    message = Mt103()
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    headers, body = _blocks(text)
    block1, block2 = headers.get("1", ""), headers.get("2", "")
    if not block1:
        message.error("block1", "required", "Block 1 (basic header: the sender's logical terminal) is missing.")
    elif not re.match(r"^F01[A-Z0-9]{12}\d{10}$", block1):
        message.error("block1", "invalid", "Block 1 is F01, a 12-character logical terminal, session and sequence.")
    if not block2:
        message.error("block2", "required", "Block 2 (application header: message type and receiver) is missing.")
    elif block2.startswith("I"):
        if not re.match(r"^I103[A-Z0-9]{12}[SNU]?\d?\d{0,3}$", block2):
            message.error(
                "block2", "invalid", "An input block 2 is I103, the receiver's 12-character address, priority."
            )
        else:
            message.receiver_bic = normalise_bic(block2[4:12] + block2[13:16])
            message.sender_bic = normalise_bic(block1[3:11] + block1[12:15]) if block1 else ""
    elif block2.startswith("O"):
        if not re.match(r"^O103\d{4}\d{6}[A-Z0-9]{12}\d{10}\d{6}\d{4}[SNU]?$", block2):
            message.error("block2", "invalid", "An output block 2 is O103, input time, the message input reference...")
        else:
            # Output: block 1 is the receiving terminal; the sender is in the message input reference.
            message.sender_bic = normalise_bic(block2[14:22] + block2[23:26])
            message.receiver_bic = normalise_bic(block1[3:11] + block1[12:15]) if block1 else ""
    else:
        message.error("block2", "invalid", "Block 2 starts with I (input) or O (output) and message type 103.")
    if block2 and block2[1:4] != "103":
        message.error("block2", "not_mt103", f"This is an MT{block2[1:4]}, not an MT103.")
    if body is None:
        message.error("block4", "required", "Block 4 (the text) is missing.")
        return message, None
    current = None
    for line in body.strip("\n").split("\n"):
        start = FIELD_START.match(line)
        if start:
            current = start.group(1)
            if current in message.fields and current not in REPEATABLE:
                message.error(current, "duplicate", f"Field {current} appears more than once.")
                current = None
                continue
            message.fields[current] = start.group(2)
        elif current is not None:
            message.fields[current] += "\n" + line
        elif line.strip():
            message.error("block4", "invalid", "The text must start with a field tag such as :20:.")
    for tag, value in message.fields.items():
        if not X_CHARACTERS.match(value):
            message.error(tag, "charset", "Only the SWIFT X character set is allowed.")
    return message, _instruction(message)


def _instruction(message: Mt103) -> PaymentInstruction | None:
    f = message.fields
    reference = f.get("20", "").strip()
    if not reference:
        message.error("20", "required", "Field 20 (sender's reference) is mandatory.")
    elif not REFERENCE.match(reference) or reference.startswith("/") or reference.endswith("/") or "//" in reference:
        message.error(
            "20", "invalid", "16 characters of the X set, not starting or ending with '/' nor containing '//'."
        )
    code = f.get("23B", "").strip()
    if not code:
        message.error("23B", "required", "Field 23B (bank operation code) is mandatory.")
    elif code not in BANK_OPERATION_CODES:
        message.error("23B", "invalid", f"23B is one of {', '.join(sorted(BANK_OPERATION_CODES))}.")
    settled_currency, settled_amount = "", None
    raw = f.get("32A", "").strip()
    match = AMOUNT_32A.match(raw)
    if not raw:
        message.error("32A", "required", "Field 32A (value date, currency, amount) is mandatory.")
    elif not match:
        message.error("32A", "invalid", "32A is YYMMDD, a currency code and an amount with a decimal comma.")
    else:
        value_date, settled_currency, amount_text = match.groups()
        try:
            date(2000 + int(value_date[:2]), int(value_date[2:4]), int(value_date[4:]))
        except ValueError:
            message.error("32A", "invalid_date", f"{value_date} is not a date (YYMMDD).")
        _currency(settled_currency, message, "32A")
        settled_amount = _swift_amount(amount_text, settled_currency, message, "32A")
    instructed_currency, instructed_amount = "", None
    if "33B" in f:
        match = AMOUNT_33B.match(f["33B"].strip())
        if not match:
            message.error("33B", "invalid", "33B is a currency code and an amount with a decimal comma.")
        else:
            instructed_currency = match.group(1)
            _currency(instructed_currency, message, "33B")
            instructed_amount = _swift_amount(match.group(2), instructed_currency, message, "33B")
    cross = bool(instructed_currency) and bool(settled_currency) and instructed_currency != settled_currency
    if cross and "36" not in f:
        message.error("36", "required", "Field 36 (exchange rate) is mandatory when 33B and 32A currencies differ.")
    if "36" in f and not RATE_36.match(f["36"].strip()):
        message.error("36", "invalid", "36 is a rate with a decimal comma, e.g. 0,9234.")
    if "36" in f and not cross:
        message.error("36", "not_allowed", "Field 36 is only allowed when 33B and 32A currencies differ.")
    debtor_tag = next((tag for tag in ("50K", "50A", "50F") if tag in f), None)
    creditor_tag = next((tag for tag in ("59", "59A", "59F") if tag in f), None)
    parties = {}
    for tag, label in ((debtor_tag, "50a"), (creditor_tag, "59a")):
        if tag is None:
            message.error(
                label,
                "required",
                f"Field {label} ({'ordering customer' if label == '50a' else 'beneficiary'}) is mandatory.",
            )
            continue
        account, name, bic = _party(f[tag])
        if tag.endswith("A") and not bic:
            message.error(tag, "invalid_bic", f"{tag} carries a BIC.")
        lines = [line for line in f[tag].split("\n")]
        if any(len(line) > LINE for line in lines if not line.startswith("/")) or len(lines) > 5:
            message.error(tag, "line_limit", f"{tag} has at most 4 lines of 35 characters after the account.")
        parties[label] = (account, name or bic)
    for tag in ("52A", "57A"):
        if tag in f:
            lines = [line.strip() for line in f[tag].split("\n") if line.strip() and not line.startswith("/")]
            if not lines or len(lines[0]) not in (8, 11) or not is_valid_bic(normalise_bic(lines[0])):
                message.error(tag, "invalid_bic", f"{tag} must be a BIC (8 or 11 characters).")
    remittance = " ".join(line.strip() for line in f.get("70", "").split("\n") if line.strip())
    if "70" in f and (len(f["70"].split("\n")) > 4 or any(len(line) > LINE for line in f["70"].split("\n"))):
        message.error("70", "line_limit", "70 has at most 4 lines of 35 characters.")
    charges = f.get("71A", "").strip()
    if not charges:
        message.error("71A", "required", "Field 71A (details of charges) is mandatory.")
    elif charges not in CHARGES:
        message.error("71A", "invalid", "71A is OUR, SHA or BEN.")
    if message.errors:
        return None
    debtor_iban, debtor_account = _account_fields(parties["50a"][0])
    creditor_iban, creditor_account = _account_fields(parties["59a"][0])
    if cross:
        amount, currency, settlement_currency = instructed_amount, instructed_currency, settled_currency
    else:
        amount, currency, settlement_currency = settled_amount, settled_currency, ""
    return PaymentInstruction(
        sender_bic=message.sender_bic,
        receiver_bic=message.receiver_bic,
        amount=amount,
        currency=currency,
        settlement_currency=settlement_currency,
        debtor_name=parties["50a"][1][:140],
        creditor_name=parties["59a"][1][:140],
        debtor_iban=debtor_iban,
        debtor_account=debtor_account,
        creditor_iban=creditor_iban,
        creditor_account=creditor_account,
        remittance_info=remittance[:140],
        payment_reference=reference,
        end_to_end_id="",
    )


# --- Writing ------------------------------------------------------------------------


def swift_x(text: str) -> str:
    """Text in the SWIFT X character set: accents dropped, anything else outside it replaced by '.'."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return "".join(ch if X_CHARACTERS.match(ch) and ch != "\n" else "." for ch in ascii_text)


def _lines(text: str, count: int) -> list[str]:
    """Up to ``count`` lines of 35 characters; a line never starts with ':' or '-' (they would end the field)."""
    text = swift_x(text)
    lines = [text[i : i + LINE] for i in range(0, len(text), LINE)][:count] or [""]
    return ["." + line[1:] if line[:1] in (":", "-") else line for line in lines]


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:.{minor_units(currency)}f}".replace(".", ",")


def _lt(bic: str) -> str:
    """A BIC as a 12-character logical terminal address (terminal code A)."""
    bic = normalise_bic(bic)
    return f"{bic[:8]}A{bic[8:11]}"


def mt103_render(payment) -> str:
    """The payment as an input MT103 from its sender to its receiver: blocks 1, 2, 3 (UETR-less) and 4."""
    reference = swift_x(payment.payment_reference)[:16].strip("/").replace("//", "/") or "NONREF"
    cross = payment.settlement_currency_id != payment.currency_id
    value_date = (payment.scheduled_for or payment.created_at).strftime("%y%m%d")
    text = [f":20:{reference}", ":23B:CRED"]
    if cross:
        text.append(
            f":32A:{value_date}{payment.settlement_currency_id}"
            f"{_amount(payment.settlement_amount, payment.settlement_currency_id)}"
        )
        text.append(f":33B:{payment.currency_id}{_amount(payment.amount, payment.currency_id)}")
        rate = f"{payment.fx_rate.normalize():f}" if payment.fx_rate else "1"
        text.append(f":36:{rate.replace('.', ',') if '.' in rate else rate + ','}"[:16])
    else:
        text.append(f":32A:{value_date}{payment.currency_id}{_amount(payment.amount, payment.currency_id)}")
    debtor_account = payment.debtor_iban or payment.debtor_account
    text.append(
        ":50K:"
        + "\n".join(([f"/{swift_x(debtor_account)}"] if debtor_account else []) + _lines(payment.debtor_name, 4))
    )
    text.append(f":52A:{payment.sender_bic}")
    text.append(f":57A:{payment.receiver_bic}")
    creditor_account = payment.creditor_iban or payment.creditor_account
    text.append(
        ":59:"
        + "\n".join(([f"/{swift_x(creditor_account)}"] if creditor_account else []) + _lines(payment.creditor_name, 4))
    )
    if payment.remittance_info:
        text.append(":70:" + "\n".join(_lines(payment.remittance_info, 4)))
    text.append(":71A:SHA")
    body = "\n".join(text)
    return f"{{1:F01{_lt(payment.sender_bic)}0000000000}}{{2:I103{_lt(payment.receiver_bic)}N}}{{4:\n{body}\n-}}"
