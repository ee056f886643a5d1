"""Survey invitations as an outbox kind (core/outbox), on the customers' channel machinery.

Consent, opt-outs and quiet hours apply as for reminders; an expired invitation is never sent.
The sweep also creates the invitations of tickets resolved while the broker was down
(`surveys.triggers.invite_for_recent_resolutions`), so they go out within minutes.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from core.outbox.registry import Decision, Defer, Hold, OutboxKind, Send
from customers.delivery.backends import OutgoingMessage, get_backend
from customers.delivery.messages import render_message
from customers.delivery.quiet_hours import customer_zone, next_allowed_time
from customers.delivery.routing import NoRoute, Route, choose_route
from customers.delivery.service import provider_key, record_outbound_message
from customers.models import Interaction
from surveys.models import SurveyInvitation
from surveys.triggers import invite_for_recent_resolutions

KIND = "survey_invitation"
# The public answer page (surveys/urls.py): short enough for an SMS.
SURVEY_PATH = "/s/{token}/"
DeliveryStatus = SurveyInvitation.DeliveryStatus


def survey_url(invitation: SurveyInvitation) -> str:
    """The absolute link to the invitation's answer page."""
    return settings.SITE_URL + SURVEY_PATH.format(token=invitation.token)


def prepare_invitation(invitation: SurveyInvitation, now: dt.datetime) -> Decision:
    """Whether the invitation may go now, and on which route."""
    if invitation.is_expired(now):
        return Hold(DeliveryStatus.SKIPPED, _("The invitation expired unsent."))
    customer = invitation.customer
    route = choose_route(
        customer=customer,
        contacts=customer.contact_points.all(),
        preferred=customer.preferred_channel,
    )
    if isinstance(route, NoRoute):
        return Hold(DeliveryStatus.SKIPPED, route.reason)
    allowed = next_allowed_time(now, customer_zone(customer.time_zone))
    if allowed > now:
        return Defer(allowed)
    return Send(payload=route, fields={"delivery_channel": route.channel})


def invitation_message(*, invitation: SurveyInvitation, route: Route) -> OutgoingMessage:
    """The invitation in the customer's language: the question and the link to answer it."""
    customer = invitation.customer
    language = customer.language
    return render_message(
        route=route,
        language=language,
        template_prefix="surveys/email/invitation",
        context={
            "customer_name": customer.full_name,
            "question": invitation.survey.question_for(language),
            "survey_url": survey_url(invitation),
            "expires_at": invitation.expires_at,
        },
        idempotency_key=provider_key(invitation, route.channel),
    )


def send_invitation(invitation: SurveyInvitation, route: Route, now: dt.datetime) -> None:
    get_backend(route.channel).send(invitation_message(invitation=invitation, route=route))


def invitation_sent(invitation: SurveyInvitation, route: Route, now: dt.datetime) -> None:
    """The sent invitation on the customer's timeline."""
    with translation.override(settings.LANGUAGE_CODE):
        summary = _("Survey invitation sent: %(survey)s.") % {
            "survey": invitation.survey.get_kind_display()
        }
    record_outbound_message(
        customer_id=invitation.customer_id,
        kind=Interaction.Kind.SURVEY,
        route=route,
        at=now,
        summary=summary,
    )


INVITATIONS = OutboxKind(
    name=KIND,
    model=SurveyInvitation,
    prepare=prepare_invitation,
    send=send_invitation,
    on_sent=invitation_sent,
    select_related=("customer", "survey"),
    before_sweep=invite_for_recent_resolutions,
)
