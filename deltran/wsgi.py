"""WSGI entry point: the HTTP API and pages are served by gunicorn (DESIGN.md, "Serving")."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")

application = get_wsgi_application()
