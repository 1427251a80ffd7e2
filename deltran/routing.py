"""WebSocket routes. The event consumer is added with the live back office."""

websocket_urlpatterns: list = []
