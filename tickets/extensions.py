"""Where channel apps plug into the ticket page without the tickets app knowing them.

A channel (email today, messengers later) registers, in its AppConfig.ready(), the relations
of TicketMessage it needs loaded with the conversation and the template shown under each
message; the ticket page loads and includes whatever is registered, in one fixed query set.
"""

from __future__ import annotations

# select_related() names on TicketMessage (reverse one-to-ones a channel keeps per message).
MESSAGE_RELATED: list[str] = []
# Templates included under each message's text, with `message` in their context.
MESSAGE_PARTIALS: list[str] = []


def register_message_extension(*, related: str = "", partial: str = "") -> None:
    """Load `related` with every message of the ticket page and show `partial` under it."""
    if related and related not in MESSAGE_RELATED:
        MESSAGE_RELATED.append(related)
    if partial and partial not in MESSAGE_PARTIALS:
        MESSAGE_PARTIALS.append(partial)
