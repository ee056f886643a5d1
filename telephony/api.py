"""POST /api/v1/telephony/events/: call events from a PBX, in Zammad's generic CTI shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import JSONParser
from core.api.permissions import HasPermissions
from core.api.throttling import WindowRateThrottle
from telephony.models import CallEvent, Direction
from telephony.services import record_call_event

# A PBX clock a little ahead of ours is normal; an event further in the future is a mistake.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class CallEventSerializer(serializers.Serializer):
    """One event of Zammad's generic CTI API (`from` is a field name Python cannot spell)."""

    event = serializers.ChoiceField(choices=CallEvent.Kind.choices)
    callId = serializers.CharField(max_length=100)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    to = serializers.CharField(max_length=64, required=False, allow_blank=True)
    user = serializers.ListField(
        child=serializers.CharField(max_length=150, allow_blank=True),
        required=False,
        max_length=50,
        help_text=_("The operators (username or phone extension); form field `user[]`."),
    )
    answeringNumber = serializers.CharField(max_length=64, required=False, allow_blank=True)
    queue = serializers.CharField(max_length=100, required=False, allow_blank=True)
    cause = serializers.CharField(max_length=64, required=False, allow_blank=True)
    at = serializers.DateTimeField(
        required=False,
        help_text=_("When the event happened at the PBX (not in Zammad's API); default: now."),
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=64, required=False, allow_blank=True)
        return fields

    def validate_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError(_("The event cannot happen in the future."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["event"] == CallEvent.Kind.NEW_CALL and not attrs.get("direction"):
            raise serializers.ValidationError(
                {"direction": [_("A new call needs its direction (in or out).")]}
            )
        return attrs


class CallEventResultSerializer(serializers.Serializer):
    call = serializers.IntegerField(help_text=_("The call record's id."))
    duplicate = serializers.BooleanField(help_text=_("The event had already been recorded."))
    customers = serializers.ListField(child=serializers.IntegerField())


def _plain(data: Any) -> dict[str, Any]:
    """A form's `user[]` (or `user`) as a list; a JSON body's `user[]` as `user`."""
    if isinstance(data, QueryDict):
        plain: dict[str, Any] = {
            key: data.get(key) for key in data if key not in {"user", "user[]"}
        }
        plain["user"] = data.getlist("user[]") + data.getlist("user")
        return plain
    if not isinstance(data, dict):
        return data  # the serializer says what is wrong with it
    plain = dict(data)
    users = plain.pop("user[]", None)
    if users is not None:
        plain["user"] = users
    if isinstance(plain.get("user"), str):
        plain["user"] = [plain["user"]]
    return plain


class PbxRateThrottle(WindowRateThrottle):
    """A PBX's events per second (settings.TELEPHONY_THROTTLE_RATE), not the API's per hour."""

    scope = "telephony"

    def get_rate(self) -> str | None:
        return settings.TELEPHONY_THROTTLE_RATE or None


class CallEventView(APIView):
    """A PBX reports a call event; only the Telephony role's token may (telephony.add_callevent)."""

    permission_classes = [HasPermissions]
    required_permissions = ("telephony.add_callevent",)
    # PBX scripts written for Zammad post form-encoded bodies; others send JSON.
    parser_classes = [JSONParser, parsers.FormParser]
    throttle_classes = [PbxRateThrottle]

    @extend_schema(
        tags=["telephony"],
        operation_id="telephony_events_create",
        request={
            "application/json": CallEventSerializer,
            "application/x-www-form-urlencoded": CallEventSerializer,
        },
        responses={200: CallEventResultSerializer},
        description=(
            "A call event in the shape of Zammad's generic CTI API: `event` (newCall, answer, "
            "hangup), `from`, `to`, `direction` (in, out), `callId`, `user[]` or "
            "`answeringNumber`, `queue`, `cause`. Each event is recorded once per call; "
            "the call record is the same whatever the order the events arrive in."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = CallEventSerializer(data=_plain(request.data))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = record_call_event(
            event=data["event"],
            call_id=data["callId"],
            direction=data.get("direction", ""),
            from_number=data.get("from", ""),
            to_number=data.get("to", ""),
            users=data.get("user", []),
            answering_number=data.get("answeringNumber", ""),
            queue=data.get("queue", ""),
            cause=data.get("cause", ""),
            at=data.get("at"),
        )
        body = {
            "call": result.call.pk,
            "duplicate": result.duplicate,
            "customers": result.customer_ids,
        }
        return Response(body, status=status.HTTP_200_OK)
