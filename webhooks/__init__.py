"""Outgoing webhooks: signed HTTP notifications of CRM events to other systems."""
