"""Domain errors with stable codes, and the one error shape every 4xx uses:

{"code": "...", "message": "...", "fields": {...}}
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """Base of every business-rule error: a stable code, a readable message, optional field details."""

    code = "domain_error"
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class ValidationFailed(DomainError):
    code = "validation_error"


class Conflict(DomainError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _flatten(detail) -> dict | list:
    """DRF error details as {field: [{"code", "message"}, ...]}, nested for nested input."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [_issue(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [_issue(detail)]


def _issue(detail) -> dict:
    return {"code": getattr(detail, "code", None) or "invalid", "message": str(detail)}


def _first_message(value) -> str:
    while isinstance(value, (list, dict)) and value:
        if isinstance(value, dict) and "message" in value:
            return str(value["message"])
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
    return str(value)


def field_error(field: str, code: str, message: str) -> dict:
    return {field: [{"code": code, "message": message}]}


_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        message = "The request is not valid. " + " ".join(
            f"{name}: {_first_message(issues)}" for name, issues in fields.items()
        )
        response.data = error_body("validation_error", message, fields)
        return response
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
    code = code or getattr(exc, "default_code", "error")
    detail = exc.detail
    if isinstance(detail, dict):
        message = str(detail.get("detail") or _first_message(_flatten(detail)))
    elif isinstance(detail, list):
        message = _first_message(_flatten(detail))
    else:
        message = str(detail)
    response.data = error_body(code, message)
    return response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def json_or_page(status_code: int, code: str, message: str, page_handler):
    def handler(request, exception=None, **kwargs):
        if _wants_json(request):
            return JsonResponse(error_body(code, message), status=status_code)
        if exception is None:
            return page_handler(request, **kwargs)
        return page_handler(request, exception, **kwargs)

    return handler
