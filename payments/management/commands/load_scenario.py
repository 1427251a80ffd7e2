"""Load the 4-bank scenario; safe to run again (it changes nothing the second time)."""

from django.core.management.base import BaseCommand

from deltran.otp import otp_totp_secret
from payments.scenario import DEMO_USERS, scenario_load


class Command(BaseCommand):
    help = "Load the seed's 4-bank scenario: banks, accounts, windows, pool, FX base rates and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--no-users", action="store_true", help="Do not create the demo users.")
        parser.add_argument("--show-logins", action="store_true", help="Print the demo logins at the end.")

    def handle(self, *args, **options):
        report = scenario_load(with_users=not options["no_users"])
        if not report.changed:
            self.stdout.write("Scenario already loaded; nothing changed.")
        else:
            self._report(report)
        if options["show_logins"] and not options["no_users"]:
            self.stdout.write("Demo logins (local demo only):")
            for username, password, role in DEMO_USERS:
                self.stdout.write(f"  {role:<20} {username} / {password}")
            if report.authenticators:
                self.stdout.write(
                    "Two-factor keys of the demo logins whose role requires it: add one to an authenticator app"
                    " (time-based, 6 digits), or print the current code with `oathtool --totp -b KEY`:"
                )
                for username, device in report.authenticators.items():
                    self.stdout.write(f"  {username:<12} {otp_totp_secret(device)}   {device.config_url}")

    def _report(self, report):
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded: {report.currencies_created} currencies, banks {', '.join(report.banks_created) or 'none'}, "
                f"{report.pool_balances_created} pool balances, {report.fx_rates_created} FX rates, "
                f"{report.holidays_created} holidays, {report.lists_imported} demo screening lists, "
                f"users {', '.join(report.users_created) or 'none'}."
            )
        )
