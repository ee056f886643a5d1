"""Django's error handlers (handler400/403/404/500 in crm/urls.py): JSON under /api/.

An error raised outside an API view (an unknown path, an uncaught exception, a request body
Django refuses before the view) answers the API's error shape under /api/, and Django's
default views, which render the templates 400.html, 403.html, 404.html and 500.html, elsewhere.
With DEBUG on, Django shows its technical pages instead, as usual.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from core.api.exceptions import error_body
from core.unavailable import is_database_unavailable, unavailable_response

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _json(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(detail, code), status=status)


def bad_request(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception, **kwargs)
    if isinstance(exception, RequestDataTooBig):
        return _json(_("The request body is too large."), "request_too_large", 413)
    return _json(_("The request is malformed."), "bad_request", 400)


def permission_denied(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception, **kwargs)
    return _json(_("You do not have permission to perform this action."), "permission_denied", 403)


def page_not_found(request: HttpRequest, exception: Exception, **kwargs: Any) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception, **kwargs)
    return _json(_("There is nothing at this address."), "not_found", 404)


def server_error(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    # Called while the exception is being handled: a database that is away is a 503.
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if not _is_api(request):
        return defaults.server_error(request, **kwargs)
    return _json(_("A server error occurred; it has been logged."), "server_error", 500)
