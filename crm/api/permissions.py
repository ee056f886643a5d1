"""Role-based permissions: Django model permissions, including `view` for reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import DjangoModelPermissions

if TYPE_CHECKING:  # rest_framework.views imports the permission settings: no cycle at runtime
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions that also requires `view_<model>` for GET, HEAD and OPTIONS.

    A view may name the permissions of its own actions in `action_permissions`
    (`{"status": ("tickets.change_ticket",)}`); these replace the method-based ones.
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
        action = getattr(view, "action", None)
        declared: dict[str, Any] = getattr(view, "action_permissions", {}) or {}
        if action in declared:
            if not request.user or not request.user.is_authenticated:
                return False
            wanted = declared[action]
            if isinstance(wanted, dict):
                wanted = wanted.get(request.method or "GET", ())
            return request.user.has_perms(wanted)
        return super().has_permission(request, view)


class HasPermissions(ModelPermissions):
    """For views without a queryset: the permissions listed in the view's `required_permissions`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        return request.user.has_perms(getattr(view, "required_permissions", ()))
