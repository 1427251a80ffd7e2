"""Import a sanctions or PEP list from its official files; all or nothing, the previous version stays on failure."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.services import SOURCES, list_import
from deltran.errors import DomainError


class Command(BaseCommand):
    help = (
        "Import a screening list: manage.py import_sanctions SOURCE PATH... where SOURCE is one of "
        + ", ".join(sorted(SOURCES))
        + ". OFAC CSV takes sdn.csv with optional alt.csv and add.csv."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", choices=sorted(SOURCES))
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--list", dest="list_code", help="List code to import into (default per source).")
        parser.add_argument("--name", dest="list_name", help="Display name when the list is new.")

    def handle(self, *args, **options):
        missing = [str(p) for p in options["paths"] if not p.is_file()]
        if missing:
            raise CommandError(f"Not a file: {', '.join(missing)}")
        try:
            version = list_import(
                source_format=options["source"],
                paths=options["paths"],
                list_code=options["list_code"],
                list_name=options["list_name"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message} The previous version of the list stays in force.") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.screening_list.code}: version {version.pk} in force, {version.entry_count} entries, "
                f"{version.name_count} names (published {version.published or 'unknown'}, "
                f"sha256 {version.file_sha256[:12]})."
            )
        )
