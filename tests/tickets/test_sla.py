"""SLA clocks: wall clock and business hours, at risk and breached, and the SQL filter agreeing."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from tests.factories import CustomerFactory, SLAPolicyFactory
from tickets.filters import TicketFilter
from tickets.models import Priority, SLAPolicy, Status, Ticket, TicketMessage
from tickets.services import add_message, change_ticket_priority, change_ticket_status, open_ticket
from tickets.sla import BusinessCalendar, SLAState, due_times, ticket_sla

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_18 = {str(day): [["09:00", "18:00"]] for day in range(1, 6)}


def moscow(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def _policy(**fields: object) -> SLAPolicy:
    defaults: dict[str, object] = {
        "priority": Priority.NORMAL,
        "first_response_minutes": 60,
        "resolution_minutes": 8 * 60,
    }
    defaults.update(fields)
    return SLAPolicyFactory.create(**defaults)


def _open(at: dt.datetime, priority: str = Priority.NORMAL) -> Ticket:
    return open_ticket(
        customer=CustomerFactory.create(),
        subject="Printer jams",
        channel="phone",
        priority=priority,
        created_at=at,
    )


# --- The calendar -------------------------------------------------------------------------


def test_working_time_skips_the_night_and_the_weekend() -> None:
    calendar = BusinessCalendar.parse(WEEKDAYS_9_TO_18, "Europe/Moscow")
    friday_five_pm = moscow(2026, 11, 20, 17, 0)
    # One hour left on Friday, the other three on Monday morning.
    assert calendar.add(friday_five_pm, dt.timedelta(hours=4)) == moscow(2026, 11, 23, 12, 0)
    assert calendar.between(friday_five_pm, moscow(2026, 11, 23, 12, 0)) == dt.timedelta(hours=4)


def test_a_ticket_opened_at_night_starts_its_clock_in_the_morning() -> None:
    calendar = BusinessCalendar.parse(WEEKDAYS_9_TO_18, "Europe/Moscow")
    tuesday_3_am = moscow(2026, 11, 24, 3, 0)
    assert calendar.add(tuesday_3_am, dt.timedelta(minutes=30)) == moscow(2026, 11, 24, 9, 30)


def test_holidays_are_not_working_time() -> None:
    schedule = {**WEEKDAYS_9_TO_18, "holidays": ["2026-11-23"]}
    calendar = BusinessCalendar.parse(schedule, "Europe/Moscow")
    friday_five_pm = moscow(2026, 11, 20, 17, 0)
    assert calendar.add(friday_five_pm, dt.timedelta(hours=2)) == moscow(2026, 11, 24, 10, 0)


def test_a_dst_night_counts_the_hours_that_really_pass() -> None:
    """Berlin springs forward at 02:00 on 29 March 2026: that night is one hour shorter."""
    calendar = BusinessCalendar.parse({"7": [["00:00", "24:00"]]}, "Europe/Berlin")
    midnight = dt.datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
    assert calendar.between(midnight, midnight + dt.timedelta(days=1)) == dt.timedelta(hours=23)
    due = calendar.add(midnight, dt.timedelta(hours=4))
    assert due.astimezone(BERLIN).hour == 5  # 4 real hours after midnight, clocks say 05:00


def test_intervals_across_midnight_end_at_midnight() -> None:
    calendar = BusinessCalendar.parse({"1": [["20:00", "24:00"]]}, "UTC")
    monday_8_pm = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)
    assert calendar.add(monday_8_pm, dt.timedelta(hours=4)) == dt.datetime(
        2026, 11, 24, 0, 0, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    "schedule",
    [
        {"8": [["09:00", "18:00"]]},
        {"1": [["18:00", "09:00"]]},
        {"1": [["9 am", "6 pm"]]},
        {"1": []},
        {"1": [["09:00"]]},
        {"1": [["09:00", "18:00"]], "holidays": ["someday"]},
    ],
)
def test_a_broken_schedule_is_a_validation_error_on_the_policy(
    db: None, schedule: dict[str, object]
) -> None:
    policy = SLAPolicy(
        name="Broken",
        priority=Priority.LOW,
        first_response_minutes=60,
        resolution_minutes=120,
        business_hours=schedule,
        time_zone="Europe/Moscow",
    )
    with pytest.raises(ValidationError) as error:
        policy.full_clean()
    assert "business_hours" in error.value.message_dict


# --- Due times when the SLA applies ----------------------------------------------------------


@pytest.mark.django_db
def test_without_business_hours_due_times_are_wall_clock() -> None:
    _policy()
    created = moscow(2026, 11, 20, 17, 0)
    ticket = _open(created)
    assert ticket.first_response_due_at == created + dt.timedelta(hours=1)
    assert ticket.first_response_at_risk_at == created + dt.timedelta(minutes=48)
    assert ticket.resolution_due_at == created + dt.timedelta(hours=8)
    assert ticket.resolution_at_risk_at == created + dt.timedelta(minutes=384)


@pytest.mark.django_db
def test_with_business_hours_due_times_count_only_working_time() -> None:
    _policy(business_hours=WEEKDAYS_9_TO_18, time_zone="Europe/Moscow")
    ticket = _open(moscow(2026, 11, 20, 17, 30))  # Friday, half an hour before closing
    # 30 min on Friday + 30 min on Monday.
    assert ticket.first_response_due_at == moscow(2026, 11, 23, 9, 30)
    assert ticket.first_response_at_risk_at == moscow(2026, 11, 23, 9, 18)
    # 8 h: 30 min on Friday, 7 h 30 on Monday.
    assert ticket.resolution_due_at == moscow(2026, 11, 23, 16, 30)


@pytest.mark.django_db
def test_changing_the_priority_recomputes_the_due_times_with_business_hours() -> None:
    _policy(business_hours=WEEKDAYS_9_TO_18, time_zone="Europe/Moscow")
    _policy(
        priority=Priority.URGENT,
        first_response_minutes=15,
        resolution_minutes=120,
        business_hours=WEEKDAYS_9_TO_18,
        time_zone="Europe/Moscow",
    )
    ticket = _open(moscow(2026, 11, 20, 17, 30))
    ticket = change_ticket_priority(ticket=ticket, priority=Priority.URGENT)
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == moscow(2026, 11, 20, 17, 45)
    assert ticket.resolution_due_at == moscow(2026, 11, 23, 10, 30)
    assert ticket.resolution_at_risk_at == moscow(2026, 11, 23, 10, 6)


# --- Clock states with a frozen clock ---------------------------------------------------------


@pytest.mark.django_db
def test_wall_clock_states_on_time_at_risk_breached() -> None:
    _policy()
    created = moscow(2026, 11, 20, 10, 0)
    ticket = _open(created)
    first = ticket_sla(ticket, now=created + dt.timedelta(minutes=30)).first_response
    assert first is not None and first.state == SLAState.ON_TIME
    assert first.remaining == dt.timedelta(minutes=30)
    at_risk = ticket_sla(ticket, now=created + dt.timedelta(minutes=50))
    assert at_risk.first_response is not None
    assert at_risk.first_response.state == SLAState.AT_RISK
    assert at_risk.state == SLAState.AT_RISK
    late = ticket_sla(ticket, now=created + dt.timedelta(minutes=75)).first_response
    assert late is not None and late.state == SLAState.BREACHED
    assert late.remaining == -dt.timedelta(minutes=15)


@pytest.mark.django_db
def test_the_deciding_clock_is_the_one_behind_the_badge() -> None:
    _policy()
    created = moscow(2026, 11, 20, 10, 0)
    ticket = _open(created)

    late_reply = ticket_sla(ticket, now=created + dt.timedelta(minutes=75))
    on_time = ticket_sla(ticket, now=created + dt.timedelta(minutes=5))

    # The reply is overdue while the resolution still has time: the list shows the reply.
    assert late_reply.state == SLAState.BREACHED
    assert late_reply.deciding is not None
    assert late_reply.deciding[0] == "first_response"
    assert late_reply.deciding[1].remaining == -dt.timedelta(minutes=15)
    assert on_time.deciding is not None and on_time.deciding[0] == "first_response"
    assert ticket_sla(Ticket(created_at=created), now=created).deciding is None


@pytest.mark.django_db
def test_business_hours_clock_does_not_run_over_the_weekend(operator: object) -> None:
    _policy(business_hours=WEEKDAYS_9_TO_18, time_zone="Europe/Moscow")
    ticket = _open(moscow(2026, 11, 20, 17, 30))
    sunday = ticket_sla(ticket, now=moscow(2026, 11, 22, 12, 0)).first_response
    assert sunday is not None
    assert sunday.state == SLAState.ON_TIME
    assert sunday.remaining == dt.timedelta(minutes=30)  # the wall clock would say breached
    assert sunday.target == dt.timedelta(hours=1)
    monday = ticket_sla(ticket, now=moscow(2026, 11, 23, 9, 20)).first_response
    assert monday is not None and monday.state == SLAState.AT_RISK
    assert monday.remaining == dt.timedelta(minutes=10)


@pytest.mark.django_db
def test_first_response_and_resolution_times_with_business_hours(operator: object) -> None:
    _policy(business_hours=WEEKDAYS_9_TO_18, time_zone="Europe/Moscow")
    ticket = _open(moscow(2026, 11, 20, 17, 30))
    add_message(
        ticket=ticket,
        body="We are on it.",
        author_kind=TicketMessage.Author.OPERATOR,
        at=moscow(2026, 11, 23, 9, 10),
    )
    change_ticket_status(ticket=ticket, to_status=Status.RESOLVED, at=moscow(2026, 11, 23, 17, 0))
    ticket.refresh_from_db()
    sla = ticket_sla(ticket, now=moscow(2026, 11, 25, 12, 0))
    assert sla.first_response is not None and sla.resolution is not None
    assert sla.first_response.state == SLAState.MET
    assert sla.first_response.remaining == dt.timedelta(minutes=20)
    assert sla.resolution.state == SLAState.BREACHED  # due Monday 16:30
    assert sla.resolution.remaining == -dt.timedelta(minutes=30)


@pytest.mark.django_db
def test_a_ticket_without_policy_has_no_clocks() -> None:
    ticket = _open(moscow(2026, 11, 20, 10, 0), priority=Priority.LOW)
    assert ticket_sla(ticket, now=moscow(2026, 11, 21, 10, 0)).state == SLAState.NONE


@pytest.mark.django_db
@pytest.mark.parametrize("business_hours", [None, WEEKDAYS_9_TO_18])
def test_the_queue_filter_and_the_displayed_state_agree_at_every_moment(
    business_hours: dict[str, object] | None,
) -> None:
    _policy(business_hours=business_hours, time_zone="Europe/Moscow")
    start = moscow(2026, 11, 20, 16, 0)
    quiet = _open(start)
    answered = _open(start)
    add_message(
        ticket=answered,
        body="Hello",
        author_kind=TicketMessage.Author.OPERATOR,
        at=start + dt.timedelta(minutes=5),
    )
    resolved = _open(start)
    change_ticket_status(
        ticket=resolved, to_status=Status.RESOLVED, at=start + dt.timedelta(minutes=70)
    )
    tickets = list(Ticket.objects.select_related("sla_policy").order_by("pk"))
    # Every 17 minutes over four days, across nights and the weekend.
    for step in range(0, 4 * 24 * 60, 17):
        now = start + dt.timedelta(minutes=step)
        for wanted in ("at_risk", "breached"):
            listed = set(
                TicketFilter(
                    {"sla": wanted}, queryset=Ticket.objects.all(), now=now
                ).qs.values_list("pk", flat=True)
            )
            shown = {t.pk for t in tickets if ticket_sla(t, now=now).state == wanted}
            assert listed == shown, (now, wanted)
    assert {quiet.pk, answered.pk, resolved.pk} == {t.pk for t in tickets}


def test_due_times_never_come_before_their_at_risk_moments() -> None:
    policy = SLAPolicy(
        first_response_minutes=7,
        resolution_minutes=601,
        business_hours=WEEKDAYS_9_TO_18,
        time_zone="Asia/Vladivostok",
    )
    times = due_times(policy, start=moscow(2026, 11, 21, 23, 59))
    assert times.first_response_at_risk_at <= times.first_response_due_at
    assert times.resolution_at_risk_at <= times.resolution_due_at
