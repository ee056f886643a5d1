"""The operators' live channel: server-sent events, and presence heartbeats on a ticket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from live import bus, presence
from live.models import Notification

NOTIFICATIONS_SHOWN = 50


def _frame(message: bus.Message) -> str:
    payload = dict(message.data)
    if message.topic:
        payload["topic"] = message.topic
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {message.id}\nevent: {message.event}\ndata: {data}\n\n"


async def _stream(*, user_id: int, team_id: int | None, last_event_id: str) -> AsyncIterator[str]:
    # A stream lasts as long as its page is open and reads nothing from the database: the
    # connection its request used (the session, the user) goes back now, not when the page
    # closes (in the request's own thread, where Django keeps it).
    await sync_to_async(connections.close_all)()
    subscribed = False
    async for message in bus.messages(
        user_id=user_id,
        team_id=team_id,
        last_event_id=last_event_id,
        heartbeat=settings.LIVE_HEARTBEAT_SECONDS,
    ):
        if message is not None:
            yield _frame(message)
        elif not subscribed:
            # Subscribed: nothing published from now on is missed. The browser reconnects
            # after `retry` milliseconds when the stream ends.
            subscribed = True
            yield "retry: 2000\nevent: ready\ndata: {}\n\n"
        else:
            # A comment line keeps proxies from closing an idle stream.
            yield ": heartbeat\n\n"


@require_GET
async def events(request: HttpRequest) -> HttpResponseBase:
    """The event stream of the signed-in operator's pages (text/event-stream)."""
    if not isinstance(request, ASGIRequest):
        # A WSGI server (runserver, pytest's live server) would hold a thread per page for
        # ever; 204 tells the browser's EventSource not to reconnect. Production is ASGI.
        return HttpResponse(status=204)
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse(status=401)
    if not user.is_staff or not user.is_active:
        return HttpResponseForbidden()
    assert isinstance(user, User)
    response = StreamingHttpResponse(
        _stream(
            user_id=user.pk,
            team_id=user.team_id,
            last_event_id=request.headers.get("Last-Event-ID", "")[:40],
        ),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@require_POST
@login_required
def heartbeat(request: HttpRequest) -> JsonResponse:
    """This page still shows ticket `ticket` (and whether its reply box is being typed in).

    Answers who else has it open, and the newest operator reply, for the collision warning.
    """
    user = request.user
    assert isinstance(user, User)
    if not user.is_staff:
        return JsonResponse({"detail": "forbidden"}, status=403)
    try:
        ticket_id = int(request.POST.get("ticket", ""))
    except ValueError:
        return JsonResponse({"ticket": ["A ticket id is required."]}, status=400)
    state = request.POST.get("state", presence.VIEWING)
    if state not in presence.STATES:
        return JsonResponse({"state": [f"One of {', '.join(presence.STATES)}."]}, status=400)
    others = presence.beat(ticket_id=ticket_id, user=user, state=state)
    return JsonResponse({"others": others})


@require_GET
@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """My latest notifications; opening the list marks them read."""
    user = request.user
    assert isinstance(user, User)
    latest = list(Notification.objects.filter(recipient=user)[:NOTIFICATIONS_SHOWN])
    unread = [n.pk for n in latest if n.read_at is None]
    if unread:
        Notification.objects.filter(pk__in=unread).update(read_at=timezone.now())
    return render(
        request, "live/notifications.html", {"notifications": latest, "unread": set(unread)}
    )


@require_GET
@login_required
def unread_count(request: HttpRequest) -> HttpResponse:
    """The badge in the top bar (htmx loads it once per page; live events add to it)."""
    count = Notification.objects.filter(recipient_id=request.user.pk, read_at__isnull=True).count()
    return HttpResponse(str(count) if count else "")
