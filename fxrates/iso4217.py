"""ISO 4217 minor units. Names come from pycountry; the exponent is not in it, so it lives here."""

ZERO_DECIMALS = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
FOUR_DECIMALS = frozenset("CLF UYW".split())
# Precious metals, funds, testing and "no currency" codes: not settled as money (CBPR+ rule R41).
NOT_MONEY = frozenset("XAD XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())


def minor_units(code: str) -> int:
    if code in ZERO_DECIMALS:
        return 0
    if code in THREE_DECIMALS:
        return 3
    if code in FOUR_DECIMALS:
        return 4
    return 2
