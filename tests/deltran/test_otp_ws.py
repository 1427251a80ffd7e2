"""The WebSocket handshake takes a session only once its second factor is given, like the pages and the API."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from deltran.roles import COMPLIANCE_OFFICER
from tests.browser.conftest import _audit_log_cleared_after  # noqa: F401  (real commits: append-only tables emptied)
from tests.conftest import ROLE_USERS
from tests.deltran.test_ws import communicator, run, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_audit_log_cleared_after")]


def password_only_cookie(role: str) -> bytes:
    client = Client()
    name = ROLE_USERS[role]
    assert client.post("/login/", {"username": name, "password": "pw-" + name}).status_code == 302
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def test_a_session_owing_its_code_cannot_open_the_socket_and_a_verified_one_can(users):
    async def scenario_():
        owing = communicator(cookie=await database_sync_to_async(password_only_cookie)(COMPLIANCE_OFFICER))
        connected, _ = await owing.connect()
        assert connected is False

        verified = communicator(cookie=await database_sync_to_async(session_cookie)(users[COMPLIANCE_OFFICER]))
        connected, _ = await verified.connect()
        assert connected is True
        await verified.disconnect()

    run(scenario_)
