"""Multi-row INSERTs for the hot write paths (intake, settlement) without building a model instance per row.

`bulk_create` builds, validates and compiles every value of every row through the ORM, which cost more than the
database work for the payment pipeline's thousands of rows. `rows_insert` takes plain tuples in a given field
order. A few rows go as one multi-row INSERT (one round trip); many rows go through PostgreSQL's COPY, which costs
the server about a third of the CPU of a multi-row INSERT for the same rows and the client about half (no
per-row `mogrify`). Values are passed through the field's `get_db_prep_save` (so a field type that encrypts
still does), except for the column types the driver or COPY's text format takes as they are (text, numbers,
decimals, UUIDs, dates, booleans); JSON is written as its text. On SQLite (the embedded mode, where speed is not
the point) it is `bulk_create`.
"""

import io
import json
import operator
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.fields import AutoFieldMixin
from django.db.models.signals import post_init, pre_init
from psycopg2.extras import execute_values

# Field classes whose get_db_prep_save returns the value unchanged on PostgreSQL (psycopg2 adapts it).
_PLAIN_ON_POSTGRES = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.BooleanField,
    models.DecimalField,
    models.UUIDField,
    models.DateTimeField,
    models.DateField,
    models.ForeignKey,
)
PAGE = 1000
# From this many rows on, COPY (two round trips, cheap per row); below it, one multi-row INSERT (one round trip).
COPY_FROM_ROWS = 50

# COPY's text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _CopyConverters(dict):
    """Value type -> function giving its COPY text; built-in callables only, as it runs for every value written."""

    def __missing__(self, kind):
        # Subclasses (choices enums are str or int subclasses) convert as their base type does.
        if issubclass(kind, str):
            convert = operator.methodcaller("translate", _COPY_ESCAPES)
        elif issubclass(kind, bool):
            convert = ("f", "t").__getitem__
        elif issubclass(kind, int):
            convert = int.__str__
        else:
            raise TypeError(f"rows_insert cannot write a {kind.__name__} with COPY")
        self[kind] = convert
        return convert


_COPY_TEXT = _CopyConverters(
    {
        type(None): "\\N".format,  # format ignores its argument: NULL
        str: operator.methodcaller("translate", _COPY_ESCAPES),
        int: int.__str__,
        bool: ("f", "t").__getitem__,
        Decimal: Decimal.__str__,
        UUID: UUID.__str__,
        datetime: datetime.isoformat,
        date: date.isoformat,
        float: float.__repr__,
    }
)


def _copy_text(value) -> str:
    return _COPY_TEXT[type(value)](value)


class JsonText(str):
    """A value for a JSON column that is already serialised: written as it is, not serialised again."""


def _json_value(value):
    # For the ORM (SQLite): the value itself.
    return json.loads(value) if type(value) is JsonText else value


def _plain(field) -> bool:
    if type(field).__module__.split(".")[0] != "django":
        return False  # a project field type (e.g. encrypted) must prepare its own values
    if isinstance(field, models.ForeignKey):
        return _plain(field.target_field)
    return isinstance(field, _PLAIN_ON_POSTGRES) and not isinstance(field, models.JSONField)


def rows_insert(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple], *, returning: str | None = None
) -> list | None:
    """Insert ``rows`` (tuples of values for ``fields``, attnames such as ``payment_id``) into ``model``'s table.

    With ``returning`` (a column), the values of that column of the new rows, in the order of ``rows``: such
    inserts are always multi-row INSERTs (COPY returns nothing); ``objects_insert`` allocates keys beforehand
    instead.
    """
    if not rows:
        return [] if returning else None
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]  # get_field knows attnames too
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            [model(**{name: _json_value(value) for name, value in zip(fields, row, strict=True)}) for row in rows],
            batch_size=PAGE,
        )
        return [getattr(obj, returning) for obj in objs] if returning else None
    if returning is None and len(rows) >= COPY_FROM_ROWS:
        _copy(meta.db_table, model_fields, rows)
        return None
    preparers = [None if _plain(field) else _insert_preparer(field) for field in model_fields]
    if any(preparers):
        rows = [
            tuple(value if prepare is None else prepare(value) for value, prepare in zip(row, preparers, strict=True))
            for row in rows
        ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model_fields)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES %s"
    # The driver's cursor, so execute_values can page; its errors still come out as django.db's (IntegrityError…).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if returning is None:
            execute_values(cursor.cursor, sql, rows, page_size=PAGE)
            return None
        # Multi-row INSERT … RETURNING gives the rows back in VALUES order (bulk_create relies on it too).
        found = execute_values(cursor.cursor, f"{sql} RETURNING {quote(returning)}", rows, page_size=PAGE, fetch=True)
        return [row[0] for row in found]


