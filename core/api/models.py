"""Records the API keeps about its own requests."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key` header, replayed on retries.

    A row without `response_status` is a request still in flight, holding the key until
    `leased_until`; after that a retry may take the key over (the first request's worker died).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="idempotency_keys",
    )
    key = models.CharField(_("key"), max_length=255)
    request_method = models.CharField(_("method"), max_length=10)
    request_path = models.CharField(_("path"), max_length=2048)
    # SHA-256 of method, path and raw body: the same key with another request is refused.
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.JSONField(
        _("response body"), null=True, blank=True, encoder=DjangoJSONEncoder
    )
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    # The PostgreSQL backend process of the request holding the key: once that session is gone
    # (the worker died, the database restarted), a retry takes the key over before the lease ends.
    holder_backend_pid = models.PositiveIntegerField(
        _("holder's database session"), null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_key_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
