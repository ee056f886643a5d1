"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from crm.startup import load_site

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

application = get_wsgi_application()
# The site's modules imported now, as the worker starts, not on its first request.
load_site()
