"""Verify the audit hash chain and name the first broken entry."""

from django.core.management.base import BaseCommand, CommandError

from deltran.audit import audit_verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain; exit non-zero naming the first broken entry."

    def handle(self, *args, **options):
        result = audit_verify()
        if not result.ok:
            raise CommandError(
                f"Audit chain broken at entry #{result.first_broken_id}: {result.reason}. "
                f"{result.checked} entries before it verified."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} entries verified."))
