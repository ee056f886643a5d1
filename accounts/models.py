"""Staff users and teams."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_time_zone


class Team(models.Model):
    """A group of operators that shares a queue (first line, second line, sales desk)."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff member. Roles are the groups Operators, Supervisors and Admins."""

    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    # Empty means "the site default" (settings.LANGUAGE_CODE / settings.TIME_ZONE).
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )
    # The PBX names the ringing or answering operator by extension (or by username).
    phone_extension = models.CharField(
        _("phone extension"),
        max_length=32,
        blank=True,
        help_text=_("The operator's extension on the PBX, as telephony events name it."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                fields=["phone_extension"],
                condition=~models.Q(phone_extension=""),
                name="user_phone_extension_unique",
            )
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username
