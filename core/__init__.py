"""Leaf machinery every app may use and that imports no app of the project.

The API's base classes, errors, pagination and idempotency (`core.api`), the enqueue helper,
the admin base classes, the audit context, middleware and time helpers. See
docs/architecture.md#layout for what may import what; `make lint` checks it.
"""
