"""DelTran project package: settings, urls, ASGI/WSGI, Celery and the platform pieces."""

from .celery import app as celery_app

__all__ = ["celery_app"]
