"""WebSocket routes, served by Daphne (DESIGN.md, "Serving"): the event stream of deltran/consumers.py."""

from django.urls import path

from deltran.consumers import EventConsumer

websocket_urlpatterns = [
    path("api/v1/ws", EventConsumer.as_asgi()),
]
