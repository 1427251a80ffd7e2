"""The stress test's traffic: the seed's 4-bank payment mix, turned into the requests banks would send.

Pure Python (no Django): the scenario's banks and base rates are passed in, so the proportions can be tested
without a database and the bodies built before the run starts (building them during the run would take CPU
from the server on a 2-core machine).

The mix (seed, "Stress Test Configuration"): 60 % domestic (both customers at one bank: the scenario has one
bank per country), 25 % regional (UAE-Israel, Pakistan-India), 15 % cross-regional (UAE-India, Israel-Pakistan);
70 % retail (USD 10-5,000), 25 % corporate (5,000-500,000), 5 % wholesale (500,000-50,000,000), amounts uniform in
their range and stated in the payment currency at the base rate; 60 % in the sender's primary currency (credited
in the receiver's primary currency, so cross-border ones are FX payments through the pool), 40 % in USD.
On top: a small share of payments naming a listed person or entity (held for review), and liquidity pressure:
every ``pressure_every`` payments one bank sends a burst of wholesale payments worth a share of its daily limit.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

PATTERNS = ("domestic", "regional", "cross_regional")
PATTERN_WEIGHTS = (0.60, 0.25, 0.15)
TYPES = ("retail", "corporate", "wholesale")
TYPE_WEIGHTS = (0.70, 0.25, 0.05)
TYPE_RANGES_USD = {
    "retail": (Decimal("10"), Decimal("5000")),
    "corporate": (Decimal("5000"), Decimal("500000")),
    "wholesale": (Decimal("500000"), Decimal("50000000")),
}
PRIMARY_SHARE = 0.60
KINDS = ("batch", "pacs008", "single")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class StressBank:
    bic: str
    primary_currency: str
    daily_limit_usd: Decimal


@dataclass(frozen=True)
class Mix:
    """What to send and how: the scenario (banks, USD rates) and the shares of each kind of traffic."""

    banks: tuple[StressBank, ...]
    # Units of each currency per USD (USD 1); the client states USD ranges in the payment currency with them.
    usd_rates: dict[str, Decimal]
    regional_pairs: tuple[tuple[str, str], ...]
    cross_regional_pairs: tuple[tuple[str, str], ...]
    listed_names: tuple[str, ...] = ()
    listed_share: float = 0.001
    single_share: float = 0.02
    pacs008_share: float = 0.5  # of the payments not sent singly; the rest go in JSON batches
    batch_size: int = 50
    pressure_every: int = 20_000  # payments between two liquidity-pressure bursts (0: none)
    pressure_share_of_limit: Decimal = Decimal("0.6")
    debtors_per_bank: int = 5000


@dataclass
class PlannedPayment:
    key: str
    sender: str
    receiver: str
    pattern: str
    type: str
    currency: str
    settlement_currency: str
    amount: Decimal
    debtor_name: str
    debtor_account: str
    creditor_name: str
    listed: bool = False
    pressure: bool = False


@dataclass
class PlannedRequest:
    """One HTTP request of the run: its body built beforehand, the payments in it, when it is due."""

    kind: str
    due: float  # seconds after the start
    body: bytes
    keys: list[str]
    sender: str


@dataclass
class Plan:
    requests: list[PlannedRequest]
    payments: int
    # Counts of what was planned, by dimension (pattern, type, currency, kind, listed, pressure).
    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    # key -> (pattern, type, currency, kind, listed, pressure), to count what was sent.
    meta: dict[str, tuple[str, str, str, str, bool, bool]] = field(default_factory=dict)


def _weighted(rng: random.Random, choices: tuple[str, ...], weights: tuple[float, ...]) -> str:
    return rng.choices(choices, weights)[0]


def _amount(rng: random.Random, type_: str, rate: Decimal) -> Decimal:
    low, high = TYPE_RANGES_USD[type_]
    usd = low + (high - low) * Decimal(rng.random())
    return max(CENT, (usd * rate).quantize(CENT, rounding=ROUND_HALF_EVEN))


class MixGenerator:
    """Payments of the mix, one at a time, reproducibly from ``seed``; keys carry ``run`` so they never repeat."""

    def __init__(self, mix: Mix, *, run: str, seed: int = 1):
        self.mix, self.run = mix, run
        self.rng = random.Random(seed)
        self.count = 0
        self.banks = {bank.bic: bank for bank in mix.banks}
        self._pressure: list[PlannedPayment] = []
        self._pressure_turn = 0

    def _pair(self, pattern: str) -> tuple[str, str]:
        if pattern == "domestic":
            bic = self.rng.choice(self.mix.banks).bic
            return bic, bic
        pairs = self.mix.regional_pairs if pattern == "regional" else self.mix.cross_regional_pairs
        a, b = self.rng.choice(pairs)
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def _payment(self, *, pattern: str, type_: str, sender: str, receiver: str, pressure: bool = False):
        rng = self.rng
        self.count += 1
        if rng.random() < PRIMARY_SHARE:
            currency = self.banks[sender].primary_currency
            settlement = self.banks[receiver].primary_currency
        else:
            currency = settlement = "USD"
        debtor = rng.randrange(self.mix.debtors_per_bank)
        listed = bool(self.mix.listed_names) and rng.random() < self.mix.listed_share
        creditor = rng.choice(self.mix.listed_names) if listed else f"Supplier {rng.randrange(2000)} Trading"
        return PlannedPayment(
            key=f"s{self.run}-{self.count}",
            sender=sender,
            receiver=receiver,
            pattern=pattern,
            type=type_,
            currency=currency,
            settlement_currency=settlement,
            amount=_amount(rng, type_, self.mix.usd_rates[currency]),
            debtor_name=f"{sender[:4]} Customer {debtor}",
            debtor_account=f"{sender[:4]}{debtor:08d}",
            creditor_name=creditor,
            listed=listed,
            pressure=pressure,
        )

    def _pressure_burst(self) -> list[PlannedPayment]:
        """One bank sends wholesale payments to the others until they add up to a share of its daily limit."""
        bank = self.mix.banks[self._pressure_turn % len(self.mix.banks)]
        self._pressure_turn += 1
        others = [b.bic for b in self.mix.banks if b.bic != bank.bic]
        goal = bank.daily_limit_usd * self.mix.pressure_share_of_limit
        burst, total = [], Decimal(0)
        while total < goal:
            receiver = self.rng.choice(others)
            pattern = "regional" if (bank.bic, receiver) in self._regional_set() else "cross_regional"
            p = self._payment(pattern=pattern, type_="wholesale", sender=bank.bic, receiver=receiver, pressure=True)
            total += p.amount / self.mix.usd_rates[p.currency]
            burst.append(p)
        return burst

    def _regional_set(self) -> set[tuple[str, str]]:
        return {pair for a, b in self.mix.regional_pairs for pair in ((a, b), (b, a))}

    def __iter__(self) -> Iterator[PlannedPayment]:
        return self

    def __next__(self) -> PlannedPayment:
        if self._pressure:
            return self._pressure.pop()
        every = self.mix.pressure_every
        if every and self.count and self.count % every == 0:
            self._pressure = self._pressure_burst()
            return self._pressure.pop()
        pattern = _weighted(self.rng, PATTERNS, PATTERN_WEIGHTS)
        type_ = _weighted(self.rng, TYPES, TYPE_WEIGHTS)
        sender, receiver = self._pair(pattern)
        return self._payment(pattern=pattern, type_=type_, sender=sender, receiver=receiver)


# --- Bodies -----------------------------------------------------------------------------------


def json_item(p: PlannedPayment) -> dict:
    item = {
        "sender_bic": p.sender,
        "receiver_bic": p.receiver,
        "amount": str(p.amount),
        "currency": p.currency,
        "debtor_name": p.debtor_name,
        "debtor_account": p.debtor_account,
        "creditor_name": p.creditor_name,
        "remittance_info": f"Stress {p.key}",
        "end_to_end_id": p.key[:35],
        "idempotency_key": p.key,
    }
    if p.settlement_currency != p.currency:
        item["settlement_currency"] = p.settlement_currency
    return item


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pacs008_body(msg_id: str, payments: list[PlannedPayment], usd_rates: dict[str, Decimal]) -> bytes:
    """A pacs.008.001.08 with one CdtTrfTxInf per payment; cross-currency ones carry InstdAmt and XchgRate."""
    rows = []
    for p in payments:
        if p.settlement_currency != p.currency:
            rate = (usd_rates[p.settlement_currency] / usd_rates[p.currency]).quantize(Decimal("0.00000001"))
            settled = max(CENT, (p.amount * rate).quantize(CENT))
            amounts = (
                f'<IntrBkSttlmAmt Ccy="{p.settlement_currency}">{settled}</IntrBkSttlmAmt>'
                f"<IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt>"
                f'<InstdAmt Ccy="{p.currency}">{p.amount}</InstdAmt><XchgRate>{rate}</XchgRate>'
            )
        else:
            amounts = (
                f'<IntrBkSttlmAmt Ccy="{p.currency}">{p.amount}</IntrBkSttlmAmt>'
                "<IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt>"
            )
        rows.append(
            f"<CdtTrfTxInf><PmtId><InstrId>{p.key[:35]}</InstrId><EndToEndId>{p.key[:35]}</EndToEndId>"
            f"<TxId>{p.key[:35]}</TxId></PmtId>{amounts}<ChrgBr>SHAR</ChrgBr>"
            f"<InstgAgt><FinInstnId><BICFI>{p.sender}</BICFI></FinInstnId></InstgAgt>"
            f"<InstdAgt><FinInstnId><BICFI>{p.receiver}</BICFI></FinInstnId></InstdAgt>"
            f"<Dbtr><Nm>{_xml_text(p.debtor_name)}</Nm></Dbtr>"
            f"<DbtrAcct><Id><Othr><Id>{p.debtor_account}</Id></Othr></Id></DbtrAcct>"
            f"<DbtrAgt><FinInstnId><BICFI>{p.sender}</BICFI></FinInstnId></DbtrAgt>"
            f"<CdtrAgt><FinInstnId><BICFI>{p.receiver}</BICFI></FinInstnId></CdtrAgt>"
            f"<Cdtr><Nm>{_xml_text(p.creditor_name)}</Nm></Cdtr>"
            f"<RmtInf><Ustrd>Stress {p.key}</Ustrd></RmtInf></CdtTrfTxInf>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>'
        f"<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>2026-03-02T10:00:00Z</CreDtTm>"
        f"<NbOfTxs>{len(payments)}</NbOfTxs>"
        "<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>" + "".join(rows) + "</FIToFICstmrCdtTrf></Document>"
    ).encode()


def pacs008_key(msg_id: str, p: PlannedPayment) -> str:
    """The idempotency key the server gives a pacs.008 transaction (payments.messages.pacs008)."""
    return f"pacs008:{msg_id}:{p.key[:35]}"


# --- Schedule -----------------------------------------------------------------------------------


def due_time(n: float, *, rate: float, ramp: float) -> float:
    """Seconds after the start at which the n-th payment is due, the rate rising linearly over ``ramp`` seconds."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    ramp_payments = rate * ramp / 2
    if ramp > 0 and n <= ramp_payments:
        return (2 * n * ramp / rate) ** 0.5
    return ramp + (n - ramp_payments) / rate


