"""Signals other apps may listen to without the tickets app knowing them.

`ticket_status_changed` is sent after the transaction that moved the ticket commits, with
`ticket_id`, `from_status`, `to_status`, `actor_id` (or None) and `at`. Surveys listen to it to
invite the customer once a ticket is resolved.

`ticket_message_added` is sent inside the transaction that added the message, with `message`:
a channel that must deliver an operator's public reply (email) records what it will send in the
same transaction, so a reply is never stored without its delivery, nor delivered without it.
"""

from django.dispatch import Signal

ticket_status_changed = Signal()
ticket_message_added = Signal()
