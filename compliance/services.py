"""Compliance writes: list imports, screening records, review cases, decisions and the false-positive whitelist."""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from compliance.choices import CASE_TRANSITIONS, LEVEL_ORDER, CaseStatus, Decision, ListKind, MatchLevel
from compliance.engines.lists import ListFormatError, ParsedList, parse_list
from compliance.engines.risk import RiskInput, RiskResult, risk_score
from compliance.engines.screening import Match, normalise
from compliance.models import (
    CaseDecision,
    ListEntry,
    ListEntryName,
    ListVersion,
    ReviewCase,
    ScreeningCheck,
    ScreeningList,
    ScreeningMatch,
    WhitelistEntry,
)
from compliance.selectors import compliance_settings, risk_rules, screening_index, whitelisted_pairs
from compliance.signals import case_decided
from deltran.audit import audit_record
from deltran.bulk import instance_build, objects_insert
from deltran.errors import Conflict, DomainError, ValidationFailed
from deltran.events import event_record, event_record_many
from deltran.roles import ADMIN, COMPLIANCE_OFFICER, user_roles

# Known lists: the source format each is read from, its code, name and kind.
SOURCES: dict[str, tuple[str, str, str]] = {
    "ofac_csv": ("ofac_sdn", "OFAC Specially Designated Nationals", ListKind.SANCTIONS),
    "ofac_xml": ("ofac_sdn", "OFAC Specially Designated Nationals", ListKind.SANCTIONS),
    "eu_xml": ("eu_fsf", "EU consolidated financial sanctions", ListKind.SANCTIONS),
    "un_xml": ("un_sc", "UN Security Council consolidated list", ListKind.SANCTIONS),
    "uk_csv": ("uk_hmt", "UK HM Treasury consolidated list", ListKind.SANCTIONS),
    "pep_csv": ("pep", "Politically exposed persons", ListKind.PEP),
}
PARTIES = ("debtor", "creditor", "sender_bank", "receiver_bank")


class ListImportRefused(DomainError):
    code = "list_refused"


class CaseDecisionRefused(Conflict):
    code = "decision_refused"


# --- Lists --------------------------------------------------------------------------


def _file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def list_import(
    *, source_format: str, paths: list[Path], actor=None, list_code: str | None = None, list_name: str | None = None
) -> ListVersion:
    """Parse a list's files and make them its current version in one transaction; a broken file changes nothing."""
    if source_format not in SOURCES:
        raise ValidationFailed(
            f"Unknown list format {source_format!r}; known: {', '.join(sorted(SOURCES))}.", code="unknown_format"
        )
    default_code, default_name, kind = SOURCES[source_format]
    code = list_code or default_code
    try:
        parsed: ParsedList = parse_list(source_format, [Path(p) for p in paths])
    except ListFormatError as exc:
        raise ListImportRefused(f"The list file was refused: {exc}") from exc
    except OSError as exc:
        raise ListImportRefused(f"The list file could not be read: {exc}") from exc
    digest = _file_digest([Path(p) for p in paths])
    now = timezone.now()
    actor_label = actor.get_username() if getattr(actor, "is_authenticated", False) else "system"
    with transaction.atomic():
        screening_list, _ = ScreeningList.objects.select_for_update().get_or_create(
            code=code, defaults={"name": list_name or default_name, "kind": kind}
        )
        previous = screening_list.current_version
        version = ListVersion.objects.create(
            screening_list=screening_list,
            source_format=source_format,
            file_names=[Path(p).name for p in paths],
            file_sha256=digest,
            published=parsed.published or "",
            declared_count=parsed.declared_count,
            entry_count=len(parsed.entries),
            name_count=sum(len(entry.names) for entry in parsed.entries),
            imported_at=now,
            imported_by=actor_label,
        )
        entries = ListEntry.objects.bulk_create(
            [
                ListEntry(
                    version=version,
                    source_id=entry.source_id[:64],
                    entry_type=entry.entry_type,
                    primary_name=entry.names[0].name[:512],
                    programs=list(entry.programs),
                    countries=list(entry.countries),
                    birth_dates=list(entry.birth_dates),
                    remarks=entry.remarks,
                )
                for entry in parsed.entries
            ],
            batch_size=2000,
        )
        ListEntryName.objects.bulk_create(
            [
                ListEntryName(entry=row, name=name.name[:512], kind=name.kind, script=name.script)
                for row, entry in zip(entries, parsed.entries, strict=True)
                for name in entry.names
            ],
            batch_size=5000,
        )
        screening_list.current_version = version
        screening_list.save(update_fields=["current_version"])
        if previous is not None:
            # Old versions keep their record (file, hash, counts); their entries go. Matches keep snapshots.
            ListEntry.objects.filter(version__screening_list=screening_list).exclude(version=version).delete()
        audit_record(
            actor=actor,
            action="compliance.list_import",
            object_type="screening_list",
            object_id=code,
            payload={
                "version": version.pk,
                "format": source_format,
                "files": version.file_names,
                "sha256": digest,
                "published": version.published,
                "entries": version.entry_count,
                "names": version.name_count,
                "replaced_version": previous.pk if previous else None,
            },
        )
    return version


