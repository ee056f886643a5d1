"""Role-based permissions, denying by default.

A request passes only if its method is one the view declares (a handler exists; anything else
is a 405 before any permission is weighed) and the user holds the permissions that method
needs. HEAD is answered by the GET handler and needs exactly GET's permissions; OPTIONS only
describes the endpoint and needs the read permission. No method is ever "no permission".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import DjangoModelPermissions

if TYPE_CHECKING:  # rest_framework.views imports the permission settings: no cycle at runtime
    from rest_framework.request import Request
    from rest_framework.views import APIView

# Methods that only read: they are answered with GET's permissions (OPTIONS describes).
READ_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


def declared_method(request: Request, view: APIView) -> str:
    """The request's method, upper case, after checking the view has a handler for it (405)."""
    method = (request.method or "").upper()
    if method.lower() not in view.http_method_names or not hasattr(view, method.lower()):
        raise MethodNotAllowed(method)
    return method


def permissions_for(wanted: Iterable[str] | Mapping[str, Iterable[str]], method: str) -> Any:
    """The permissions `wanted` names for `method`; None when the method is not listed.

    `wanted` is either one tuple for every method, or a mapping per method, in which HEAD and
    OPTIONS fall back to GET's entry (they read) and an unlisted method is refused.
    """
    if not isinstance(wanted, Mapping):
        return tuple(wanted)
    if method in wanted:
        return tuple(wanted[method])
    alias = READ_ALIASES.get(method)
    if alias is not None and alias in wanted:
        return tuple(wanted[alias])
    return None


def _holds(request: Request, perms: Any) -> bool:
    user = request.user
    if perms is None or not user or not user.is_authenticated:
        return False
    return bool(user.has_perms(perms))


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions that also requires `view_<model>` for GET, HEAD and OPTIONS.

    A view may name the permissions of its own actions in `action_permissions`
    (`{"status": ("tickets.change_ticket",)}`, or per method:
    `{"messages": {"GET": (...), "POST": (...)}}`); these replace the model-based ones. A
    method the mapping does not list is refused, never let through.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = declared_method(request, view)
        action = getattr(view, "action", None)
        declared: dict[str, Any] = getattr(view, "action_permissions", {}) or {}
        if action in declared:
            return _holds(request, permissions_for(declared[action], method))
        return super().has_permission(request, view)


class HasPermissions(ModelPermissions):
    """For views without a queryset: the permissions in the view's `required_permissions`,
    one tuple for every method the view has, or a mapping per method."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = declared_method(request, view)
        wanted = getattr(view, "required_permissions", None)
        if wanted is None:  # a view that forgot to say is closed, not open
            return False
        return _holds(request, permissions_for(wanted, method))
