"""Roles (Django groups) and the one table of what each role may do.

Every API view and page names the capability it needs; a view that names none
is refused (fail closed).
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

ADMIN = "Admin"
OPERATOR = "Operator"
COMPLIANCE_OFFICER = "Compliance Officer"
AUDITOR = "Auditor"
VIEWER = "Viewer"
ROLES = (ADMIN, OPERATOR, COMPLIANCE_OFFICER, AUDITOR, VIEWER)

EVERYONE = frozenset(ROLES)

CAPABILITIES: dict[str, frozenset[str]] = {
    "payments.view": EVERYONE,
    "payments.export": EVERYONE,
    "payments.initiate": frozenset({ADMIN, OPERATOR}),
    # Parties' full account numbers and IBANs (encrypted at rest). Operators repair and trace payments, compliance
    # officers match parties; auditors and viewers see them masked (DE89 **** **** 3000) in the API, pages and CSV.
    "payments.view_accounts": frozenset({ADMIN, OPERATOR, COMPLIANCE_OFFICER}),
    "account.view": EVERYONE,
    "reference.view": EVERYONE,
    "compliance.view": frozenset({ADMIN, COMPLIANCE_OFFICER, AUDITOR}),
    "compliance.decide": frozenset({ADMIN, COMPLIANCE_OFFICER}),
    "liquidity.view": EVERYONE,
    "liquidity.operate": frozenset({ADMIN, OPERATOR}),
    "settlement.view": EVERYONE,
    "settlement.run": frozenset({ADMIN, OPERATOR}),
    # Operations: health details, Prometheus metrics, dead letters (see and retry).
    "operations.view": frozenset({ADMIN, OPERATOR}),
    "operations.retry": frozenset({ADMIN, OPERATOR}),
    # The audit log viewer, its CSV export and the chain verification.
    "audit.view": frozenset({ADMIN, AUDITOR}),
    # The suspicious-activity report (regulatory).
    "compliance.report": frozenset({ADMIN, COMPLIANCE_OFFICER, AUDITOR}),
}


def user_roles(user) -> frozenset[str]:
    """The user's roles, read once per request and kept on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_deltran_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            names.add(ADMIN)
        cached = frozenset(names & set(ROLES))
        user._deltran_roles = cached
    return cached


def user_can(user, capability: str) -> bool:
    return bool(user_roles(user) & CAPABILITIES[capability])


def primary_role(user) -> str | None:
    roles = user_roles(user)
    return next((role for role in ROLES if role in roles), None)


class HasRole(BasePermission):
    """DRF permission: the view's `capability` (or `capabilities[method]`) decides."""

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        per_method = getattr(view, "capabilities", None)
        capability = per_method.get(request.method) if per_method else getattr(view, "capability", None)
        if capability is None:
            return False
        if not request.user or not request.user.is_authenticated:
            return False
        return user_can(request.user, capability)


def capability_required(capability: str):
    """Page decorator: log in first, then the role must allow the capability (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_can(request.user, capability):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def roles_context(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "user_role": primary_role(user) if user is not None else None,
        "can": {name.replace(".", "_"): user_can(user, name) for name in CAPABILITIES} if user is not None else {},
    }
