"""The WebSocket endpoint through the real ASGI application: auth, subscriptions, relay of committed outbox rows,
replay after a reconnect, and nothing for a rolled-back transaction."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from deltran.asgi import application
from deltran.events import event_record
from deltran.models import OutboxEvent
from deltran.roles import OPERATOR, VIEWER
from tests.browser.conftest import _audit_log_cleared_after  # noqa: F401  (real commits: append-only tables emptied)
from tests.payments.factories import make_payment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_audit_log_cleared_after")]

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(path="/api/v1/ws", *, cookie: bytes | None = None, subprotocols=None) -> WebsocketCommunicator:
    headers = [ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    return WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)


async def receive_type(ws: WebsocketCommunicator, wanted: str, timeout: float = 5.0) -> dict:
    """The next message of this type (others, such as metrics updates, are skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await ws.receive_json_from(timeout=max(deadline - asyncio.get_running_loop().time(), 0.01))
        if message["type"] == wanted:
            return message


async def events_until(ws: WebsocketCommunicator, topic: str, count: int, timeout: float = 5.0) -> list[dict]:
    got: list[dict] = []
    while len(got) < count:
        got += (await receive_type(ws, topic, timeout))["events"]
    return got


pay = database_sync_to_async(lambda **kw: make_payment(**kw))


def run(coro_fn):
    async_to_sync(coro_fn)()


def test_refused_without_a_login_or_with_a_bad_token(scenario):
    async def scenario_():
        for ws in (
            communicator(),
            communicator("/api/v1/ws?token=not-a-jwt"),
            communicator(subprotocols=["jwt", "eyJhbGciOiJIUzI1NiJ9.e30.bad"]),
        ):
            connected, _ = await ws.connect()
            assert connected is False

    run(scenario_)


def test_subscribe_and_receive_a_payment_update_by_jwt_and_by_session(scenario, users):
    token = str(RefreshToken.for_user(users[VIEWER]).access_token)

    async def scenario_():
        by_query = communicator(f"/api/v1/ws?token={token}&topics=payment_update")
        connected, _ = await by_query.connect()
        assert connected
        assert (await receive_type(by_query, "subscribed"))["topics"] == ["payment_update"]
        by_protocol = communicator(subprotocols=["jwt", token])
        connected, protocol = await by_protocol.connect()
        assert connected and protocol == "jwt"
        by_session = communicator(cookie=await database_sync_to_async(session_cookie)(users[OPERATOR]))
        connected, _ = await by_session.connect()
        assert connected
        for ws in (by_protocol, by_session):
            await ws.send_json_to({"action": "subscribe", "topics": ["payment_update"]})
            assert (await receive_type(ws, "subscribed"))["topics"] == ["payment_update"]

        payment = await pay(amount="321.00")

        for ws in (by_query, by_protocol, by_session):
            (event,) = await events_until(ws, "payment_update", 1)
            assert event["data"]["id"] == str(payment.id)
            assert event["data"]["amount"] == "321.0000" or event["data"]["amount"].startswith("321")
            assert event["event_type"] == "payments.payment_update"
            assert isinstance(event["id"], int)
            await ws.disconnect()

    run(scenario_)


def test_reconnect_with_the_last_event_id_gets_everything_missed(scenario, users):
    token = str(RefreshToken.for_user(users[VIEWER]).access_token)

    async def scenario_():
        ws = communicator(f"/api/v1/ws?token={token}&topics=payment_update")
        assert (await ws.connect())[0]
        await receive_type(ws, "subscribed")
        first = await pay()
        (seen,) = await events_until(ws, "payment_update", 1)
        assert seen["data"]["id"] == str(first.id)
        await ws.disconnect()

        missed = [await pay(amount=str(10 + i)) for i in range(3)]

        again = communicator(f"/api/v1/ws?token={token}")
        assert (await again.connect())[0]
        await again.send_json_to({"action": "subscribe", "topics": ["payment_update"], "last_event_id": seen["id"]})
        replayed = await events_until(again, "payment_update", 3)
        assert [e["data"]["id"] for e in replayed] == [str(p.id) for p in missed]
        assert all(e["id"] > seen["id"] for e in replayed)
        live = await pay(amount="99.00")
        (after,) = await events_until(again, "payment_update", 1)
        assert after["data"]["id"] == str(live.id)
        assert after["id"] > replayed[-1]["id"]
        await again.disconnect()

    run(scenario_)


def test_no_event_for_a_rolled_back_transaction(scenario, users):
    token = str(RefreshToken.for_user(users[OPERATOR]).access_token)

    def rolled_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record(topic="settlement", event_type="settlement.netting_cycle", payload={"cycle": "rolled back"})
            raise RuntimeError("the change fails")

    def committed():
        with transaction.atomic():
            event_record(topic="settlement", event_type="settlement.netting_cycle", payload={"cycle": 7})
        return OutboxEvent.objects.get()

    async def scenario_():
        ws = communicator(f"/api/v1/ws?token={token}&topics=netting_cycle")
        assert (await ws.connect())[0]
        await receive_type(ws, "subscribed")
        await database_sync_to_async(rolled_back)()
        event = await database_sync_to_async(committed)()
        message = await receive_type(ws, "netting_cycle")
        assert [e["data"] for e in message["events"]] == [{"cycle": 7}]
        assert message["last_event_id"] == event.id
        assert await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    run(scenario_)
    assert list(OutboxEvent.objects.values_list("payload", flat=True)) == [{"cycle": 7}]


def test_topics_follow_the_role_and_bad_messages_get_the_error_shape(scenario, users):
    token = str(RefreshToken.for_user(users[VIEWER]).access_token)

    async def scenario_():
        ws = communicator(f"/api/v1/ws?token={token}")
        assert (await ws.connect())[0]
        for message, code in (
            ({"action": "subscribe", "topics": ["compliance_alert"]}, "permission_denied"),
            ({"action": "subscribe", "topics": ["no_such_topic"]}, "unknown_topic"),
            ({"action": "subscribe", "topics": "payment_update"}, "bad_request"),
            ({"action": "subscribe", "topics": ["payment_update"], "last_event_id": "x"}, "bad_request"),
            ({"action": "dance"}, "unknown_action"),
        ):
            await ws.send_json_to(message)
            error = await receive_type(ws, "error")
            assert error["code"] == code, message
            assert set(error) == {"type", "code", "message", "fields"}
        await ws.send_to(text_data="not json")
        assert (await receive_type(ws, "error"))["code"] == "bad_request"
        await ws.send_json_to({"action": "ping"})
        assert (await receive_type(ws, "pong"))["type"] == "pong"
        await ws.disconnect()

    run(scenario_)


def test_payment_updates_are_batched(scenario, users, settings):
    settings.WS_PAYMENT_BATCH_SECONDS = 0.5
    settings.WS_PAYMENT_BATCH_MAX = 3
    token = str(RefreshToken.for_user(users[VIEWER]).access_token)

    def burst():
        with transaction.atomic():
            event_record(topic="payments", event_type="payments.payment_update", payload={"n": 0})
        with transaction.atomic():
            for n in range(1, 6):
                event_record(topic="payments", event_type="payments.payment_update", payload={"n": n})

    async def scenario_():
        ws = communicator(f"/api/v1/ws?token={token}&topics=payment_update")
        assert (await ws.connect())[0]
        await receive_type(ws, "subscribed")
        await database_sync_to_async(burst)()
        messages = [await receive_type(ws, "payment_update")]
        while sum(len(m["events"]) for m in messages) < 6:
            messages.append(await receive_type(ws, "payment_update"))
        # Six events in a few messages of at most three (never one per event), none left out, in order.
        assert len(messages) <= 3
        assert all(len(m["events"]) <= 3 for m in messages)
        events = [e for m in messages for e in m["events"]]
        assert [e["data"]["n"] for e in events] == [0, 1, 2, 3, 4, 5]
        assert all(m["last_event_id"] == m["events"][-1]["id"] for m in messages)
        assert await ws.receive_nothing(timeout=0.6)
        await ws.disconnect()

    run(scenario_)
