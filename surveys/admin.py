"""The admin for surveys, invitations and the answers customers gave."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.forms import SurveyForm, question_field_name
from surveys.models import INVITATION_TOKEN_PERMISSION, Survey, SurveyInvitation, SurveyResponse
from surveys.services import (
    SurveyTooSoon,
    check_survey_spacing,
    create_invitation,
    relabel_sentiment,
)
from tickets.admin import adopt_saved

# A ticket's operator, channel and personalisation pass to the invitation about it unless the
# admin sets them; empty values here mean "not set".
INHERITED_FROM_TICKET = ("operator", "channel", "personalized")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyForm
    list_display = (
        "__str__",
        "kind",
        "scale",
        "satisfied_threshold",
        "trigger",
        "delay_days",
        "is_active",
    )
    list_filter = ("kind", "trigger", "is_active")
    search_fields = ("name",)
    ordering = ("kind", "name", "id")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active")}),
        (
            _("Question"),
            {"fields": tuple(question_field_name(code) for code, _name in settings.LANGUAGES)},
        ),
        (
            _("Scale"),
            {
                "fields": ("scale_min", "scale_max", "satisfied_threshold", "easy_end"),
                "description": _("Leave the scale and threshold empty for the kind's usual ones."),
            },
        ),
        (
            _("Sending"),
            {"fields": ("trigger", "delay_days", "repeat_after_days", "invitation_ttl_days")},
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(
        self, request: HttpRequest, obj: Survey | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ("created_at", "updated_at")
        # Answers already given were given to this kind of question; metrics read them so.
        return ("kind", "created_at", "updated_at")

    @admin.display(description=_("scale"))
    def scale(self, obj: Survey) -> str:
        return f"{obj.scale_min}-{obj.scale_max}"


class AnsweredFilter(admin.SimpleListFilter):
    title = _("answered")
    parameter_name = "answered"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[SurveyInvitation]
    ) -> QuerySet[SurveyInvitation]:
        if self.value() == "yes":
            return queryset.filter(response__isnull=False)
        if self.value() == "no":
            return queryset.filter(response__isnull=True)
        return queryset


def _response_of(invitation: SurveyInvitation) -> SurveyResponse | None:
    try:
        return invitation.response
    except SurveyResponse.DoesNotExist:
        return None


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "survey",
        "customer",
        "cause",
        "delivery_channel",
        "delivery_status",
        "expires_at",
        "answered",
        "score",
    )
    list_select_related = ("survey", "customer", "response")
    list_filter = (
        AnsweredFilter,
        "survey__kind",
        "survey",
        "delivery_status",
        "delivery_channel",
        "channel",
        "personalized",
    )
    date_hierarchy = "created_at"
    search_fields = ("customer__full_name", "=customer__external_id", "=token", "=cause")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "ticket", "purchase", "operator")
    add_fieldsets = (
        (None, {"fields": ("survey", "customer", "cause", "expires_at")}),
        (
            _("What it is about"),
            {"fields": ("ticket", "purchase", "operator", "channel", "personalized")},
        ),
        (_("Delivery"), {"fields": ("delivery_channel",)}),
    )
    fieldsets = (
        (None, {"fields": ("survey", "customer", "cause", "token", "expires_at", "answered")}),
        (
            _("What it is about"),
            {"fields": ("ticket", "purchase", "operator", "channel", "personalized")},
        ),
        (
            _("Delivery"),
            {
                "fields": (
                    "delivery_channel",
                    "delivery_status",
                    "attempts",
                    "last_error",
                    "created_at",
                    "sent_at",
                )
            },
        ),
    )
    # The token is the secret in the customer's link: shown only to holders of
    # surveys.view_invitation_token (no staff role), never edited.
    # Delivery bookkeeping belongs to the sending job.
    readonly_fields = (
        "token",
        "answered",
        "delivery_status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[SurveyInvitation]:
        # Joined here, not only in list_select_related (which the changelist skips for a queryset
        # that already joins): autocomplete results print each row with its relations too.
        return super().get_queryset(request).select_related("survey", "customer", "response")

    def get_fieldsets(self, request: HttpRequest, obj: SurveyInvitation | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        if request.user.has_perm(INVITATION_TOKEN_PERMISSION):
            return self.fieldsets
        # Whoever reads the token can answer as the customer: staff do not see it.
        return tuple(
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "token")})
            for name, options in self.fieldsets
        )

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Searching by token would confirm a guessed token: only for those who may read it.
        if request.user.has_perm(INVITATION_TOKEN_PERMISSION):
            return tuple(self.search_fields)
        return tuple(f for f in self.search_fields if f != "=token")

    def get_form(
        self,
        request: HttpRequest,
        obj: SurveyInvitation | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form

        class AddInvitationForm(form):  # type: ignore[valid-type,misc]
            """A new invitation obeys the spacing of surveys: a form error, not a 500."""

            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean()
                customer, survey = data.get("customer"), data.get("survey")
                if customer is None or survey is None:
                    return data
                cause = data.get("cause") or (
                    f"ticket:{data['ticket'].pk}" if data.get("ticket") else ""
                )
                if (
                    cause
                    and SurveyInvitation.objects.filter(
                        survey=survey, customer=customer, cause=cause
                    ).exists()
                ):
                    return data  # the service answers with the existing invitation
                try:
                    check_survey_spacing(customer_id=customer.pk, at=timezone.now())
                except SurveyTooSoon as exc:
                    self.add_error("customer", exc.message_dict["customer"])
                return data

        return AddInvitationForm

    def get_readonly_fields(
        self, request: HttpRequest, obj: SurveyInvitation | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ()
        fields: tuple[str, ...] = tuple(self.readonly_fields)
        if not request.user.has_perm(INVITATION_TOKEN_PERMISSION):
            fields = tuple(f for f in fields if f != "token")
        # Who was invited to what, and why, is fixed once the link may have gone out.
        return ("survey", "customer", "cause", *fields)

    def save_model(
        self, request: HttpRequest, obj: SurveyInvitation, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Through the service: once per cause, and the ticket's context unless the form set it.
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name not in {"survey", "customer", "cause", "ticket"}
            and not (name in INHERITED_FROM_TICKET and not value)
        }
        invitation, _created = create_invitation(
            survey=obj.survey, customer=obj.customer, cause=obj.cause, ticket=obj.ticket, **fields
        )
        adopt_saved(obj, invitation)

    @admin.display(description=_("answered"), boolean=True)
    def answered(self, obj: SurveyInvitation) -> bool:
        return _response_of(obj) is not None

    @admin.display(description=_("score"), ordering="response__score")
    def score(self, obj: SurveyInvitation) -> int | str:
        response = _response_of(obj)
        return response.score if response is not None else "—"


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = (
        "answered_at",
        "score",
        "survey_kind",
        "customer",
        "sentiment",
        "comment_excerpt",
    )
    list_select_related = ("invitation__survey", "invitation__customer")
    list_filter = ("invitation__survey__kind", "sentiment", "invitation__survey")
    date_hierarchy = "answered_at"
    search_fields = (
        "comment",
        "invitation__customer__full_name",
        "=invitation__customer__external_id",
    )
    ordering = ("-answered_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("invitation",)
    actions = ("relabel_sentiment",)

    @admin.action(
        description=_("Label the sentiment of the comments again"), permissions=["change"]
    )
    def relabel_sentiment(self, request: HttpRequest, queryset: QuerySet[SurveyResponse]) -> None:
        changed = relabel_sentiment(responses=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d comment got a new label.", "%(count)d comments got a new label.", changed
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[SurveyResponse]:
        # Joined here, not only in list_select_related (which the changelist skips for a queryset
        # that already joins): autocomplete results print each row with its relations too.
        return (
            super()
            .get_queryset(request)
            .select_related("invitation__survey", "invitation__customer")
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: SurveyResponse | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else ("invitation",)

    @admin.display(description=_("survey"), ordering="invitation__survey__kind")
    def survey_kind(self, obj: SurveyResponse) -> str:
        return obj.invitation.survey.get_kind_display()

    @admin.display(description=_("customer"), ordering="invitation__customer__full_name")
    def customer(self, obj: SurveyResponse) -> str:
        return str(obj.invitation.customer)

    @admin.display(description=_("comment"))
    def comment_excerpt(self, obj: SurveyResponse) -> str:
        return obj.comment if len(obj.comment) <= 80 else obj.comment[:79] + "…"
