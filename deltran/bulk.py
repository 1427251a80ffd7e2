"""Multi-row INSERTs for the hot write paths (intake, settlement) without building a model instance per row.

`bulk_create` builds, validates and compiles every value of every row through the ORM, which cost more than the
database work for the payment pipeline's thousands of rows. `rows_insert` takes plain tuples in a given field
order and sends them as one multi-row INSERT per thousand rows. Values are passed through the field's
`get_db_prep_save` (so a field type that encrypts or serialises still does), except for the column types the
PostgreSQL driver adapts itself (text, numbers, decimals, UUIDs, dates, booleans), where that call would return
the value unchanged. On SQLite (the embedded mode, where speed is not the point) it is `bulk_create`.
"""

from collections.abc import Sequence

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin
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

    With ``returning`` (a column), the values of that column of the new rows, in the order of ``rows``.
    """
    if not rows:
        return [] if returning else None
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]  # get_field knows attnames too
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=PAGE
        )
        return [getattr(obj, returning) for obj in objs] if returning else None
    preparers = [
        None if _plain(field) else (lambda value, field=field: field.get_db_prep_save(value, connection))
        for field in model_fields
    ]
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


def objects_insert(objs: Sequence[models.Model]) -> None:
    """Insert unsaved instances of one model as ``rows_insert`` does; an automatic primary key is set on them."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=PAGE)
        return
    meta = model._meta
    auto = meta.pk if isinstance(meta.pk, AutoFieldMixin) else None
    names = [field.attname for field in meta.concrete_fields if field is not auto]
    keys = rows_insert(
        model,
        names,
        [tuple(obj.__dict__[name] for name in names) for obj in objs],
        returning=auto.column if auto else None,
    )
    if auto:
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = connection.alias
