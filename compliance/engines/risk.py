"""The risk score: 0–100 from weighted rules, with the reasons that made it. Pure Python.

Each rule that fires adds its weight; the score is capped at 100. A definite
sanctions hit (an exact or near-exact match on a sanctions list) scores 100
whatever the weights say, and is held for a decision.
"""

from dataclasses import dataclass, field
from decimal import Decimal

LEVELS = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
RANK = {level: i for i, level in enumerate(LEVELS)}

# The seed's transaction types, by USD amount: retail up to 5,000; corporate up to 500,000; wholesale above.
RETAIL_MAX_USD = Decimal("5000")
CORPORATE_MAX_USD = Decimal("500000")


@dataclass(frozen=True)
class RuleConfig:
    code: str
    weight: int
    enabled: bool = True
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    rule: str
    points: int
    detail: str


@dataclass(frozen=True)
class RiskInput:
    sanctions_level: str = "NONE"
    sanctions_detail: str = ""
    pep_level: str = "NONE"
    pep_detail: str = ""
    internal_level: str = "NONE"
    internal_detail: str = ""
    amount_usd: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    currency: str = "USD"
    sender_risk: str = "low"
    receiver_risk: str = "low"
    sender_country: str = ""
    receiver_country: str = ""
    debtor_recent_count: int = 0
    debtor_recent_amount_usd: Decimal = Decimal(0)
    debtor_near_threshold_count: int = 0


@dataclass(frozen=True)
class RiskResult:
    score: int
    level: str
    reasons: tuple[Reason, ...]
    definite_hit: bool


DEFAULT_RULES: tuple[RuleConfig, ...] = (
    RuleConfig("sanctions_critical", 100),
    RuleConfig("sanctions_high", 70),
    RuleConfig("sanctions_medium", 40),
    RuleConfig("pep_match", 35),
    RuleConfig("pep_possible", 15),
    RuleConfig("internal_watchlist", 60),
    RuleConfig("internal_possible", 30),
    RuleConfig("amount_corporate", 10),
    RuleConfig("amount_wholesale", 25),
    RuleConfig("bank_risk_medium", 5),
    RuleConfig("bank_risk_high", 20),
    # FATF "call for action" jurisdictions and a few under increased monitoring; edit in the admin.
    RuleConfig("high_risk_country", 25, params={"countries": ["KP", "IR", "MM", "SY", "YE", "AF"]}),
    RuleConfig("corridor_risk", 10, params={"corridors": [["IL", "PK"], ["PK", "IL"]]}),
    RuleConfig("velocity", 15, params={"count": 20, "amount_usd": "5000000"}),
    RuleConfig("round_amount", 5, params={"min_usd": "10000", "multiple": "1000"}),
    RuleConfig("structuring", 20, params={"threshold_usd": "10000", "band": "0.10", "count": 3}),
)


def level_for_score(score: int) -> str:
    if score >= 90:
        return "CRITICAL"
    if score >= 70:
        return "HIGH"
    if score >= 40:
        return "MEDIUM"
    if score > 0:
        return "LOW"
    return "NONE"


def _list_reasons(inp: RiskInput) -> list[tuple[str, str]]:
    fired: list[tuple[str, str]] = []
    if inp.sanctions_level == "CRITICAL":
        fired.append(("sanctions_critical", inp.sanctions_detail))
    elif inp.sanctions_level == "HIGH":
        fired.append(("sanctions_high", inp.sanctions_detail))
    elif inp.sanctions_level == "MEDIUM":
        fired.append(("sanctions_medium", inp.sanctions_detail))
    if RANK[inp.pep_level] >= RANK["HIGH"]:
        fired.append(("pep_match", inp.pep_detail))
    elif inp.pep_level == "MEDIUM":
        fired.append(("pep_possible", inp.pep_detail))
    if RANK[inp.internal_level] >= RANK["HIGH"]:
        fired.append(("internal_watchlist", inp.internal_detail))
    elif inp.internal_level == "MEDIUM":
        fired.append(("internal_possible", inp.internal_detail))
    return fired


