"""ASGI entry point: Daphne serves the WebSocket endpoint through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from deltran.consumers import JwtAuthMiddleware  # noqa: E402
from deltran.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A session cookie logs the socket in; without one, a JWT (query or subprotocol) may (deltran/consumers.py).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(JwtAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
