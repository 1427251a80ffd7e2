"""Make the audit log append-only in the database itself: UPDATE and DELETE are refused by triggers."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION deltran_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER deltran_auditentry_no_update BEFORE UPDATE OR DELETE ON deltran_auditentry
    FOR EACH ROW EXECUTE FUNCTION deltran_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS deltran_auditentry_no_update ON deltran_auditentry;
DROP FUNCTION IF EXISTS deltran_audit_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER deltran_auditentry_no_update BEFORE UPDATE ON deltran_auditentry
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER deltran_auditentry_no_delete BEFORE DELETE ON deltran_auditentry
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE is not allowed'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS deltran_auditentry_no_update",
    "DROP TRIGGER IF EXISTS deltran_auditentry_no_delete",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the function body's "%" is a PL/pgSQL placeholder, not a query parameter.
        schema_editor.execute(POSTGRES_UP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("deltran", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
