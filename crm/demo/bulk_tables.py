"""The tables generate_data fills, and the columns of each row it generates, in row order."""

from __future__ import annotations

from crm.demo.writers import Columns
from customers.models import ContactPoint, Customer, Interaction, Interest, Offer, Purchase
from surveys.models import SurveyInvitation, SurveyResponse
from tickets.models import Ticket, TicketContact, TicketEvent, TicketMessage

CUSTOMER = Columns(
    Customer,
    (
        "id", "kind", "full_name", "company", "external_id", "language", "time_zone", "segment",
        "lifecycle", "acquisition_channel", "acquisition_campaign", "customer_since",
        "preferred_channel", "consent_reminders", "consent_marketing", "notes", "created_at",
        "updated_at",
    ),
)  # fmt: skip
CONTACT = Columns(
    ContactPoint,
    (
        "id", "customer_id", "kind", "value", "normalised_value", "messenger", "label",
        "is_primary", "created_at",
    ),
)  # fmt: skip
PURCHASE = Columns(
    Purchase,
    (
        "id", "customer_id", "product_id", "external_id", "quantity", "amount", "currency",
        "channel", "status", "purchased_at", "warranty_ends_on", "support_ends_on",
        "subscription_ends_on", "created_at", "updated_at",
    ),
)  # fmt: skip
INTEREST = Columns(
    Interest,
    (
        "id", "customer_id", "product_id", "description", "external_id", "kind", "channel",
        "status", "quantity", "amount", "currency", "occurred_at", "purchase_id", "closed_at",
        "created_at", "updated_at",
    ),
)  # fmt: skip
INTERACTION = Columns(
    Interaction,
    (
        "id", "customer_id", "kind", "channel", "direction", "contact_address", "external_id",
        "started_at", "answered_at", "ended_at", "operator_id", "personalized", "summary",
        "created_at", "updated_at",
    ),
)  # fmt: skip
OFFER = Columns(
    Offer,
    ("id", "customer_id", "product_id", "rule", "reason", "status", "offered_at",
     "responded_at", "operator_id"),
)  # fmt: skip
TICKET = Columns(
    Ticket,
    (
        "id", "customer_id", "subject", "channel", "status", "priority", "assignee_id",
        "team_id", "external_id", "personalized", "customer_contacts", "reopened_count",
        "sla_policy_id", "first_response_due_at", "resolution_due_at", "created_at",
        "first_response_at", "resolved_at", "closed_at", "updated_at",
        "first_response_at_risk_at", "resolution_at_risk_at",
    ),
)  # fmt: skip
TICKET_CONTACT = Columns(TicketContact, ("id", "ticket_id", "interaction_id", "created_at"))
MESSAGE = Columns(
    TicketMessage,
    ("id", "ticket_id", "author_kind", "author_user_id", "body", "is_internal", "channel",
     "created_at", "sentiment"),
)  # fmt: skip
EVENT = Columns(
    TicketEvent, ("id", "ticket_id", "kind", "actor_id", "from_value", "to_value", "created_at")
)
INVITATION = Columns(
    SurveyInvitation,
    (
        "id", "survey_id", "customer_id", "token", "cause", "ticket_id", "operator_id",
        "channel", "personalized", "delivery_channel", "delivery_status", "attempts",
        "last_error", "created_at", "sent_at", "expires_at", "idempotency_key",
    ),
)  # fmt: skip
RESPONSE = Columns(
    SurveyResponse, ("id", "invitation_id", "score", "comment", "sentiment", "answered_at")
)
# Parents before children, so that every batch can be written table by table.
TABLES = (
    CUSTOMER, CONTACT, PURCHASE, INTEREST, INTERACTION, OFFER, TICKET, TICKET_CONTACT,
    MESSAGE, EVENT, INVITATION, RESPONSE,
)  # fmt: skip


def table_label(columns: Columns) -> str:
    """What the table holds, as people say it ("ticket messages")."""
    return str(columns.model._meta.verbose_name_plural)
