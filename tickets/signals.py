"""Signals other apps may listen to without the tickets app knowing them.

`ticket_status_changed` is sent after the transaction that moved the ticket commits, with
`ticket_id`, `from_status`, `to_status`, `actor_id` (or None) and `at`. Surveys listen to it to
invite the customer once a ticket is resolved.
"""

from django.dispatch import Signal

ticket_status_changed = Signal()
