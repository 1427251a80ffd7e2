"""The WebSocket endpoint /api/v1/ws: authenticated clients subscribe to event topics and receive outbox events.

Protocol (JSON text frames):

- connect with a session cookie, or a JWT access token as ``?token=…`` or as the subprotocols ``jwt, <token>``;
  without a valid login the handshake is refused. ``?topics=a,b&last_event_id=N`` subscribes at once.
- client → server: ``{"action": "subscribe", "topics": [...], "last_event_id": N?}``,
  ``{"action": "unsubscribe", "topics": [...]}``, ``{"action": "ping"}``.
- server → client: ``{"type": "subscribed", "topics": [...], "last_event_id": N}``; events as
  ``{"type": <topic>, "events": [{"id", "event_type", "created_at", "data"}, ...], "last_event_id": N}``;
  ``{"type": "resync", ...}`` when a reconnecting client is too far behind to replay; ``{"type": "error", "code",
  "message", "fields"}``; ``{"type": "pong"}``.

With ``last_event_id`` the client first receives every event of its topics committed after that id, then the
live ones, none twice. Payment updates are batched: what arrived in the last WS_PAYMENT_BATCH_SECONDS goes out
together, in messages of at most WS_PAYMENT_BATCH_MAX events, so a socket gets a few messages a second however
many payments move; none is left out.
"""

import asyncio
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from deltran.otp_gate import stored_session_otp_pending
from deltran.relay import RelayedEvent, outbox_read, relay_for_running_loop
from deltran.roles import user_can

# Topic a client subscribes to → (outbox event type, capability its role needs).
TOPICS: dict[str, tuple[str, str]] = {
    "payment_update": ("payments.payment_update", "payments.view"),
    "metrics_update": ("payments.metrics_update", "payments.view"),
    "compliance_alert": ("compliance.compliance_alert", "compliance.view"),
    "case_decided": ("compliance.case_decided", "compliance.view"),
    "liquidity_rebalance": ("liquidity.liquidity_rebalance", "liquidity.view"),
    "netting_cycle": ("settlement.netting_cycle", "settlement.view"),
    "limit_alert": ("settlement.limit_alert", "settlement.view"),
    "fx_spike": ("fxrates.fx_spike", "reference.view"),
}
BATCHED = "payment_update"
# Close code for a socket refused after the handshake was accepted (the handshake itself is refused with 403).
CLOSE_UNAUTHENTICATED = 4401


def _jwt_from_scope(scope) -> tuple[str | None, bool]:
    """(token, came as subprotocol)."""
    protocols = scope.get("subprotocols") or []
    if len(protocols) >= 2 and protocols[0] == "jwt":
        return protocols[1], True
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [None])[0]
    return token, False


@database_sync_to_async
def _jwt_user(raw: str):
    auth = JWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw))
    except (InvalidToken, AuthenticationFailed, TokenError):
        return None


class JwtAuthMiddleware:
    """Sets scope["user"] from a JWT access token when the session did not log anyone in."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        token, as_subprotocol = _jwt_from_scope(scope)
        if token:
            user = await _jwt_user(token)
            scope = {**scope, "user": user or AnonymousUser(), "jwt_subprotocol": as_subprotocol and user is not None}
        return await self.inner(scope, receive, send)


@database_sync_to_async
def _allowed_topics(user) -> set[str] | None:
    """The topics the user's role may read; None when the user may not use the socket at all."""
    if user is None or not user.is_authenticated or not user.is_active or not user_can(user, "payments.view"):
        return None
    return {topic for topic, (_type, capability) in TOPICS.items() if user_can(user, capability)}


@database_sync_to_async
def _session_owes_second_factor(scope) -> bool:
    return stored_session_otp_pending(scope.get("session"), scope.get("user"))


