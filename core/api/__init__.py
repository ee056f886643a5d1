"""Shared machinery of the REST API: pagination, permissions, throttling, errors, idempotency."""
