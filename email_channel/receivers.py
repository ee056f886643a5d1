"""The email channel's reactions to other apps' signals (connected in EmailChannelConfig.ready)."""

from __future__ import annotations


def connect() -> None:
    """Connect the receivers (outbound replies are added with the outbound step)."""