class EventConsumer(AsyncJsonWebsocketConsumer):
    @classmethod
    async def encode_json(cls, content):
        return json.dumps(content, cls=DjangoJSONEncoder)

    async def connect(self):
        self.topics: set[str] = set()
        self.allowed = await _allowed_topics(self.scope.get("user"))
        token, _ = _jwt_from_scope(self.scope)
        if not token and await _session_owes_second_factor(self.scope):
            self.allowed = None  # a session still owing its one-time code is not logged in yet
        if self.allowed is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.replaying = 0
        self.held: list[RelayedEvent] = []
        self.replayed: set[int] = set()
        self.payments: list[RelayedEvent] = []
        self.last_payment_flush = 0.0
        self.flush_timer: asyncio.TimerHandle | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        await self.accept(subprotocol="jwt" if self.scope.get("jwt_subprotocol") else None)
        self.writer = asyncio.get_running_loop().create_task(self._write())
        self.relay = relay_for_running_loop()
        self.relay.attach(self)
        await self.relay.ready()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        topics = [t for value in query.get("topics", []) for t in value.split(",") if t]
        if topics:
            await self._subscribe(topics, (query.get("last_event_id") or [None])[0])

    async def disconnect(self, code):
        relay = getattr(self, "relay", None)
        if relay is not None:
            relay.detach(self)
        if getattr(self, "flush_timer", None) is not None:
            self.flush_timer.cancel()
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.cancel()

    # --- client messages ---

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data or "")
        except ValueError:
            return self._error("bad_request", "Send JSON text frames.")
        if not isinstance(content, dict):
            return self._error("bad_request", 'Send a JSON object such as {"action": "subscribe", "topics": [...]}.')
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        action = content.get("action")
        if action == "subscribe":
            await self._subscribe(content.get("topics"), content.get("last_event_id"))
        elif action == "unsubscribe":
            topics = content.get("topics")
            if not isinstance(topics, list):
                return self._error("bad_request", "topics must be a list.", field="topics")
            self.topics -= {t for t in topics if isinstance(t, str)}
            self._send({"type": "unsubscribed", "topics": sorted(self.topics)})
        elif action == "ping":
            self._send({"type": "pong"})
        else:
            self._error("unknown_action", "action must be subscribe, unsubscribe or ping.", field="action")

    async def _subscribe(self, topics, last_event_id) -> None:
        if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
            return self._error("bad_request", "topics must be a non-empty list of topic names.", field="topics")
        unknown = sorted(set(topics) - set(TOPICS))
        if unknown:
            return self._error(
                "unknown_topic", f"Unknown topics: {', '.join(unknown)}. Known: {', '.join(TOPICS)}.", field="topics"
            )
        refused = sorted(set(topics) - self.allowed)
        if refused:
            return self._error(
                "permission_denied", f"Your role may not subscribe to {', '.join(refused)}.", field="topics"
            )
        after = None
        if last_event_id is not None:
            try:
                after = int(last_event_id)
            except (TypeError, ValueError):
                after = -1
            if after < 0:
                return self._error("bad_request", "last_event_id must be a whole number.", field="last_event_id")
        new = set(topics) - self.topics
        if after is None:
            self.topics |= new
            self._send({"type": "subscribed", "topics": sorted(self.topics), "last_event_id": self.relay.after_id})
            return
        # Live events of these topics are held while the missed ones are read, then sent after them, none twice.
        self.replaying += 1
        self.topics |= set(topics)
        try:
            self._send({"type": "subscribed", "topics": sorted(self.topics), "last_event_id": self.relay.after_id})
            await self._replay(set(topics), after)
        finally:
            self.replaying -= 1
            if not self.replaying:
                held, self.held = self.held, []
                self._route(held)

    async def _replay(self, topics: set[str], after: int) -> None:
        limit = settings.WS_REPLAY_MAX
        events = await database_sync_to_async(outbox_read)(
            Q(id__gt=after), limit=limit + 1, event_types=[TOPICS[t][0] for t in topics]
        )
        if len(events) > limit:
            self._send(
                {
                    "type": "resync",
                    "message": f"More than {limit} events were missed; reload the figures and lists.",
                    "last_event_id": self.relay.after_id,
                }
            )
            sent = {e.id for e in self.held}
        else:
            sent = {e.id for e in events}
            self.replayed |= sent
            payments = [e for e in events if e.name == BATCHED]
            for start in range(0, len(payments), settings.WS_PAYMENT_BATCH_MAX):
                self._send_events(BATCHED, payments[start : start + settings.WS_PAYMENT_BATCH_MAX])
            for event in events:
                if event.name != BATCHED:
                    self._send_events(event.name, [event])
        self.held = [e for e in self.held if e.id not in sent]

    # --- events from the relay (on the event loop) ---

    def deliver(self, events: list[RelayedEvent]) -> None:
        mine = [e for e in events if e.name in self.topics]
        if self.replayed:
            # The replay read rows the relay had not reached yet: they arrive now and were sent already.
            mine = [e for e in mine if e.id not in self.replayed]
            top = max(self.replayed)
            if self.relay.after_id >= top and not any(gap[0] <= top for gap in self.relay.gaps):
                self.replayed = set()
        if not mine:
            return
        if self.replaying:
            self.held.extend(mine)
        else:
            self._route(mine)

    def _route(self, events: list[RelayedEvent]) -> None:
        for event in events:
            if event.name == BATCHED:
                self.payments.append(event)
            else:
                self._send_events(event.name, [event])
        if self.payments and self.flush_timer is None:
            wait = self.last_payment_flush + settings.WS_PAYMENT_BATCH_SECONDS - time.monotonic()
            self.flush_timer = asyncio.get_running_loop().call_later(max(wait, 0.0), self._flush_payments)

    def _flush_payments(self) -> None:
        self.flush_timer = None
        self.last_payment_flush = time.monotonic()
        batch, self.payments = self.payments, []
        limit = settings.WS_PAYMENT_BATCH_MAX
        for start in range(0, len(batch), limit):
            self._send_events(BATCHED, batch[start : start + limit])

    # --- sending, in order, from one writer task ---

    def _send_events(self, topic: str, events: list[RelayedEvent]) -> None:
        self._send(
            {
                "type": topic,
                "events": [event.as_message_item() for event in events],
                "last_event_id": max(event.id for event in events),
            }
        )

    def _error(self, code: str, message: str, field: str | None = None) -> None:
        fields = {field: [{"code": code, "message": message}]} if field else {}
        self._send({"type": "error", "code": code, "message": message, "fields": fields})

    def _send(self, message: dict) -> None:
        self.queue.put_nowait(message)

    async def _write(self) -> None:
        while True:
            message = await self.queue.get()
            await self.send_json(message)
