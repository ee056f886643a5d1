"""The admin for staff users and teams; roles are the groups Operators, Supervisors, Admins."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the team, language and time zone an operator works in."""

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Team and preferences"), {"fields": ("team", "language", "time_zone")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ),
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Team and preferences"), {"fields": ("team", "language", "time_zone")}),
    )
    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "team",
        "roles",
        "is_staff",
        "is_active",
        "last_login",
    )
    list_select_related = ("team",)
    list_filter = ("groups", "team", "is_staff", "is_superuser", "is_active")
    ordering = ("username",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        # One query for the roles of the whole page.
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all())) or "—"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(n_members=Count("members"))

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj: Team) -> int:
        return int(getattr(obj, "n_members", 0))
