"""Fill a country's public holidays for a year from the `holidays` package."""

from django.core.management.base import BaseCommand, CommandError

from deltran.errors import DomainError
from settlement.services import holidays_import


class Command(BaseCommand):
    help = "Import public holidays: manage.py import_holidays --country AE --year 2027"

    def add_arguments(self, parser):
        parser.add_argument("--country", required=True, help="ISO 3166 alpha-2 code, e.g. AE")
        parser.add_argument("--year", required=True, type=int)

    def handle(self, *args, **options):
        if not 1900 <= options["year"] <= 2200:
            raise CommandError("The year must be between 1900 and 2200.")
        try:
            created = holidays_import(country=options["country"], year=options["year"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(f"{created} holidays added for {options['country'].upper()} {options['year']}.")
        )
