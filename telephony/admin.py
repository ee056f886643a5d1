from django.contrib import admin

from telephony.models import Call, CallEvent


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("call_id", "direction", "caller", "called", "queue", "rang_at", "answered_at")
    list_filter = ("direction", "queue", "cause")
    search_fields = ("call_id", "caller", "called")
    date_hierarchy = "rang_at"
    raw_id_fields = ("customer", "interaction", "called_back_by", "answered_by")
    filter_horizontal = ("operators",)


@admin.register(CallEvent)
class CallEventAdmin(admin.ModelAdmin):
    list_display = ("call_id", "event", "occurred_at", "received_at")
    list_filter = ("event",)
    search_fields = ("call_id",)
    readonly_fields = ("call_id", "event", "occurred_at", "payload", "received_at")
