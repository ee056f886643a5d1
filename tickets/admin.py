"""The admin for tickets, their conversation, history and SLA policies.

A new ticket may start in any active status; after that its status is no form field: it moves
through the named actions ("Mark resolved", "Close", ...), which call
`tickets.services.change_ticket_status` like every other caller, so each move is checked against
the workflow and recorded with the admin who made it.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from core.admin_base import ComputedAdmin, ReadOnlyTabularInline
from tickets.models import (
    ACTIVE_STATUSES,
    SLAPolicy,
    Status,
    Ticket,
    TicketAttachment,
    TicketContact,
    TicketEvent,
    TicketMessage,
)
from tickets.services import (
    add_message,
    assign_ticket,
    change_ticket_priority,
    change_ticket_status,
    may_work_tickets,
    open_ticket,
    record_customer_contact,
)

# "#123" or "123": how operators and customers quote a ticket number. Eighteen digits keep the
# number inside a 64-bit key.
TICKET_NUMBER = re.compile(r"^#?(\d{1,18})$")


def adopt_saved(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved form instance the row a service created.

    The admin goes on to save inlines against, log and redirect to the instance it built; a
    service that creates the row returns another one.
    """
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


def _acting_user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


# Staff write as operators (or leave system notes); a customer's message comes only from the
# customer's channels (email, telephony, the API's integrations), never typed in the admin.
STAFF_AUTHOR_KINDS = (TicketMessage.Author.OPERATOR, TicketMessage.Author.SYSTEM)


def staff_author_field(db_field: Any, kwargs: dict[str, Any]) -> None:
    """Limit a message's author kind to what staff may write."""
    if db_field.name == "author_kind":
        kwargs["choices"] = [(kind.value, kind.label) for kind in STAFF_AUTHOR_KINDS]
        kwargs.setdefault("initial", TicketMessage.Author.OPERATOR)


class TicketMessageInline(admin.TabularInline):
    """The conversation, oldest first. Sent messages stay as they were; new ones are added."""

    model = TicketMessage
    fields = ("created_at", "author_kind", "author_user", "body", "is_internal", "channel")
    readonly_fields = ("created_at", "author_user")
    extra = 0
    can_delete = False
    verbose_name_plural = _("conversation")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketMessage]:
        return super().get_queryset(request).select_related("author_user")

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        staff_author_field(db_field, kwargs)
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False


class TicketEventInline(ReadOnlyTabularInline):
    """The ticket's history: written by the services, read here."""

    model = TicketEvent
    fields = ("created_at", "kind", "from_value", "to_value", "actor")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        return super().get_queryset(request).select_related("actor")


class TicketContactInline(ReadOnlyTabularInline):
    """The customer's contacts about this ticket; a new one is recorded on its own page."""

    model = TicketContact
    fields = ("interaction", "created_at")
    verbose_name_plural = _("customer contacts")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketContact]:
        return super().get_queryset(request).select_related("interaction")