# --- Screening --------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyMatch:
    party: str
    party_name: str
    match: Match
    list_kind: str
    whitelisted: bool


@dataclass
class ScreeningOutcome:
    matches: list[PartyMatch] = field(default_factory=list)
    list_versions: dict[str, int] = field(default_factory=dict)
    duration_ms: Decimal = Decimal(0)

    def best(self, kind: str) -> PartyMatch | None:
        found = [m for m in self.matches if m.list_kind == kind and not m.whitelisted]
        return max(found, key=lambda m: (LEVEL_ORDER[m.match.level], m.match.score), default=None)


def screening_evaluate(*, parties: list[tuple[str, str]]) -> ScreeningOutcome:
    """Screen (party, name) pairs against every active list; whitelisted pairs are kept but flagged."""
    started = time.perf_counter()
    loaded = screening_index()
    found: list[PartyMatch] = []
    for party, name in parties:
        if not name:
            continue
        for match in loaded.screen(name):
            found.append(
                PartyMatch(
                    party=party,
                    party_name=name,
                    match=match,
                    list_kind=loaded.kinds.get(match.list_code, ListKind.SANCTIONS),
                    whitelisted=False,
                )
            )
    if found:
        allowed = whitelisted_pairs([pm.party_name for pm in found])
        if allowed:
            found = [
                PartyMatch(
                    party=pm.party,
                    party_name=pm.party_name,
                    match=pm.match,
                    list_kind=pm.list_kind,
                    whitelisted=(normalise(pm.party_name), pm.match.list_code, pm.match.entry_id) in allowed,
                )
                for pm in found
            ]
    elapsed = Decimal(str(round((time.perf_counter() - started) * 1000, 3)))
    return ScreeningOutcome(matches=found, list_versions=dict(loaded.versions), duration_ms=elapsed)


def _detail(best: PartyMatch | None) -> str:
    if best is None:
        return ""
    return f"{best.party.replace('_', ' ').capitalize()} '{best.party_name}': {best.match.reason}"


def risk_evaluate(*, outcome: ScreeningOutcome, context: dict) -> RiskResult:
    """The risk score of a screened payment; `context` carries amounts, banks' ratings and countries, velocity."""
    sanctions = outcome.best(ListKind.SANCTIONS)
    pep = outcome.best(ListKind.PEP)
    internal = outcome.best(ListKind.INTERNAL)
    inputs = RiskInput(
        sanctions_level=sanctions.match.level if sanctions else "NONE",
        sanctions_detail=_detail(sanctions),
        pep_level=pep.match.level if pep else "NONE",
        pep_detail=_detail(pep),
        internal_level=internal.match.level if internal else "NONE",
        internal_detail=_detail(internal),
        **context,
    )
    return risk_score(inputs, risk_rules())


def review_needed(risk: RiskResult) -> bool:
    return risk.definite_hit or risk.score >= compliance_settings().review_threshold


@dataclass(frozen=True)
class ScreeningRecord:
    payment_id: object
    outcome: ScreeningOutcome
    risk: RiskResult
    amount_usd: Decimal
    sender_bic: str
    receiver_bic: str
    payment_reference: str


