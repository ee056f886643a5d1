"""The outbox: everything the product sends (reminders, survey invitations, webhook deliveries,
ticket replies) goes out through one claim / send / record loop with one failure policy.

What "sent exactly once" means here
-----------------------------------
A message is a row (a model with the `OutboxMessage` fields). Its state changes only through
`core.outbox.engine`, so:

* It is created once: the row is written in the transaction that causes it, under the cause's
  unique constraint, and the task that sends it is enqueued after that commit.
* It is never lost: a row stays `pending` until it is sent, failed or closed; the sweep
  (every OUTBOX_SWEEP_SECONDS) hands out whatever is due, whether its task was never queued
  (the broker was down) or died with its worker.
* At most one worker sends it at a time: a claim (a fresh token, SELECT ... FOR UPDATE SKIP
  LOCKED on PostgreSQL) moves it to `sending`; every write after that is guarded by the token.
  A claim older than OUTBOX_CLAIM_LEASE_SECONDS belongs to a dead worker and is taken back.
* It is handed to the provider at least once, and exactly once unless a worker dies after the
  provider accepted the message and before the row was marked sent. Then it is handed over
  again under the same idempotency key (`idempotency_key`, fixed when the row is created; the
  Message-ID of an email is made from it): a provider that deduplicates by key (SMS and
  messenger gateways with an Idempotency-Key header, webhook receivers that read
  X-CRM-Delivery / Idempotency-Key, mail clients threading by Message-ID) shows it once.
  Nothing on our side can do better than that: the provider's acceptance and our record of it
  are two systems.
* The timeline records it once: `on_sent` runs in the transaction that marks the row sent, and
  only when that transaction changed it.

Failures: a temporary error (timeout, 5xx, 429) tries again after a back-off that doubles from
OUTBOX_RETRY_BASE_SECONDS to OUTBOX_RETRY_MAX_SECONDS with OUTBOX_RETRY_JITTER either way;
a permanent one (4xx, invalid address) and the OUTBOX_MAX_ATTEMPTS-th temporary one end the
route: the kind's fallback (a reminder's next consented channel) starts over on another, or the
message is `failed` with the reason in `last_error`.

Modules: `models` (the abstract fields), `registry` (kinds), `engine` (claim, attempt, record,
recover), `policy` (back-off, lease), `errors`, `tasks` (Celery tasks and the sweep).
"""