def _insert_preparer(field):
    if isinstance(field, models.JSONField):
        return lambda value: str(value) if type(value) is JsonText else field.get_db_prep_save(value, connection)
    return lambda value: field.get_db_prep_save(value, connection)


def _copy_preparer(field):
    """How a field's values become COPY text: as they are, as JSON text, or through the field's own preparation."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: value if value is None or type(value) is JsonText else json.dumps(value, cls=encoder)
    if _plain(field):
        return None
    # A field type of ours may say how to write a value more directly (the encrypted fields do).
    bulk_value = getattr(field, "bulk_value", None)
    if bulk_value is not None:
        return bulk_value
    return lambda value: field.get_db_prep_save(value, connection)


def _copy(table: str, model_fields: list, rows: Sequence[tuple]) -> None:
    """COPY ``rows`` into ``table`` in text format, in one statement."""
    preparers = [_copy_preparer(field) for field in model_fields]
    converters = _COPY_TEXT
    if any(preparers):
        prepared = [(i, prepare) for i, prepare in enumerate(preparers) if prepare is not None]
        copied = []
        for row in rows:
            row = list(row)
            for i, prepare in prepared:
                row[i] = prepare(row[i])
            copied.append(row)
        rows = copied
    lines = ["\t".join([converters[type(value)](value) for value in row]) for row in rows]
    lines.append("")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model_fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(f"COPY {quote(table)} ({columns}) FROM STDIN", io.StringIO("\n".join(lines)))


def _keys_allocate(meta, count: int) -> list[int]:
    """``count`` values of the automatic primary key's sequence, ascending (so they keep the rows' order)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def objects_insert(objs: Sequence[models.Model]) -> None:
    """Insert unsaved instances of one model as ``rows_insert`` does; an automatic primary key is set on them."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                for obj in objs:
                    obj.__dict__[field.attname] = _json_value(obj.__dict__[field.attname])
        model.objects.bulk_create(objs, batch_size=PAGE)
        return
    meta = model._meta
    auto = meta.pk if isinstance(meta.pk, AutoFieldMixin) else None
    if auto and len(objs) >= COPY_FROM_ROWS and all(obj.pk is None for obj in objs):
        # Many rows: take their keys from the sequence first, then COPY them with their keys.
        for obj, key in zip(objs, _keys_allocate(meta, len(objs)), strict=True):
            obj.pk = key
        auto = None
    names = [field.attname for field in meta.concrete_fields if field is not auto]
    pick = operator.itemgetter(*names)
    values = pick if len(names) > 1 else (lambda attrs: (pick(attrs),))
    keys = rows_insert(
        model,
        names,
        [values(obj.__dict__) for obj in objs],
        returning=auto.column if auto else None,
    )
    if auto:
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = key
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _field_defaults(model: type[models.Model]) -> tuple[frozenset, list[tuple[str, object, bool]]]:
    cached = model.__dict__.get("_bulk_field_defaults")
    if cached is None:
        defaults = []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                defaults.append((field.attname, field.default, True))
            else:
                defaults.append((field.attname, field.get_default(), False))
        cached = (frozenset(name for name, _, _ in defaults), defaults)
        model._bulk_field_defaults = cached
    return cached


def instance_build(model: type[models.Model], values: dict):
    """An unsaved ``model`` instance with these field values (attnames) and every other field's default.

    What ``model(**values)`` gives, without ``Model.__init__``'s per-field descriptor work, which cost more than
    writing the row when the intake builds thousands of payments, obligations and audit entries. Models with
    init signal receivers are built the ordinary way.
    """
    names, defaults = _field_defaults(model)
    # (Asking the signals only when some receiver exists at all: has_listeners costs as much as the rest.)
    if pre_init.receivers or post_init.receivers:
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model(**values)
    unknown = values.keys() - names
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    obj = model.__new__(model)
    obj._state = ModelState()
    attrs = obj.__dict__
    for name, default, call in defaults:
        if name not in values:
            attrs[name] = default() if call else default
    attrs.update(values)
    return obj
