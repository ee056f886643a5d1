"""The Celery application: broker and schedule come from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
# tasks.py of every installed app, plus the modules that hold tasks under another name.
app.autodiscover_tasks()
app.autodiscover_tasks(["crm"], related_name="jobs")
app.autodiscover_tasks(["core.outbox"])