def screening_record_many(*, records: list[ScreeningRecord], now) -> list[ScreeningCheck]:
    """Store checks and matches, and open a case for each payment that needs review (caller's transaction).

    Returns the checks in the order of the records.
    """
    if not records:
        return []
    sla = timedelta(hours=compliance_settings().sla_hours)
    checks = [
        instance_build(
            ScreeningCheck,
            {
                "payment_id": r.payment_id,
                "risk_score": r.risk.score,
                "risk_level": r.risk.level,
                "reasons": [{"rule": x.rule, "points": x.points, "detail": x.detail} for x in r.risk.reasons],
                "requires_review": review_needed(r.risk),
                "definite_hit": r.risk.definite_hit,
                "list_versions": r.outcome.list_versions,
                "screened_at": now,
                "duration_ms": r.outcome.duration_ms,
            },
        )
        for r in records
    ]
    objects_insert(checks)  # sets their ids: matches and cases refer to them
    matches = [
        ScreeningMatch(
            screening=check,
            party=pm.party,
            party_name=pm.party_name[:256],
            list_code=pm.match.list_code,
            list_kind=pm.list_kind,
            entry_source_id=pm.match.entry_id[:64],
            entry_type=pm.match.entry_type,
            entry_primary_name=pm.match.matched_name[:512],
            matched_name=pm.match.matched_name[:512],
            matched_kind=pm.match.kind,
            algorithm=pm.match.algorithm,
            score=pm.match.score,
            distance=pm.match.distance,
            level=pm.match.level,
            reason=pm.match.reason[:512],
            whitelisted=pm.whitelisted,
        )
        for check, r in zip(checks, records, strict=True)
        for pm in r.outcome.matches
    ]
    if matches:
        ScreeningMatch.objects.bulk_create(matches)
    cases = [
        ReviewCase(
            payment_id=r.payment_id,
            screening=check,
            priority=r.risk.score,
            risk_level=r.risk.level if r.risk.level != MatchLevel.NONE else MatchLevel.LOW,
            definite_hit=r.risk.definite_hit,
            lists=sorted({pm.match.list_code for pm in r.outcome.matches if not pm.whitelisted}),
            sender_bic=r.sender_bic,
            receiver_bic=r.receiver_bic,
            amount_usd=r.amount_usd,
            opened_at=now,
            sla_due_at=now + sla,
        )
        for check, r in zip(checks, records, strict=True)
        if check.requires_review
    ]
    if cases:
        ReviewCase.objects.bulk_create(cases)
        event_record_many(
            events=[
                (
                    "compliance",
                    "compliance.compliance_alert",
                    {
                        "payment_id": str(case.payment_id),
                        "risk_score": case.priority,
                        "risk_level": case.risk_level,
                        "definite_hit": case.definite_hit,
                        "lists": case.lists,
                        "sla_due_at": case.sla_due_at,
                    },
                )
                for case in cases
            ]
        )
    return checks


# --- Review cases --------------------------------------------------------------------------


def _require_officer(officer) -> None:
    if not user_roles(officer) & {COMPLIANCE_OFFICER, ADMIN}:
        raise CaseDecisionRefused("Only a compliance officer may work on review cases.", code="permission_denied")


def case_assign(*, case_id: int, officer) -> ReviewCase:
    _require_officer(officer)
    with transaction.atomic():
        case = ReviewCase.objects.select_for_update().get(pk=case_id)
        if case.status not in (CaseStatus.OPEN, CaseStatus.ESCALATED):
            raise CaseDecisionRefused(f"Case {case.pk} is already {case.status}.")
        case.assigned_to = officer
        case.save(update_fields=["assigned_to"])
        audit_record(
            actor=officer,
            action="compliance.case_assign",
            object_type="review_case",
            object_id=case.pk,
            payload={"payment": str(case.payment_id)},
        )
    return case


def case_take_next(*, officer) -> ReviewCase | None:
    """Assign the officer the most urgent unassigned open case they may decide (not one they escalated)."""
    _require_officer(officer)
    with transaction.atomic():
        candidates = (
            ReviewCase.objects.select_for_update(skip_locked=True)
            .filter(status__in=(CaseStatus.OPEN, CaseStatus.ESCALATED), assigned_to__isnull=True)
            .exclude(escalated_by=officer)
            .order_by("-definite_hit", "-priority", "opened_at")
        )
        case = candidates.first()
        if case is None:
            return None
        case.assigned_to = officer
        case.save(update_fields=["assigned_to"])
        audit_record(
            actor=officer,
            action="compliance.case_assign",
            object_type="review_case",
            object_id=case.pk,
            payload={"payment": str(case.payment_id), "take_next": True},
        )
    return case


