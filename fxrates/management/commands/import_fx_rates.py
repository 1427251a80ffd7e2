"""Load real FX rates from a CSV file (base,quote,rate,recorded_at) into the rate history."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deltran.errors import DomainError
from fxrates.services import fx_rates_import, fx_rates_parse_csv


class Command(BaseCommand):
    help = "Import FX rates from CSV with columns base,quote,rate,recorded_at (ISO 8601). All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            count = fx_rates_import(rates=fx_rates_parse_csv(path))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {count} rates from {path}."))
