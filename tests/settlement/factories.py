"""Payments made through the real pipeline at instants when banks' clearing windows are open, and limit helpers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import time_machine

from payments.models import Payment
from payments.services import PaymentInstruction, payment_initiate
from settlement.models import Bank, BankPosition, SettlementAccount

ENBX, LUMI, HABB, SBIN = "ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX"
# Wednesday 2026-11-25 08:00Z: Dubai 12:00 (08-16), Jerusalem 10:00 (09-17), Karachi 13:00 (09-17),
# Kolkata 13:30 (10-18): every bank of the scenario is open, and it is every bank's Wednesday.
WEDNESDAY = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
BUSINESS_DAY = WEDNESDAY.date()


def pay(actor, *, at: datetime | None = None, **fields) -> Payment:
    """One payment through payment_initiate, made at ``at`` (default WEDNESDAY)."""
    values = {
        "sender_bic": ENBX,
        "receiver_bic": SBIN,
        "amount": Decimal("100.00"),
        "currency": "USD",
        "debtor_name": "Acme Trading LLC",
        "creditor_name": "Mumbai Textiles Pvt Ltd",
    }
    values.update(fields)
    values["amount"] = Decimal(str(values["amount"]))
    with time_machine.travel(at or WEDNESDAY, tick=False):
        return payment_initiate(actor=actor, instruction=PaymentInstruction(**values)).payment


def minutes(n: int) -> datetime:
    return WEDNESDAY + timedelta(minutes=n)


def set_limit(bic: str, limit_usd) -> None:
    bank = Bank.objects.get(bic=bic)
    bank.daily_liquidity_limit_usd = Decimal(str(limit_usd))
    bank.save()  # clears this process's participant directory, as the admin does


def position(bic: str, day=BUSINESS_DAY) -> BankPosition | None:
    return BankPosition.objects.filter(bank__bic=bic, business_date=day).first()


def balances() -> dict[tuple[str, str], Decimal]:
    return {
        (bic, currency): balance
        for bic, currency, balance in SettlementAccount.objects.values_list("bank__bic", "currency_id", "balance")
    }


def set_balance(bic: str, currency: str, balance) -> None:
    account = SettlementAccount.objects.get(bank__bic=bic, currency_id=currency)
    account.balance = Decimal(str(balance))
    account.save()
