"""Make the audit log append-only in the database itself: UPDATE and DELETE are refused by triggers."""

from django.db import migrations

from deltran.db import AppendOnly

AUDIT_LOG = AppendOnly("deltran_auditentry", "the audit log")
# The statements tests use to suspend the triggers, as a DBA would.
SQLITE_UP, SQLITE_DOWN = AUDIT_LOG.sqlite_up, AUDIT_LOG.sqlite_down


class Migration(migrations.Migration):
    dependencies = [("deltran", "0001_initial")]
    operations = [AUDIT_LOG.operation()]
