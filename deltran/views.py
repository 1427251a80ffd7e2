"""Platform pages and probes: /health (+ live, ready), /metrics, the audit log viewer and the dead letters."""

import hmac

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_prometheus.exports import ExportToDjangoView

from deltran.deadletters import dead_letter_resolve, dead_letter_retry
from deltran.errors import DomainError
from deltran.export import streaming_csv_response
from deltran.filters import AuditEntryFilter, DeadLetterFilter
from deltran.health import health_report, migrations_pending
from deltran.models import AuditEntry, DeadLetter
from deltran.roles import capability_required, user_can
from deltran.selectors import (
    AUDIT_EXPORT_HEADER,
    audit_chain_verification,
    audit_entries,
    audit_export_rows,
    dead_letters,
)

AUDIT_PAGE_SIZE = 50
DEAD_LETTER_PAGE_SIZE = 50


def _has_metrics_token(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


def _may_see_operations(request) -> bool:
    return _has_metrics_token(request) or user_can(request.user, "operations.view")


# --- Probes ----------------------------------------------------------------------------------


@never_cache
@require_GET
def health(request):
    """Every check; 503 when a required one is down. Details (errors, task runs) for operators or the token."""
    healthy, body = health_report(full=True)
    if not _may_see_operations(request):
        body["checks"] = {
            name: {"status": check["status"], "required": check["required"]} for name, check in body["checks"].items()
        }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def health_live(request):
    """The process answers; nothing else is asked."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health_ready(request):
    """Can serve: the required parts answer and the database has every migration of this code."""
    healthy, body = health_report(full=False)
    pending = healthy and migrations_pending()
    ready = healthy and not pending
    failing = [name for name, check in body["checks"].items() if check["status"] == "down"]
    answer = {"status": "ready" if ready else "not_ready", "failing": failing, "migrations_pending": pending}
    return JsonResponse(answer, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request):
    """Prometheus text format. Scrapers send `Authorization: Bearer $METRICS_TOKEN`; an Admin or Operator may look."""
    if not _may_see_operations(request):
        return JsonResponse(
            {"code": "permission_denied", "message": "Metrics need the metrics token or an operator.", "fields": {}},
            status=403 if request.user.is_authenticated else 401,
        )
    return ExportToDjangoView(request)


# --- Audit log ---------------------------------------------------------------------------------


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@capability_required("audit.view")
@require_GET
def audit_log_page(request):
    filterset = AuditEntryFilter(request.GET, queryset=audit_entries())
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else AuditEntry.objects.none()
    page = Paginator(queryset, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "deltran/audit_log.html",
        {
            "filterset": filterset,
            "filter_valid": valid,
            "page": page,
            "query": _query_without_page(request),
            "verification": audit_chain_verification(run=False),
        },
    )


@capability_required("audit.view")
@require_POST
def audit_verify_page(request):
    found = audit_chain_verification(run=True, by=request.user.get_username())
    if found["ok"]:
        messages.success(request, f"The audit chain holds: {found['checked']} entries checked.")
    else:
        messages.error(request, f"The audit chain is broken at entry {found['first_broken_id']}: {found['reason']}.")
    # Back to the list as it was filtered.
    query = request.GET.urlencode()
    return redirect(reverse("audit-log") + (f"?{query}" if query else ""))


@capability_required("audit.view")
@require_GET
def audit_export(request):
    filterset = AuditEntryFilter(request.GET, queryset=audit_entries().order_by("id"))
    if not filterset.is_valid():
        return HttpResponse("That filter is not valid.", status=400, content_type="text/plain")
    return streaming_csv_response(
        filename="audit-log.csv", header=AUDIT_EXPORT_HEADER, rows=audit_export_rows(filterset.qs)
    )


# --- Dead letters ---------------------------------------------------------------------------------


@capability_required("operations.view")
@require_GET
def dead_letters_page(request):
    filterset = DeadLetterFilter(request.GET, queryset=dead_letters())
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else DeadLetter.objects.none()
    page = Paginator(queryset, DEAD_LETTER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "deltran/dead_letters.html",
        {
            "page": page,
            "filter_valid": valid,
            "status": request.GET.get("status", "") if valid else "",
            "statuses": DeadLetter.Status.choices,
            "query": _query_without_page(request),
            "can_retry": user_can(request.user, "operations.retry"),
        },
    )


@capability_required("operations.view")
@require_GET
def dead_letter_page(request, dead_letter_id: int):
    letter = DeadLetter.objects.filter(pk=dead_letter_id).first()
    if letter is None:
        raise Http404
    return render(
        request,
        "deltran/dead_letter.html",
        {"letter": letter, "can_retry": user_can(request.user, "operations.retry")},
    )


@capability_required("operations.retry")
@require_POST
def dead_letter_retry_page(request, dead_letter_id: int):
    try:
        letter = dead_letter_retry(dead_letter_id=dead_letter_id, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Task {letter.task_name} was sent to the workers again.")
    return redirect("dead-letter", dead_letter_id=dead_letter_id)


@capability_required("operations.retry")
@require_POST
def dead_letter_resolve_page(request, dead_letter_id: int):
    if dead_letter_resolve(dead_letter_id=dead_letter_id, actor=request.user, how="closed by an operator"):
        messages.success(request, "The dead letter is marked resolved.")
    else:
        messages.error(request, "That dead letter is already resolved or does not exist.")
    return redirect("dead-letter", dead_letter_id=dead_letter_id)
