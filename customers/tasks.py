"""Celery tasks of the customers app: none of their own. Reminders go out through the outbox
(core/outbox/tasks.py), which runs the `reminder` kind registered in customers/apps.py."""
