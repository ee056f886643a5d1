"""The customer card over the API: `GET /api/v1/customers/{id}/card/` (route `customer-card`).

One definition of the card: the view runs `customers.card.customer_card()`, the very sections
the operator's page runs (same loaders, same permission filter, same bounded queries), and
writes each with its section's `serializer`. The OpenAPI component is built from the registry
as well, so a section registered later (the metrics app's, say) appears in both at once.
"""

from __future__ import annotations

import functools
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import HasPermissions
from core.api.schema import AutoSchema
from core.api.serializers import UTCDateTimeField
from customers.card import CardSection, card_sections, customer_card, section_keys
from customers.models import Customer

SECTIONS_PARAM = "sections"


def parse_sections(raw: str | None) -> tuple[str, ...] | None:
    """The section keys named by `?sections=a,b` (None: all); ValidationError on unknown keys."""
    if raw is None:
        return None
    wanted = tuple(dict.fromkeys(key.strip() for key in raw.split(",") if key.strip()))
    known = section_keys()
    if not wanted:
        raise serializers.ValidationError(
            {SECTIONS_PARAM: [_("Name at least one section: %(known)s.") % _known(known)]}
        )
    unknown = [key for key in wanted if key not in known]
    if unknown:
        raise serializers.ValidationError(
            {
                SECTIONS_PARAM: [
                    _("Unknown section: %(unknown)s. Known sections: %(known)s.")
                    % {"unknown": ", ".join(unknown), **_known(known)}
                ]
            }
        )
    return wanted


def _known(known: list[str]) -> dict[str, str]:
    return {"known": ", ".join(known)}


@functools.cache
def _card_serializer(sections: tuple[tuple[str, type[serializers.BaseSerializer]], ...]) -> Any:
    fields: dict[str, Any] = {
        key: serializer(required=False, help_text=_section_help(key))
        for key, serializer in sections
    }
    sections_serializer = type(
        "CustomerCardSectionsSerializer",
        (serializers.Serializer,),
        {
            **fields,
            "__module__": __name__,
            "__doc__": (
                "The card's sections keyed by section key, in card order. A section is "
                "absent when the user lacks its permission or `?sections=` left it out."
            ),
        },
    )

    class CustomerCardSerializer(serializers.Serializer):
        """Everything the operator's card shows for one customer, section by section."""

        customer_id = serializers.IntegerField()
        generated_at = UTCDateTimeField(help_text="The moment the card was computed (UTC).")
        section_order = serializers.ListField(
            child=serializers.CharField(), help_text="The keys of `sections` in card order."
        )
        sections = sections_serializer()

    return CustomerCardSerializer


def _section_help(key: str) -> str:
    section: CardSection | None = next((s for s in card_sections() if s.key == key), None)
    if section is None:
        return key
    needs = f" Requires the `{section.permission}` permission." if section.permission else ""
    return f"{section.title} (position {section.position}).{needs}"


def card_serializer() -> Any:
    """The serializer describing the card response, for every section registered now."""
    return _card_serializer(tuple((s.key, s.serializer) for s in card_sections()))


class CardSchema(AutoSchema):
    """Builds the response component when the schema is generated, not at import: every app
    has registered its sections by then."""

    def get_response_serializers(self) -> Any:
        return card_serializer()


class CustomerCardView(APIView):
    """The customer card in one response, from a bounded number of queries."""

    permission_classes = [HasPermissions]
    required_permissions = ("customers.view_customer",)
    schema = CardSchema()

    @extend_schema(
        tags=["customers"],
        operation_id="customers_card",
        parameters=[
            OpenApiParameter(
                SECTIONS_PARAM,
                OpenApiTypes.STR,
                description=(
                    "Comma-separated section keys to return only these (e.g. "
                    "`identity,tickets`); an unknown key is a 400. Default: every section "
                    "the user may see."
                ),
            )
        ],
        description=(
            "Everything the operator's card shows: identity, contacts, tickets with SLA "
            "clocks, purchases with term ends and reminders, abandoned interests, next best "
            "offers with reasons, satisfaction and value, the newest timeline page. Sections "
            "the user lacks the permission for are left out, as on the page. The same number "
            "of queries whatever the customer's history. Times in ISO 8601 UTC; money as "
            "decimal strings beside their currency."
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        only = parse_sections(request.query_params.get(SECTIONS_PARAM))
        now = timezone.now()
        try:
            card = customer_card(pk, user=request.user, now=now, only=only)
        except Customer.DoesNotExist:
            raise NotFound(_("No customer with this ID.")) from None
        sections = card.serialize(request=request)
        return Response(
            {
                "customer_id": card.customer.pk,
                "generated_at": UTCDateTimeField().to_representation(now),
                "section_order": list(sections),
                "sections": sections,
            }
        )