# What a rule missing from the configuration reads as (shared: its params are only read).
_NO_RULE = RuleConfig("", 0)


def _pattern_reasons(inp: RiskInput, rules: dict[str, RuleConfig]) -> list[tuple[str, str]]:
    fired: list[tuple[str, str]] = []
    if inp.amount_usd > CORPORATE_MAX_USD:
        fired.append(("amount_wholesale", f"Wholesale amount: {inp.amount_usd:,.2f} USD equivalent."))
    elif inp.amount_usd > RETAIL_MAX_USD:
        fired.append(("amount_corporate", f"Corporate amount: {inp.amount_usd:,.2f} USD equivalent."))
    risks = {inp.sender_risk, inp.receiver_risk}
    if "high" in risks:
        fired.append(("bank_risk_high", "A bank of the payment is rated high risk."))
    elif "medium" in risks:
        fired.append(("bank_risk_medium", "A bank of the payment is rated medium risk."))
    countries = set(rules.get("high_risk_country", _NO_RULE).params.get("countries", []))
    risky = sorted({inp.sender_country, inp.receiver_country} & countries)
    if risky:
        fired.append(("high_risk_country", f"High-risk jurisdiction: {', '.join(risky)}."))
    corridors = {tuple(c) for c in rules.get("corridor_risk", _NO_RULE).params.get("corridors", [])}
    if (inp.sender_country, inp.receiver_country) in corridors:
        fired.append(("corridor_risk", f"Higher-risk corridor {inp.sender_country}→{inp.receiver_country}."))
    velocity = rules.get("velocity", _NO_RULE).params
    count_limit = int(velocity.get("count", 20))
    amount_limit = Decimal(str(velocity.get("amount_usd", "5000000")))
    if inp.debtor_recent_count >= count_limit or inp.debtor_recent_amount_usd >= amount_limit:
        fired.append(
            (
                "velocity",
                f"The debtor sent {inp.debtor_recent_count} payments worth {inp.debtor_recent_amount_usd:,.2f} USD "
                f"in the velocity window (limits {count_limit} payments or {amount_limit:,.0f} USD).",
            )
        )
    rounding = rules.get("round_amount", _NO_RULE).params
    minimum = Decimal(str(rounding.get("min_usd", "10000")))
    multiple = Decimal(str(rounding.get("multiple", "1000")))
    if inp.amount_usd >= minimum and multiple > 0 and inp.amount % multiple == 0:
        fired.append(("round_amount", f"Round amount: {inp.amount:,.0f} {inp.currency}."))
    structuring = rules.get("structuring", _NO_RULE).params
    if inp.debtor_near_threshold_count >= int(structuring.get("count", 3)):
        fired.append(
            (
                "structuring",
                f"{inp.debtor_near_threshold_count} payments by the debtor just below the "
                f"{Decimal(str(structuring.get('threshold_usd', '10000'))):,.0f} USD reporting threshold.",
            )
        )
    return fired


def structuring_band(rules: dict[str, RuleConfig]) -> tuple[Decimal, Decimal]:
    """USD amounts in [low, high) sit just below the reporting threshold (the structuring rule's band)."""
    params = rules.get("structuring", _NO_RULE).params
    threshold = Decimal(str(params.get("threshold_usd", "10000")))
    band = Decimal(str(params.get("band", "0.10")))
    return threshold * (1 - band), threshold


def risk_score(inp: RiskInput, rules: dict[str, RuleConfig]) -> RiskResult:
    reasons: list[Reason] = []
    for code, detail in _list_reasons(inp) + _pattern_reasons(inp, rules):
        rule = rules.get(code)
        if rule is None or not rule.enabled:
            continue
        reasons.append(Reason(rule=code, points=rule.weight, detail=detail))
    # A definite hit is held whatever the weights: no rule setting can release it without a decision.
    definite = inp.sanctions_level == "CRITICAL"
    score = 100 if definite else min(100, sum(reason.points for reason in reasons))
    return RiskResult(score=score, level=level_for_score(score), reasons=tuple(reasons), definite_hit=definite)
