"""Create or update an API client (a bank's integration): its login, rate limit and IP allow-list."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from deltran.clients import api_client_set


class Command(BaseCommand):
    help = "Create or update the API client NAME for the login USER, with its rate limit and allowed networks."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--user", required=True, help="username the integration logs in as")
        parser.add_argument("--rate", type=int, default=100, help="requests per minute (default 100)")
        parser.add_argument("--networks", default="", help="comma-separated IPs/CIDRs; empty allows any address")
        parser.add_argument("--bank", default="", help="the owning bank's BIC")

    def handle(self, *args, name, user, rate, networks, bank, **options):
        if rate < 1:
            raise CommandError("--rate must be at least 1.")
        try:
            client = api_client_set(
                name=name, username=user, rate_limit_per_minute=rate, allowed_networks=networks, bank_bic=bank
            )
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {user!r}.") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(
            f"API client {client.name}: user {user}, {client.rate_limit_per_minute} requests/min, "
            f"networks {client.allowed_networks or 'any'}."
        )
