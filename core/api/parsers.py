"""The API reads JSON only, within limits of size and nesting.

Form-encoded and multipart bodies are refused with 415 (they cannot carry the nested data the
serializers take, such as a customer's contact points). A view that must take another format
(a PBX posting form-encoded call events) sets its own `parser_classes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json


def nesting_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and objects in `data` nest deeper than `limit` (`{}` is depth 1)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's
    RequestDataTooBig, a 413 through core.api.exceptions) and lists or objects nested deeper
    than API_JSON_MAX_DEPTH (400), before any serializer sees it."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestDataTooBig(_("The request body is too large."))
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        max_depth = settings.API_JSON_MAX_DEPTH
        too_deep = _("JSON nests deeper than %(depth)d levels.") % {"depth": max_depth}
        try:
            data = json.loads(
                raw.decode(encoding),
                parse_constant=json.strict_constant if self.strict else None,
            )
        except RecursionError:
            raise ParseError(too_deep) from None
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from None
        if nesting_depth_exceeds(data, max_depth):
            raise ParseError(too_deep)
        return data