def payments_in(duration: float, *, rate: float, ramp: float) -> int:
    """How many payments are due within ``duration`` seconds."""
    ramp = min(ramp, duration)
    if duration <= ramp:
        return int(rate * duration * duration / (2 * ramp)) if ramp else 0
    return int(rate * ramp / 2 + rate * (duration - ramp))


def plan_build(mix: Mix, *, run: str, rate: float, duration: float, ramp: float, seed: int = 1) -> Plan:
    """Every request of the run, in due order: micro-batches per sending bank (JSON batch or pacs.008) and singles.

    A bank's micro-batch leaves when it is full, due when its last payment is; what is left in the buffers at
    the end leaves at the end.
    """
    ramp = min(ramp, duration)
    total = payments_in(duration, rate=rate, ramp=ramp)
    generator = MixGenerator(mix, run=run, seed=seed)
    kind_rng = random.Random(seed + 1)
    buffers: dict[tuple[str, str], list[PlannedPayment]] = {}
    requests: list[PlannedRequest] = []
    plan = Plan(requests=requests, payments=0)
    counts: dict[str, dict[str, int]] = {
        d: {} for d in ("pattern", "type", "currency", "kind", "listed", "pressure", "sender")
    }
    messages = 0

    def flush(kind: str, sender: str, batch: list[PlannedPayment], due: float) -> None:
        nonlocal messages
        messages += 1
        if kind == "pacs008":
            msg_id = f"S{run}-{messages}"[:35]
            body = pacs008_body(msg_id, batch, mix.usd_rates)
            keys = [pacs008_key(msg_id, p) for p in batch]
        else:
            body = json.dumps([json_item(p) for p in batch], separators=(",", ":")).encode()
            keys = [p.key for p in batch]
        requests.append(PlannedRequest(kind=kind, due=due, body=body, keys=keys, sender=sender))
        for key, p in zip(keys, batch, strict=True):
            plan.meta[key] = (p.pattern, p.type, p.currency, kind, p.listed, p.pressure)

    for n in range(total):
        p = next(generator)
        due = due_time(n + 1, rate=rate, ramp=ramp)
        roll = kind_rng.random()
        if roll < mix.single_share:
            kind = "single"
            item = json_item(p)
            del item["idempotency_key"]  # a single payment's key goes in the Idempotency-Key header
            body = json.dumps(item, separators=(",", ":")).encode()
            requests.append(PlannedRequest(kind=kind, due=due, body=body, keys=[p.key], sender=p.sender))
            plan.meta[p.key] = (p.pattern, p.type, p.currency, kind, p.listed, p.pressure)
        else:
            kind = "pacs008" if roll < mix.single_share + (1 - mix.single_share) * mix.pacs008_share else "batch"
            buffer = buffers.setdefault((p.sender, kind), [])
            buffer.append(p)
            if len(buffer) >= mix.batch_size:
                flush(kind, p.sender, buffer, due)
                buffers[(p.sender, kind)] = []
        for dim, value in (
            ("pattern", p.pattern),
            ("type", p.type),
            ("currency", p.currency),
            ("kind", kind),
            ("listed", str(p.listed).lower()),
            ("pressure", str(p.pressure).lower()),
            ("sender", p.sender),
        ):
            counts[dim][value] = counts[dim].get(value, 0) + 1
    # The last micro-batches leave at the end (not after it: a float past the duration would not be sent).
    end = min(due_time(total, rate=rate, ramp=ramp), duration) if total else 0.0
    for (sender, kind), buffer in buffers.items():
        if buffer:
            flush(kind, sender, buffer, end)
    requests.sort(key=lambda r: r.due)
    plan.payments = total
    plan.planned = counts
    return plan
