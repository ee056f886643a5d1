"""`{{ entry|audit_path }}`: the path an audit entry came through, for the admin's history."""

from __future__ import annotations

from typing import Any

from django import template

from core.audit import path_label

register = template.Library()


@register.filter(name="audit_path")
def audit_path(entry: Any) -> str:
    return path_label(entry)
