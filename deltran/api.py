"""Shared API pieces: an exact-decimal JSON parser with a body limit, and page/limit pagination."""

import json
from datetime import UTC, datetime, time
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    # The foundation issue asks for 400 for every kind of bad input, oversized bodies included.
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class DecimalJSONParser(JSONParser):
    """JSON whose numbers become Decimal (never float), refused above API_MAX_BODY_BYTES."""

    max_body_bytes_attr = "max_body_bytes"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        view = parser_context.get("view")
        limit = getattr(view, self.max_body_bytes_attr, None) or settings.API_MAX_BODY_BYTES
        if stream is None:
            raise exceptions.ParseError("The request body is empty.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            # "[[[[...]]]]" within the size limit would otherwise be a 500.
            raise exceptions.ParseError("The request body is not valid JSON: it is nested too deeply.") from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


class PageParams:
    """`page` (from 1) and `limit` (default 50, at most 500) from a query string."""

    DEFAULT_LIMIT = 50
    MAX_LIMIT = 500

    def __init__(self, query):
        errors = {}
        self.page = self._positive_int(query.get("page"), 1, "page", errors)
        self.limit = self._positive_int(query.get("limit"), self.DEFAULT_LIMIT, "limit", errors)
        if "limit" not in errors and self.limit > self.MAX_LIMIT:
            errors["limit"] = [f"Ensure this value is less than or equal to {self.MAX_LIMIT}."]
        if errors:
            raise exceptions.ValidationError(errors)

    @staticmethod
    def _positive_int(raw, default: int, name: str, errors: dict) -> int:
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except (TypeError, ValueError):
            errors[name] = ["A whole number is required."]
            return default
        if value < 1:
            errors[name] = ["Ensure this value is greater than or equal to 1."]
            return default
        return value

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def paged_body(query, queryset, *, key: str, render) -> dict:
    """The shape every API list shares, {key: [...], total, page, limit}; `render` turns a page of rows into dicts."""
    pages = PageParams(query)
    rows = queryset[pages.offset : pages.offset + pages.limit]
    return {key: render(rows), "total": queryset.count(), "page": pages.page, "limit": pages.limit}


def parse_instant(raw: str | None, name: str, default: datetime) -> datetime:
    """A query parameter as an aware instant: an ISO 8601 date (its midnight UTC) or date-time (naive means UTC)."""
    if not raw:
        return default
    try:
        day = parse_date(raw) if len(raw) == 10 else None
        if day is not None:
            return datetime.combine(day, time.min, tzinfo=UTC)
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise exceptions.ValidationError({name: ["Enter an ISO 8601 date (YYYY-MM-DD) or date-time."]})
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
