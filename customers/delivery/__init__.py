"""Delivery of reminders and survey invitations: channel backends, routing and quiet hours.

`backends` sends one message on one channel; `routing` picks the channel and contact the
customer allows; `quiet_hours` says when a message may reach them; `service` is the reminders'
outbox kind (core/outbox claims, sends, records and retries). surveys/delivery.py reuses all of
it for invitations.
"""
