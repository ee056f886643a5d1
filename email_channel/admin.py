from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from email_channel.models import EmailMessage, Mailbox, QuarantinedEmail
from email_channel.services import reingest_quarantined


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "team", "is_active", "imap_host", "last_polled_at")
    list_filter = ("is_active", "team")
    search_fields = ("name", "address")
    readonly_fields = ("imap_uidvalidity", "imap_last_uid", "last_polled_at", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "address", "team", "is_active")}),
        (
            _("IMAP"),
            {
                "fields": (
                    "imap_host",
                    "imap_port",
                    "imap_tls",
                    "imap_user",
                    "imap_secret_env",
                    "imap_folder",
                    "imap_done_folder",
                    "imap_uidvalidity",
                    "imap_last_uid",
                    "last_polled_at",
                )
            },
        ),
    )


@admin.register(EmailMessage)
class EmailMessageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "direction",
        "kind",
        "delivery_status",
        "from_address",
        "subject",
        "ticket",
    )
    list_filter = ("direction", "kind", "delivery_status", "mailbox")
    search_fields = ("message_id", "from_address", "subject")
    date_hierarchy = "created_at"
    raw_id_fields = ("ticket", "ticket_message")
    readonly_fields = ("message_id", "in_reply_to", "references", "imap_uid", "attempts", "sent_at")


@admin.register(QuarantinedEmail)
class QuarantinedEmailAdmin(admin.ModelAdmin):
    list_display = ("received_at", "mailbox", "from_header", "subject", "reason", "reingested_at")
    list_filter = ("mailbox", ("reingested_at", admin.EmptyFieldListFilter))
    search_fields = ("message_id", "from_header", "subject", "reason")
    readonly_fields = (
        "mailbox",
        "reason",
        "message_id",
        "from_header",
        "subject",
        "received_at",
        "reingested_at",
        "email",
    )
    exclude = ("raw",)
    actions = ("reingest",)

    @admin.action(description=_("Ingest again"), permissions=["change"])
    def reingest(self, request: HttpRequest, queryset: QuerySet[QuarantinedEmail]) -> None:
        actor = request.user if isinstance(request.user, User) else None
        done = failed = 0
        for item in queryset:
            result = reingest_quarantined(item=item, actor=actor)
            if result.outcome == "quarantined":
                failed += 1
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(n)d message ingested.", "%(n)d messages ingested.", done) % {"n": done},
                messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(n)d message still fails; see its reason.",
                    "%(n)d messages still fail; see their reasons.",
                    failed,
                )
                % {"n": failed},
                messages.WARNING,
            )
