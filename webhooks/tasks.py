"""Celery tasks of the webhooks app: none of their own. Deliveries go out through the outbox
(core/outbox/tasks.py), which runs the `webhook` kind registered in webhooks/apps.py."""
