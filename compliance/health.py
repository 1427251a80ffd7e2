"""The compliance part of /health: how old each active screening list is (informative: never a 503)."""

from django.conf import settings
from django.utils import timezone

from compliance.choices import ListKind
from compliance.models import ScreeningList
from deltran.health import OK, WARN, CheckResult


def check_screening_lists() -> CheckResult:
    """Each active list's current version and its age; `warn` when a sanctions list is older than allowed or empty."""
    now = timezone.now()
    max_age = settings.SANCTIONS_LIST_MAX_AGE_HOURS * 3600
    lists = {}
    stale = []
    for code, kind, version_id, imported_at, published, entries in ScreeningList.objects.filter(
        is_active=True
    ).values_list(
        "code",
        "kind",
        "current_version_id",
        "current_version__imported_at",
        "current_version__published",
        "current_version__entry_count",
    ):
        age = (now - imported_at).total_seconds() if imported_at else None
        is_stale = kind != ListKind.INTERNAL and (age is None or age > max_age)
        if is_stale:
            stale.append(code)
        lists[code] = {
            "kind": kind,
            "version": version_id,
            "imported_at": imported_at,
            "published": published,
            "entries": entries,
            "age_seconds": round(age) if age is not None else None,
            "stale": is_stale,
        }
    has_sanctions = any(item["kind"] == ListKind.SANCTIONS and item["version"] for item in lists.values())
    status = OK if has_sanctions and not stale else WARN
    return CheckResult(
        status,
        {
            "lists": lists,
            "stale": stale,
            "max_age_hours": settings.SANCTIONS_LIST_MAX_AGE_HOURS,
            "loaded": has_sanctions,
        },
    )
