"""Audit history: who changed a record, when, through which path, from what to what.

django-auditlog records the changes of the models named in
`settings.AUDITLOG_INCLUDE_TRACKING_MODELS` (old and new values per field, in
`auditlog.LogEntry.changes`). This module adds the two things
auditlog leaves to the project: the acting user of an API call authenticated by a token (known
only after DRF has authenticated, so auditlog's own middleware would miss it) and the *path*
the change came through, stored as `additional_data["path"]`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

PATH_UI = "ui"
PATH_API = "api"
PATH_API_TOKEN = "api_token"
PATH_ADMIN = "admin"
PATH_JOB = "job"
PATH_COMMAND = "command"
PATH_SYSTEM = "system"

PATH_LABELS = {
    PATH_UI: _("operator UI"),
    PATH_API: _("API"),
    PATH_API_TOKEN: _("API token"),
    PATH_ADMIN: _("admin"),
    PATH_JOB: _("scheduled job"),
    PATH_COMMAND: _("management command"),
    PATH_SYSTEM: _("system"),
}


@dataclass(frozen=True)
class AuditContext:
    path: str
    request: HttpRequest | None = None
    actor: Any = None


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "crm_audit_context", default=None
)


@contextmanager
def audit_path(path: str, *, actor: Any = None) -> Iterator[None]:
    """Record the changes made inside the block as made through `path` (by `actor`, if given)."""
    token = _current.set(AuditContext(path=path, actor=actor))
    try:
        yield
    finally:
        _current.reset(token)


def path_of_request(request: HttpRequest) -> str:
    """The path a request's changes come through, from its URL and its authentication."""
    if request.path.startswith("/admin/"):
        return PATH_ADMIN
    if request.path.startswith("/api/"):
        # DRF copies the token it authenticated with onto the Django request.
        return PATH_API_TOKEN if getattr(request, "auth", None) is not None else PATH_API
    return PATH_UI


class AuditPathMiddleware:
    """Make the request known to the audit entries written while it is served."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(AuditContext(path=PATH_UI, request=request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


def fill_entry(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of auditlog's LogEntry: the acting user and the path, from the context."""
    context = _current.get()
    data = dict(instance.additional_data or {})
    if context is None:
        data.setdefault("path", PATH_SYSTEM)
        instance.additional_data = data
        return
    actor = context.actor
    if context.request is not None:
        user = getattr(context.request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
        data.setdefault("path", path_of_request(context.request))
    else:
        data.setdefault("path", context.path)
    if instance.actor_id is None and actor is not None and actor.pk is not None:
        instance.actor = actor
        instance.actor_email = getattr(actor, "email", None) or None
    instance.additional_data = data


def path_label(entry: Any) -> str:
    """The human name of the path an audit entry came through."""
    path = (entry.additional_data or {}).get("path", PATH_SYSTEM)
    return str(PATH_LABELS.get(path, path))


def reverse_relations(model: type[Model]) -> list[str]:
    """The names of the relations other models hold to `model` (`customer.tickets`, ...):
    `_meta.get_fields()` lists them, but they are not the record's own data."""
    return [
        field.name
        for field in model._meta.get_fields()
        if field.auto_created and not field.concrete
    ]


def track_own_fields_only() -> None:
    """Keep auditlog to each registered model's own fields.

    auditlog diffs every field `_meta.get_fields()` lists, the reverse relations included
    (django-auditlog issue #551; the opt-out `AUDITLOG_EXCLUDE_REVERSE_RELATIONS` of its pull
    request #768 is not released): every customer's creation recorded lines such as "calls:
    telephony.Call.None", which the card's history showed, and reading a reverse one-to-one
    costs a query per save. Called once the models are registered (CrmConfig.ready)."""
    from auditlog.registry import auditlog

    for model in auditlog.get_models():
        # The registry exposes copies only (get_model_fields); its own entry is what it reads.
        excluded = auditlog._registry[model]["exclude_fields"]
        excluded.extend(name for name in reverse_relations(model) if name not in excluded)
