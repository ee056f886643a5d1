"""Who has a ticket open, kept in the cache with an expiry (no row per heartbeat).

Each open ticket page beats every few seconds; a beat older than PRESENCE_TTL no longer counts,
so a closed tab disappears by itself.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from accounts.models import User

VIEWING = "viewing"
REPLYING = "replying"
STATES = (VIEWING, REPLYING)
PRESENCE_TTL = 20  # seconds: a few missed beats


def _key(ticket_id: int) -> str:
    return f"live:presence:ticket:{ticket_id}"


def beat(*, ticket_id: int, user: User, state: str) -> list[dict[str, object]]:
    """Record that `user` has the ticket open in `state`; return the others who have it open.

    A read-modify-write of one small cache entry: two beats at the same moment may drop one,
    which the next beat (seconds later) puts back.
    """
    now = time.time()
    entries: dict[str, dict[str, object]] = cache.get(_key(ticket_id)) or {}
    entries = {
        uid: entry for uid, entry in entries.items() if now - float(str(entry["at"])) < PRESENCE_TTL
    }
    entries[str(user.pk)] = {"name": str(user), "state": state, "at": now}
    cache.set(_key(ticket_id), entries, PRESENCE_TTL)
    return [
        {"user_id": int(uid), "name": entry["name"], "state": entry["state"]}
        for uid, entry in sorted(entries.items())
        if uid != str(user.pk)
    ]
