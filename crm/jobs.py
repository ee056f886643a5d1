"""The scheduled jobs, by name: each a plain function of a day, plus one Celery task to run any.

`python manage.py run_job <name> [--date YYYY-MM-DD]` runs a job in the foreground; beat
runs them through `crm.run_job` (settings.CELERY_BEAT_SCHEDULE). Every job is idempotent
for its day, so running it again, by hand or by a second beat, changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from celery import shared_task
from django.utils import timezone

from core.audit import PATH_JOB, audit_path
from core.dates import site_today

Summary = dict[str, int | str]
JobFunction = Callable[..., Summary]


@dataclass(frozen=True)
class Job:
    name: str
    function: JobFunction
    description: str


JOBS: dict[str, Job] = {}


def register(name: str, description: str) -> Callable[[JobFunction], JobFunction]:
    """Add a job function to the registry under `name`."""

    def decorate(function: JobFunction) -> JobFunction:
        JOBS[name] = Job(name=name, function=function, description=description)
        return function

    return decorate


class UnknownJob(KeyError):
    """No job has this name."""


def run_job(name: str, *, on: dt.date | None = None) -> Summary:
    """Run the job `name` for day `on` (today in the site's time zone by default)."""
    try:
        job = JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None
    with audit_path(PATH_JOB):
        return job.function(on=on or site_today())


@register("escalations", "notify assignees and team leads of SLA clocks that became at risk or due")
def escalations(*, on: dt.date) -> Summary:
    """Each SLA crossing since the last run, once per person (`on` is not used: it is now)."""
    from tickets.live import escalate_sla

    return {"notified": escalate_sla()}


@register("reminders", "create the day's warranty, support and renewal reminders and send them")
def reminders(*, on: dt.date) -> Summary:
    """Create the reminders due on `on` and hand them to the outbox's workers in batches."""
    from core.outbox.tasks import kick
    from customers.reminders import create_due_reminders

    result = create_due_reminders(on=on)
    return {
        "day": on.isoformat(),
        "due": result.due,
        "created": result.created,
        "enqueued": kick("reminder"),
    }


@register("outbox", "take back a dead worker's messages and hand out every message now due")
def outbox(*, on: dt.date) -> Summary:
    """The outbox sweep (core/outbox): reminders, survey invitations, webhook deliveries.

    `on` is accepted for symmetry; the sweep works on the current time.
    """
    from core.outbox.tasks import sweep

    return dict(sweep())


@register("notification_emails", "enqueue the notification emails no task has claimed")
def notification_emails(*, on: dt.date) -> Summary:
    """Emails of notifications the broker never took (it was down); the claim on each makes a
    second send impossible. `on` is accepted for symmetry; the sweep works on the current time.
    """
    from core.queue import enqueue
    from live.email import unsent_notification_ids
    from live.tasks import email_notification_task

    email_ids = unsent_notification_ids(now=timezone.now())
    enqueued = sum(enqueue(email_notification_task, notification_id=pk) for pk in email_ids)
    return {"due": len(email_ids), "enqueued": enqueued}


@register("surveys", "create the survey invitations whose triggers fired")
def surveys(*, on: dt.date) -> Summary:
    """Invitations for resolved tickets, purchases and periodic surveys (surveys.triggers)."""
    from surveys.triggers import create_due_invitations

    return {"day": on.isoformat(), "created": create_due_invitations(on=on)}


@register("rollups", "roll up the fact metrics of every day not yet covered, up to two days ago")
def rollups(*, on: dt.date) -> Summary:
    """The dashboard's daily rollups (metrics.rollups): days rolled per family."""
    from metrics.rollups import roll_up_due

    return {"day": on.isoformat(), **roll_up_due(on=on)}


@register("snapshots", "store the previous day's metrics as MetricSnapshot rows")
def snapshots(*, on: dt.date) -> Summary:
    """The metrics of the day before `on`, stored once per day (metrics.snapshots)."""
    from metrics.snapshots import store_daily_snapshots

    day = on - dt.timedelta(days=1)
    return {"day": day.isoformat(), "stored": store_daily_snapshots(day=day)}


@register(
    "purchase_days",
    "summarise the purchase history per customer and day when the summary is missing or stale",
)
def purchase_days(*, on: dt.date) -> Summary:
    """Rebuild metrics.PurchaseDay whole when it is not current (never built on a database
    that had purchases, or built in another time zone); purchase writes keep it current
    otherwise. `on` is accepted for symmetry."""
    from metrics import purchase_days, purchase_days_upkeep

    if purchase_days.is_current():
        return {"rebuilt": 0}
    purchase_days_upkeep.rebuild()
    return {"rebuilt": 1}


@register("co_purchases", "recount the co-purchase pairs when a purchase write marked them stale")
def co_purchases(*, on: dt.date) -> Summary:
    """customers.co_purchases: new purchases keep the counts; changes, deletions, merges and
    bulk copies mark them stale and this job recounts them. `on` is accepted for symmetry."""
    from customers import co_purchases as counts

    return {"rebuilt": int(counts.rebuild_if_stale())}


@register("calls", "close the calls whose hangup never came (TELEPHONY_STALE_CALL_MINUTES)")
def calls(*, on: dt.date) -> Summary:
    """The sweep of open calls; `on` is accepted for symmetry, it works on the current time."""
    from telephony.services import sweep_stale_calls

    return {"day": on.isoformat(), "closed": sweep_stale_calls()}


@register("idempotency_keys", "delete the API's Idempotency-Key records past their replay window")
def idempotency_keys(*, on: dt.date) -> Summary:
    """Housekeeping of the API's replay records; works on the current time, like the sweep."""
    from core.api.idempotency import prune_expired_keys

    return {"deleted": prune_expired_keys(now=timezone.now())}


@register("mail", "poll the IMAP mailboxes (replies are sent, and lost ones found, by the outbox)")
def mail(*, on: dt.date) -> Summary:
    """The email channel's minute job; `on` is accepted for symmetry, it works on now."""
    from email_channel.imap import poll_all_mailboxes

    results = poll_all_mailboxes()
    return {"mailboxes": len(results), "fetched": sum(r.fetched for r in results)}


@shared_task(name="crm.run_job", acks_late=True)
def run_job_task(name: str, on: str | None = None) -> Summary:
    """Run a registered job in a worker; `on` is an ISO date, today by default."""
    return run_job(name, on=dt.date.fromisoformat(on) if on else None)
