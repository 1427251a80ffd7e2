"""API clients (banks' integrations) as the request path reads them, and the one service that writes them.

Every API request looks its caller up here, so the clients are kept as a per-process map from user id to a small
frozen policy (`deltran.cache.reference_cache`): no query per request, a saved client is seen at once in this
process and within the reference-data TTL in the others.
"""

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address

from django.contrib.auth import get_user_model
from django.db import transaction

from deltran.cache import reference_cache
from deltran.models import ApiClient, parse_networks


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    client_id: int
    name: str
    rate_limit_per_minute: int
    networks: tuple[IPv4Network | IPv6Network, ...]

    def allows(self, address: str | None) -> bool:
        """Whether a request from this address may use the client: any address when the allow-list is empty."""
        if not self.networks:
            return True
        try:
            ip = ip_address((address or "").strip())
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


@reference_cache
def api_client_policies() -> dict[int, ClientPolicy]:
    """Active clients by the id of the user they log in as."""
    return {
        client.user_id: ClientPolicy(
            client_id=client.pk,
            name=client.name,
            rate_limit_per_minute=client.rate_limit_per_minute,
            networks=parse_networks(client.allowed_networks),
        )
        for client in ApiClient.objects.filter(is_active=True)
    }


@transaction.atomic
def api_client_set(
    *,
    name: str,
    username: str,
    rate_limit_per_minute: int,
    allowed_networks: str = "",
    bank_bic: str = "",
) -> ApiClient:
    """Create the client `name`, or update it: its login, limit, allow-list and bank."""
    user = get_user_model().objects.get(username=username)
    client = ApiClient.objects.select_for_update().filter(name=name).first() or ApiClient(name=name)
    client.user = user
    client.rate_limit_per_minute = rate_limit_per_minute
    client.allowed_networks = allowed_networks
    client.bank_bic = bank_bic
    client.is_active = True
    client.full_clean()
    client.save()
    return client