def case_decide(*, case_id: int, officer, decision: str, reason: str) -> ReviewCase:
    """Approve, reject or escalate a case, with a reason; an escalated case needs a second, different officer."""
    _require_officer(officer)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "A decision needs a reason.",
            fields={"reason": [{"code": "required", "message": "Give the reason for the decision."}]},
        )
    if decision not in Decision.values:
        raise ValidationFailed(
            f"Unknown decision {decision!r}.",
            fields={"decision": [{"code": "invalid_choice", "message": "approve, reject or escalate"}]},
        )
    now = timezone.now()
    with transaction.atomic():
        case = ReviewCase.objects.select_for_update().get(pk=case_id)
        allowed = CASE_TRANSITIONS.get(case.status, {})
        if decision not in allowed:
            raise CaseDecisionRefused(f"Case {case.pk} is {case.status}; it cannot be decided '{decision}' now.")
        if case.status == CaseStatus.ESCALATED and case.escalated_by_id == officer.pk:
            raise CaseDecisionRefused(
                "Four eyes: an escalated case must be decided by another officer than the one who escalated it.",
                code="four_eyes",
            )
        new_status = allowed[decision]
        CaseDecision.objects.create(case=case, decision=decision, officer=officer, reason=reason, decided_at=now)
        case.status = new_status
        if decision == Decision.ESCALATE:
            case.escalated_by = officer
            case.assigned_to = None
        else:
            case.decided_at = now
        case.save(update_fields=["status", "escalated_by", "assigned_to", "decided_at"])
        audit_record(
            actor=officer,
            action=f"compliance.case_{decision}",
            object_type="review_case",
            object_id=case.pk,
            payload={"payment": str(case.payment_id), "reason": reason, "status": new_status},
        )
        event_record(
            topic="compliance",
            event_type="compliance.case_decided",
            payload={
                "case": case.pk,
                "payment_id": str(case.payment_id),
                "decision": decision,
                "status": new_status,
                "officer": officer.get_username(),
            },
        )
        if decision != Decision.ESCALATE:
            # The payment continues (approved) or ends (rejected) in this same transaction.
            case_decided.send(sender=ReviewCase, case=case, decision=decision, officer=officer, reason=reason)
    return case


@dataclass(frozen=True)
class BulkOutcome:
    decided: list[int]
    refused: dict[int, str]


def cases_decide_bulk(*, case_ids: list[int], officer, decision: str, reason: str) -> BulkOutcome:
    """Approve or reject several cases with one reason; each is its own transaction, refusals are reported."""
    if decision not in (Decision.APPROVE, Decision.REJECT):
        raise ValidationFailed("Bulk decisions are approve or reject.", code="invalid_bulk_decision")
    decided: list[int] = []
    refused: dict[int, str] = {}
    for case_id in sorted(set(case_ids)):
        try:
            case_decide(case_id=case_id, officer=officer, decision=decision, reason=reason)
            decided.append(case_id)
        except ReviewCase.DoesNotExist:
            refused[case_id] = "No such case."
        except DomainError as exc:
            refused[case_id] = exc.message
    return BulkOutcome(decided=decided, refused=refused)


def whitelist_add(*, match_id: int, officer, reason: str) -> WhitelistEntry:
    """Record a (party, list entry) pair as a false positive, so it stops raising cases."""
    _require_officer(officer)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Whitelisting needs a reason.",
            fields={"reason": [{"code": "required", "message": "Say why this is a false positive."}]},
        )
    match = ScreeningMatch.objects.get(pk=match_id)
    party_normalised = normalise(match.party_name)
    with transaction.atomic():
        existing = WhitelistEntry.objects.filter(
            party_normalised=party_normalised,
            list_code=match.list_code,
            entry_source_id=match.entry_source_id,
            is_active=True,
        ).first()
        if existing is not None:
            return existing
        entry = WhitelistEntry.objects.create(
            party_normalised=party_normalised,
            party_name=match.party_name,
            list_code=match.list_code,
            entry_source_id=match.entry_source_id,
            reason=reason,
            created_by=officer,
            created_at=timezone.now(),
        )
        audit_record(
            actor=officer,
            action="compliance.whitelist_add",
            object_type="whitelist_entry",
            object_id=entry.pk,
            payload={
                "party": match.party_name,
                "list": match.list_code,
                "entry": match.entry_source_id,
                "reason": reason,
            },
        )
    return entry
