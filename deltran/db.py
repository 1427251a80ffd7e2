"""Database-level guards the apps' migrations share: an append-only table refuses UPDATE and DELETE itself.

The audit log, ledger postings and pool movements use it. Changing such a row then takes a DBA's rights (dropping
the SQLite triggers, or `SET session_replication_role = replica` on PostgreSQL), which is how tests tamper.
"""

from dataclasses import dataclass

from django.db import migrations


@dataclass(frozen=True)
class AppendOnly:
    table: str
    what: str  # e.g. "the audit log", for the error message

    @property
    def postgres_up(self) -> str:
        return f"""
CREATE OR REPLACE FUNCTION {self.table}_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{self.what} is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {self.table}_append_only BEFORE UPDATE OR DELETE ON {self.table}
    FOR EACH ROW EXECUTE FUNCTION {self.table}_append_only();
"""

    @property
    def postgres_down(self) -> str:
        return (
            f"DROP TRIGGER IF EXISTS {self.table}_append_only ON {self.table};\n"
            f"DROP FUNCTION IF EXISTS {self.table}_append_only();"
        )

    @property
    def sqlite_up(self) -> list[str]:
        return [
            f"CREATE TRIGGER {self.table}_no_{op.lower()} BEFORE {op} ON {self.table} "
            f"BEGIN SELECT RAISE(ABORT, '{self.what} is append-only: {op} is not allowed'); END"
            for op in ("UPDATE", "DELETE")
        ]

    @property
    def sqlite_down(self) -> list[str]:
        return [f"DROP TRIGGER IF EXISTS {self.table}_no_{op}" for op in ("update", "delete")]

    def install(self, apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            # params=None: the function body's "%" is a PL/pgSQL placeholder, not a query parameter.
            schema_editor.execute(self.postgres_up, params=None)
        elif schema_editor.connection.vendor == "sqlite":
            for statement in self.sqlite_up:
                schema_editor.execute(statement)

    def remove(self, apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.postgres_down)
        elif schema_editor.connection.vendor == "sqlite":
            for statement in self.sqlite_down:
                schema_editor.execute(statement)

    def operation(self) -> migrations.RunPython:
        return migrations.RunPython(self.install, self.remove)

    def _sqlite_reinstall(self, apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "sqlite":
            for statement in [*self.sqlite_down, *self.sqlite_up]:
                schema_editor.execute(statement)

    def after_sqlite_rebuild(self) -> migrations.RunPython:
        """Put last in a migration that alters the table: SQLite alters a column by rebuilding the table, which drops
        its triggers (PostgreSQL keeps them); this puts them back, both ways."""
        return migrations.RunPython(self._sqlite_reinstall, self._sqlite_reinstall)
