"""Compliance reads: the in-memory screening index (rebuilt when a list changes), rules, settings, the queue."""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from compliance.choices import OPEN_STATUSES, ListKind
from compliance.engines.risk import DEFAULT_RULES, RuleConfig
from compliance.engines.screening import IndexedName, ScreeningIndex, normalise
from compliance.models import (
    ComplianceSettings,
    ListEntryName,
    ReviewCase,
    RiskRule,
    ScreeningList,
    WatchlistEntry,
    WhitelistEntry,
)

INTERNAL_LIST_CODE = "internal"


@dataclass(frozen=True)
class LoadedIndex:
    generation: tuple
    index: ScreeningIndex
    kinds: dict[str, str]  # list code → kind
    versions: dict[str, int]  # list code → version id


_lock = threading.Lock()
_state: dict[str, object] = {}


def _generation() -> tuple:
    lists = tuple(
        ScreeningList.objects.filter(is_active=True).order_by("code").values_list("code", "current_version_id", "kind")
    )
    watch = WatchlistEntry.objects.aggregate(latest=Max("updated_at"), count=Count("id"))
    return lists, watch["latest"], watch["count"]


def _build(generation: tuple) -> LoadedIndex:
    lists, _, _ = generation
    kinds = {code: kind for code, _, kind in lists}
    versions = {code: version for code, version, _ in lists if version}
    by_version = {version: code for code, version in versions.items()}
    names = [
        IndexedName(list_code=by_version[version], entry_id=source_id, name=name, kind=kind, entry_type=entry_type)
        for version, source_id, entry_type, name, kind in ListEntryName.objects.filter(
            entry__version_id__in=list(by_version)
        )
        .values_list("entry__version_id", "entry__source_id", "entry__entry_type", "name", "kind")
        .iterator(chunk_size=5000)
    ]
    for entry in WatchlistEntry.objects.filter(is_active=True):
        for i, name in enumerate(entry.all_names()):
            names.append(
                IndexedName(
                    list_code=INTERNAL_LIST_CODE,
                    entry_id=str(entry.pk),
                    name=name,
                    kind="primary" if i == 0 else "aka",
                    entry_type=entry.entry_type,
                )
            )
    kinds[INTERNAL_LIST_CODE] = ListKind.INTERNAL
    return LoadedIndex(generation=generation, index=ScreeningIndex(names), kinds=kinds, versions=versions)


def screening_index() -> LoadedIndex:
    """This process's index; every SCREENING_INDEX_CHECK_SECONDS it checks whether a list changed and rebuilds."""
    check_every = getattr(settings, "SCREENING_INDEX_CHECK_SECONDS", 5)
    now = time.monotonic()
    loaded: LoadedIndex | None = _state.get("index")  # type: ignore[assignment]
    if loaded is not None and now - _state.get("checked", 0) < check_every:
        return loaded
    with _lock:
        generation = _generation()
        loaded = _state.get("index")  # type: ignore[assignment]
        if loaded is None or loaded.generation != generation:
            loaded = _build(generation)
            _state["index"] = loaded
        _state["checked"] = now
    return loaded


def screening_index_clear() -> None:
    with _lock:
        _state.clear()


def whitelisted_pairs(party_names: list[str]) -> set[tuple[str, str, str]]:
    normalised = [normalise(name) for name in party_names if name]
    if not normalised:
        return set()
    return set(
        WhitelistEntry.objects.filter(is_active=True, party_normalised__in=normalised).values_list(
            "party_normalised", "list_code", "entry_source_id"
        )
    )


def risk_rules() -> dict[str, RuleConfig]:
    """The rules as the admin set them; a rule not in the table yet has its default."""
    rules = {rule.code: rule for rule in DEFAULT_RULES}
    for row in RiskRule.objects.all():
        rules[row.code] = RuleConfig(
            code=row.code,
            weight=row.weight,
            enabled=row.is_enabled,
            params=row.params or rules.get(row.code, RuleConfig(row.code, 0)).params,
        )
    return rules


def compliance_settings() -> ComplianceSettings:
    found = ComplianceSettings.objects.order_by("pk").first()
    return found or ComplianceSettings()


def case_queue() -> QuerySet[ReviewCase]:
    return ReviewCase.objects.select_related("payment", "assigned_to", "screening").order_by(
        "-definite_hit", "-priority", "opened_at"
    )


def open_cases() -> QuerySet[ReviewCase]:
    return case_queue().filter(status__in=OPEN_STATUSES)


def overdue_count() -> int:
    return open_cases().filter(sla_due_at__lt=timezone.now()).count()