class TicketAdminForm(forms.ModelForm):
    def clean_assignee(self) -> User | None:
        assignee: User | None = self.cleaned_data.get("assignee")
        # The service refuses this too; saying it here shows it on the form instead of failing.
        if assignee is not None and not may_work_tickets(assignee):
            raise ValidationError(_("Assign the ticket to active staff who may work tickets."))
        return assignee


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = (
        "number",
        "subject",
        "customer",
        "status",
        "priority",
        "channel",
        "assignee",
        "team",
        "created_at",
        "resolution_due_at",
        "resolved_at",
    )
    list_display_links = ("number", "subject")
    list_select_related = ("customer", "assignee", "team")
    list_filter = ("status", "priority", "channel", "team", "assignee", "personalized")
    date_hierarchy = "created_at"
    search_fields = (
        "id__exact",
        "subject",
        "customer__full_name",
        "=customer__external_id",
        "=external_id",
    )
    search_help_text = _("Ticket number (#123), subject, customer name or external ID.")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "assignee", "purchase")
    inlines = (TicketMessageInline, TicketEventInline, TicketContactInline)
    fieldsets = (
        (None, {"fields": ("customer", "subject", "channel", "status", "priority")}),
        (_("Assignment"), {"fields": ("assignee", "team")}),
        (
            _("Context"),
            {"fields": ("purchase", "external_id", "personalized", "customer_contacts")},
        ),
        (
            _("Times"),
            {
                "fields": (
                    "created_at",
                    "sla_policy",
                    "first_response_due_at",
                    "resolution_due_at",
                    "first_response_at",
                    "resolved_at",
                    "closed_at",
                    "reopened_count",
                    "updated_at",
                )
            },
        ),
    )
    # Set by the services: the SLA when the ticket opens, the rest as it moves.
    always_read_only = (
        "customer_contacts",
        "sla_policy",
        "first_response_due_at",
        "resolution_due_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "reopened_count",
        "updated_at",
    )
    actions = ("mark_open", "mark_pending", "mark_resolved", "close", "reopen")

    def get_readonly_fields(
        self, request: HttpRequest, obj: Ticket | None = None
    ) -> tuple[str, ...]:
        if obj is None:  # a new ticket may start in any active status
            return self.always_read_only
        return ("status", "created_at", *self.always_read_only)

    def formfield_for_choice_field(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.TypedChoiceField | None:
        if db_field.name == "status":
            # Only shown when adding: a ticket cannot be born resolved or closed.
            kwargs["choices"] = [(status.value, status.label) for status in ACTIVE_STATUSES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str
    ) -> tuple[QuerySet[Ticket], bool]:
        """Also find a ticket by its number quoted as "#123"."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = TICKET_NUMBER.match(search_term.strip())
        if match:
            results = results | queryset.filter(pk=int(match.group(1)))
        return results, may_have_duplicates

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        if change:
            # Assignment and priority are named actions with their own history and SLA effect.
            actor = _acting_user(request)
            assignee, priority = obj.assignee, obj.priority
            stored = Ticket.objects.values("assignee_id", "priority").get(pk=obj.pk)
            obj.assignee_id, obj.priority = stored["assignee_id"], stored["priority"]
            super().save_model(request, obj, form, change)
            if "assignee" in form.changed_data:
                assign_ticket(ticket=obj, assignee=assignee, actor=actor)
            if "priority" in form.changed_data:
                change_ticket_priority(ticket=obj, priority=priority, actor=actor)
            obj.refresh_from_db()
            return
        # A new ticket opens through the service: its SLA and its "created" event.
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name not in {"customer", "subject", "channel"}
        }
        ticket = open_ticket(
            customer=obj.customer,
            subject=obj.subject,
            channel=obj.channel,
            actor=_acting_user(request),
            **fields,
        )
        adopt_saved(obj, ticket)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not TicketMessage:
            super().save_formset(request, form, formset, change)
            return
        # New messages go through the service: the first operator reply is the first response,
        # a customer's message reopens a pending ticket.
        author = _acting_user(request)
        drafts = [message for message in formset.save(commit=False) if message._state.adding]
        formset.new_objects = [
            add_message(
                ticket=form.instance,
                body=draft.body,
                author_kind=draft.author_kind,
                author_user=author if draft.author_kind == TicketMessage.Author.OPERATOR else None,
                is_internal=draft.is_internal,
                channel=draft.channel,
            )
            for draft in drafts
        ]

    @admin.display(description=_("number"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return f"#{obj.pk}"

    def _move(
        self,
        request: HttpRequest,
        queryset: QuerySet[Ticket],
        to_status: str,
        *,
        from_statuses: tuple[str, ...] | None = None,
    ) -> None:
        """Move each ticket that may go to `to_status`; report the ones that may not, and why."""
        actor = _acting_user(request)
        label = Status(to_status).label
        moved: list[Ticket] = []
        unchanged: list[Ticket] = []
        refused: list[str] = []
        for ticket in queryset.order_by("pk"):
            if ticket.status == to_status:
                unchanged.append(ticket)
                continue
            if from_statuses is not None and ticket.status not in from_statuses:
                refused.append(
                    _("#%(number)s: only a resolved ticket can be reopened.")
                    % {"number": ticket.pk}
                )
                continue
            try:
                change_ticket_status(ticket=ticket, to_status=to_status, actor=actor)
            except ValidationError as exc:
                refused.append(f"#{ticket.pk}: {' '.join(exc.messages)}")
            else:
                moved.append(ticket)
        if moved:
            self.message_user(
                request,
                ngettext(
                    "%(count)d ticket moved to “%(status)s”.",
                    "%(count)d tickets moved to “%(status)s”.",
                    len(moved),
                )
                % {"count": len(moved), "status": label},
                messages.SUCCESS,
            )
        if unchanged:
            self.message_user(
                request,
                ngettext(
                    "%(count)d ticket was already “%(status)s”.",
                    "%(count)d tickets were already “%(status)s”.",
                    len(unchanged),
                )
                % {"count": len(unchanged), "status": label},
                messages.INFO,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d ticket could not move to “%(status)s”: %(reasons)s",
                    "%(count)d tickets could not move to “%(status)s”: %(reasons)s",
                    len(refused),
                )
                % {"count": len(refused), "status": label, "reasons": " ".join(refused)},
                messages.WARNING,
            )

    @admin.action(description=_("Mark open"), permissions=["change"])
    def mark_open(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Status.OPEN)

    @admin.action(description=_("Mark pending"), permissions=["change"])
    def mark_pending(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Status.PENDING)

    @admin.action(description=_("Mark resolved"), permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Status.RESOLVED)

    @admin.action(description=_("Close"), permissions=["change"])
    def close(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Status.CLOSED)

    @admin.action(description=_("Reopen"), permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Status.OPEN, from_statuses=(Status.RESOLVED,))


@admin.register(TicketMessage)
class TicketMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ticket", "author_kind", "author_user", "is_internal", "excerpt")
    list_select_related = ("ticket", "author_user")
    list_filter = ("author_kind", "is_internal", "channel")
    date_hierarchy = "created_at"
    search_fields = ("body", "ticket__id__exact", "ticket__subject")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("ticket", "author_user")

    def get_readonly_fields(
        self, request: HttpRequest, obj: TicketMessage | None = None
    ) -> tuple[str, ...]:
        # A new message is dated and signed by the service, as it is sent; who wrote a message
        # is history and never changes.
        if obj is None:
            return ("created_at", "author_user")
        return ("created_at", "author_kind", "author_user")

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        staff_author_field(db_field, kwargs)
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: TicketMessage, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        author = _acting_user(request)
        message = add_message(
            ticket=obj.ticket,
            body=obj.body,
            author_kind=obj.author_kind,
            author_user=author if obj.author_kind == TicketMessage.Author.OPERATOR else None,
            is_internal=obj.is_internal,
            channel=obj.channel,
        )
        adopt_saved(obj, message)

    @admin.display(description=_("text"))
    def excerpt(self, obj: TicketMessage) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    """History is written by the services and never edited."""

    list_display = ("created_at", "ticket", "kind", "from_value", "to_value", "actor")
    list_select_related = ("ticket", "actor")
    list_filter = ("kind", "actor")
    date_hierarchy = "created_at"
    search_fields = ("ticket__id__exact", "ticket__subject")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TicketEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TicketEvent | None = None) -> bool:
        return False


class TicketContactForm(forms.ModelForm):
    class Meta:
        model = TicketContact
        fields = ("ticket", "interaction")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        ticket, interaction = cleaned.get("ticket"), cleaned.get("interaction")
        # The service refuses this too; saying it here shows it on the form instead of failing.
        if ticket and interaction and interaction.customer_id != ticket.customer_id:
            raise ValidationError({"interaction": _("The contact is from another customer.")})
        return cleaned


@admin.register(TicketContact)
class TicketContactAdmin(admin.ModelAdmin):
    """Linking a contact to a ticket counts it, through the service; a link is not edited."""

    form = TicketContactForm
    list_display = ("created_at", "ticket", "interaction")
    list_select_related = ("ticket", "interaction")
    date_hierarchy = "created_at"
    search_fields = ("ticket__id__exact", "ticket__subject", "=interaction__external_id")
    ordering = ("-created_at", "-id")
    autocomplete_fields = ("ticket", "interaction")

    def has_change_permission(self, request: HttpRequest, obj: TicketContact | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TicketContact, form: Any, change: bool) -> None:
        record_customer_contact(
            ticket=obj.ticket, interaction=obj.interaction, actor=_acting_user(request)
        )
        adopt_saved(obj, TicketContact.objects.get(interaction=obj.interaction))


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "time_zone",
        "is_active",
    )
    list_filter = ("priority", "is_active")
    search_fields = ("name",)
    ordering = ("priority", "name")


@admin.register(TicketAttachment)
class TicketAttachmentAdmin(ComputedAdmin):
    """Files that came with a message or were added to a reply: listed here, opened from the
    ticket page (which checks who may see the ticket); the stored file's address is not shown."""

    list_display = ("created_at", "filename", "content_type", "size", "is_inline", "message")
    list_select_related = ("message",)
    list_filter = ("is_inline", "content_type")
    search_fields = ("filename", "message__ticket__id__exact")
    ordering = ("-created_at", "-id")
    exclude = ("file",)
    show_full_result_count = False
