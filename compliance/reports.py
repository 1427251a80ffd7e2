"""The suspicious-activity report: every payment held for compliance review in a date range, with what made it
suspicious (risk reasons, list matches), where it stands (held, escalated, approved or rejected) and who decided
what and why. One row per review case; the same rows feed the JSON API and the streamed CSV."""

from collections.abc import Iterable, Iterator

from django.db.models import Prefetch, QuerySet

from compliance.models import CaseDecision, ReviewCase, ScreeningMatch

SUSPICIOUS_ACTIVITY_HEADER = [
    "Case",
    "Opened At",
    "Case Status",
    "Outcome",
    "Payment ID",
    "Payment Reference",
    "End To End ID",
    "Payment Status",
    "Payment Created At",
    "Sender BIC",
    "Receiver BIC",
    "Amount",
    "Currency",
    "Amount USD",
    "Debtor",
    "Creditor",
    "Risk Score",
    "Risk Level",
    "Definite Hit",
    "Lists",
    "Risk Reasons",
    "Matches",
    "Decisions",
    "Decided At",
]

# What the case status means for the payment, in the report's words.
OUTCOMES = {
    "open": "held",
    "escalated": "escalated (held for a second officer)",
    "approved": "released after review",
    "rejected": "rejected",
}


def suspicious_activity_cases() -> QuerySet[ReviewCase]:
    """Cases oldest first with everything a row needs, fetched per chunk (no query per row)."""
    return (
        ReviewCase.objects.select_related("payment", "screening")
        .prefetch_related(
            Prefetch(
                "screening__matches", queryset=ScreeningMatch.objects.filter(whitelisted=False).order_by("-score")
            ),
            Prefetch("decisions", queryset=CaseDecision.objects.select_related("officer").order_by("decided_at", "id")),
        )
        .order_by("opened_at", "id")
    )


def _reasons(case: ReviewCase) -> list[dict]:
    return [
        {"rule": item.get("rule", ""), "points": item.get("points"), "detail": item.get("detail", "")}
        for item in (case.screening.reasons or [])
    ]


def _matches(case: ReviewCase) -> list[dict]:
    return [
        {
            "party": match.party,
            "party_name": match.party_name,
            "list": match.list_code,
            "entry": match.entry_source_id,
            "listed_name": match.entry_primary_name,
            "matched_name": match.matched_name,
            "level": match.level,
            "score": match.score,
            "reason": match.reason,
        }
        for match in case.screening.matches.all()
    ]


def _decisions(case: ReviewCase) -> list[dict]:
    return [
        {
            "decision": decision.decision,
            "officer": decision.officer.get_username(),
            "reason": decision.reason,
            "decided_at": decision.decided_at,
        }
        for decision in case.decisions.all()
    ]


def suspicious_activity_item(case: ReviewCase) -> dict:
    payment = case.payment
    return {
        "case_id": case.pk,
        "opened_at": case.opened_at,
        "case_status": case.status,
        "outcome": OUTCOMES.get(case.status, case.status),
        "payment_id": str(payment.pk),
        "payment_reference": payment.payment_reference,
        "end_to_end_id": payment.end_to_end_id,
        "payment_status": payment.status,
        "payment_status_reason": payment.status_reason,
        "payment_created_at": payment.created_at,
        "sender_bic": case.sender_bic,
        "receiver_bic": case.receiver_bic,
        "amount": format(payment.amount.normalize(), "f"),
        "currency": payment.currency_id,
        "amount_usd": format(case.amount_usd, "f"),
        "debtor_name": payment.debtor_name,
        "creditor_name": payment.creditor_name,
        "risk_score": case.screening.risk_score,
        "risk_level": case.risk_level,
        "definite_hit": case.definite_hit,
        "lists": list(case.lists or []),
        "risk_reasons": _reasons(case),
        "matches": _matches(case),
        "decisions": _decisions(case),
        "decided_at": case.decided_at,
    }


def suspicious_activity_items(cases: Iterable[ReviewCase]) -> list[dict]:
    return [suspicious_activity_item(case) for case in cases]


def suspicious_activity_csv_rows(queryset: QuerySet[ReviewCase]) -> Iterator[list]:
    for case in queryset.iterator(chunk_size=500):
        item = suspicious_activity_item(case)
        yield [
            item["case_id"],
            item["opened_at"],
            item["case_status"],
            item["outcome"],
            item["payment_id"],
            item["payment_reference"],
            item["end_to_end_id"],
            item["payment_status"],
            item["payment_created_at"],
            item["sender_bic"],
            item["receiver_bic"],
            item["amount"],
            item["currency"],
            item["amount_usd"],
            item["debtor_name"],
            item["creditor_name"],
            item["risk_score"],
            item["risk_level"],
            "yes" if item["definite_hit"] else "no",
            " ".join(item["lists"]),
            "; ".join(f"{r['rule']} (+{r['points']}): {r['detail']}" for r in item["risk_reasons"]),
            "; ".join(
                f"{m['party']} {m['party_name']} ~ {m['listed_name']} [{m['list']} {m['entry']}] "
                f"{m['level']} {m['score']}"
                for m in item["matches"]
            ),
            "; ".join(
                f"{d['decision']} by {d['officer']} at {d['decided_at'].isoformat()}: {d['reason']}"
                for d in item["decisions"]
            ),
            item["decided_at"],
        ]
