"""Compliance reads: the in-memory screening index (rebuilt when a list changes), rules, settings, the queue."""

import gc
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Max, Prefetch, QuerySet
from django.utils import timezone

from compliance.choices import OPEN_STATUSES, ListKind
from compliance.engines.risk import DEFAULT_RULES, RuleConfig
from compliance.engines.screening import IndexedName, ScreeningIndex, normalise
from compliance.models import (
    CaseDecision,
    ComplianceSettings,
    ListEntry,
    ListEntryName,
    ReviewCase,
    RiskRule,
    ScreeningList,
    ScreeningMatch,
    WatchlistEntry,
    WhitelistEntry,
)
from deltran.cache import reference_cache

INTERNAL_LIST_CODE = "internal"
RECENT_NAMES = 20_000


@dataclass(frozen=True)
class LoadedIndex:
    generation: tuple
    index: ScreeningIndex
    kinds: dict[str, str]  # list code → kind
    versions: dict[str, int]  # list code → version id
    # Names recur (the banks' own names on every payment, regular customers): their results are kept for this
    # index's lifetime, which ends when a list changes. Bounded; cleared whole when full.
    recent: dict = field(default_factory=dict, compare=False, repr=False)

    def screen(self, name: str) -> list:
        found = self.recent.get(name)
        if found is None:
            found = self.index.screen(name)
            if len(self.recent) >= RECENT_NAMES:
                self.recent.clear()
            self.recent[name] = found
        return found


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
            gc.unfreeze()  # the index being replaced, if any, may be collected again
            loaded = _build(generation)
            _state["index"] = loaded
            # The index's hundreds of thousands of objects live as long as the process (and so does what was
            # loaded before them): out of the cyclic collector's generations, so that a full collection during a
            # batch of payments does not walk them all. It took about a sixth of a batch's CPU.
            gc.freeze()
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


@reference_cache
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


@reference_cache
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


# --- The review pages ----------------------------------------------------------------------


def case_detail(case_id: int) -> ReviewCase:
    """A case with everything its page shows: the payment and its timeline, the matches, the decisions.

    Raises ReviewCase.DoesNotExist.
    """
    return (
        ReviewCase.objects.select_related("payment", "screening", "assigned_to", "escalated_by")
        .prefetch_related(
            Prefetch("screening__matches", queryset=ScreeningMatch.objects.order_by("-score", "id")),
            Prefetch("decisions", queryset=CaseDecision.objects.select_related("officer").order_by("decided_at", "id")),
            "payment__timeline",
        )
        .get(pk=case_id)
    )


def screening_list_choices() -> list[tuple[str, str]]:
    """(code, name) of every list a case can name, the internal watch list included, for the queue's filter."""
    found = list(ScreeningList.objects.order_by("code").values_list("code", "name"))
    if not any(code == INTERNAL_LIST_CODE for code, _ in found):
        found.append((INTERNAL_LIST_CODE, "Internal watch list"))
    return found


@dataclass(frozen=True)
class ListedEntry:
    """The list entry a match points at, as the list holds it now (the match itself is a snapshot)."""

    list_code: str
    list_name: str
    source_id: str
    entry_type: str
    primary_name: str
    names: list[tuple[str, str]]  # (name, kind), the primary name first
    programs: list[str]
    countries: list[str]
    birth_dates: list[str]
    remarks: str
    version_label: str


def match_list_entries(matches: list[ScreeningMatch]) -> dict[int, ListedEntry]:
    """match id → the entry in its list's current version (or the internal watch list), where it still exists.

    A match whose entry left the list (a newer version dropped it, the watch-list row was deleted or switched
    off) is not in the result. Four queries whatever the number of matches.
    """
    if not matches:
        return {}
    codes = {m.list_code for m in matches if m.list_code != INTERNAL_LIST_CODE}
    lists = {
        sl.code: sl
        for sl in ScreeningList.objects.filter(code__in=codes, current_version__isnull=False).select_related(
            "current_version"
        )
    }
    wanted = {(lists[m.list_code].current_version_id, m.entry_source_id) for m in matches if m.list_code in lists}
    by_key: dict[tuple[int, str], ListEntry] = {}
    if wanted:
        rows = (
            ListEntry.objects.filter(
                version_id__in={version for version, _ in wanted},
                source_id__in={source for _, source in wanted},
            )
            .prefetch_related(Prefetch("names", queryset=ListEntryName.objects.order_by("id")))
            .order_by("id")
        )
        by_key = {(row.version_id, row.source_id): row for row in rows if (row.version_id, row.source_id) in wanted}
    watch_ids = {
        int(m.entry_source_id) for m in matches if m.list_code == INTERNAL_LIST_CODE and m.entry_source_id.isdigit()
    }
    watch = {str(w.pk): w for w in WatchlistEntry.objects.filter(pk__in=watch_ids, is_active=True)} if watch_ids else {}

    found: dict[int, ListedEntry] = {}
    for match in matches:
        if match.list_code == INTERNAL_LIST_CODE:
            entry = watch.get(match.entry_source_id)
            if entry is not None:
                found[match.pk] = ListedEntry(
                    list_code=INTERNAL_LIST_CODE,
                    list_name="Internal watch list",
                    source_id=str(entry.pk),
                    entry_type=entry.entry_type,
                    primary_name=entry.name,
                    names=[(name, "primary" if i == 0 else "aka") for i, name in enumerate(entry.all_names())],
                    programs=[],
                    countries=[],
                    birth_dates=[],
                    remarks=entry.reason,
                    version_label=f"edited {entry.updated_at:%Y-%m-%d %H:%M} UTC",
                )
            continue
        screening_list = lists.get(match.list_code)
        row = by_key.get((screening_list.current_version_id, match.entry_source_id)) if screening_list else None
        if row is None:
            continue
        version = screening_list.current_version
        found[match.pk] = ListedEntry(
            list_code=screening_list.code,
            list_name=screening_list.name,
            source_id=row.source_id,
            entry_type=row.entry_type,
            primary_name=row.primary_name,
            names=[(n.name, n.kind) for n in row.names.all()],
            programs=list(row.programs or []),
            countries=list(row.countries or []),
            birth_dates=list(row.birth_dates or []),
            remarks=row.remarks,
            version_label=(
                f"published {version.published}" if version.published else f"imported {version.imported_at:%Y-%m-%d}"
            ),
        )
    return found


def match_whitelist_entries(matches: list[ScreeningMatch]) -> dict[int, WhitelistEntry]:
    """match id → the active whitelist entry that now marks that (party, list entry) pair as a false positive."""
    by_name = {m.pk: normalise(m.party_name) for m in matches}
    if not by_name:
        return {}
    entries = {
        (w.party_normalised, w.list_code, w.entry_source_id): w
        for w in WhitelistEntry.objects.filter(
            is_active=True, party_normalised__in=set(by_name.values())
        ).select_related("created_by")
    }
    found = {}
    for match in matches:
        entry = entries.get((by_name[match.pk], match.list_code, match.entry_source_id))
        if entry is not None:
            found[match.pk] = entry
    return found
