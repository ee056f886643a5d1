"""Operator pages for tickets: the queue, the ticket page with its actions, and on the
customer card the "open ticket" action and the list of all the customer's tickets.

Views parse input, call a selector or a service, and render; every rule lives in
`tickets.services` and `tickets.models.TRANSITIONS`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from customers.models import Customer
from customers.views import card_action, operator_required
from tickets.filters import TicketFilter
from tickets.forms import AssignForm, OpenTicketForm, PriorityForm, ReplyForm, StatusForm
from tickets.models import Status, TicketMessage
from tickets.selectors import TicketPage, customer_ticket_page, queue_tickets, ticket_page
from tickets.services import (
    add_message,
    allowed_statuses,
    assign_ticket,
    change_ticket_priority,
    change_ticket_status,
    open_ticket,
)
from tickets.sla import ticket_sla

QUEUE_PAGE_SIZE = 25  # a screenful of rows
CUSTOMER_TICKETS_PAGE_SIZE = 25


def _acting_user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


@require_GET
@login_required
@permission_required("tickets.view_ticket", raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    """The ticket queue; htmx requests get the results table only."""
    now = timezone.now()
    data = request.GET.copy()
    if not data:  # a fresh queue shows the work still to do
        data.setlist("status", list(map(str, (Status.NEW, Status.OPEN, Status.PENDING))))
    ticket_filter = TicketFilter(data, queryset=queue_tickets(), request=request, now=now)
    status = 200
    if ticket_filter.is_valid():
        tickets = ticket_filter.qs
    else:
        tickets = queue_tickets().none()
        status = 400
    page = Paginator(tickets, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(ticket, ticket_sla(ticket, now=now)) for ticket in page.object_list]
    query = data.copy()
    query.pop("page", None)
    context = {
        "filter": ticket_filter,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
    }
    template = (
        "tickets/_queue_results.html"
        if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted")
        else "tickets/queue.html"
    )
    return render(request, template, context, status=status)


def _render_page(
    request: HttpRequest, page: TicketPage, *, status: int = 200, **forms: Any
) -> HttpResponse:
    ticket = page.ticket
    context = {
        "page": page,
        "ticket": ticket,
        "sla": ticket_sla(ticket, now=timezone.now()),
        "moves": [(value, Status(value).label) for value in allowed_statuses(ticket)],
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "status_form": forms.get("status_form"),
        "assign_form": forms.get("assign_form")
        or AssignForm(initial={"assignee": ticket.assignee_id}),
        "priority_form": forms.get("priority_form")
        or PriorityForm(initial={"priority": ticket.priority}),
        "author_kinds": TicketMessage.Author,
    }
    return render(request, "tickets/detail.html", context, status=status)


@require_GET
@login_required
@permission_required("tickets.view_ticket", raise_exception=True)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket page: conversation, SLA clocks, actions, history."""
    return _render_page(request, ticket_page(ticket_id=pk))


def _form_failed(
    request: HttpRequest, page: TicketPage, form_name: str, form: Any, error: ValidationError
) -> HttpResponse:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)
    return _render_page(request, page, status=400, **{form_name: form})


@require_POST
@login_required
@permission_required("tickets.add_ticketmessage", raise_exception=True)
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    """An operator's reply to the customer, or an internal note."""
    page = ticket_page(ticket_id=pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _render_page(request, page, status=400, reply_form=form)
    try:
        add_message(
            ticket=page.ticket,
            body=form.cleaned_data["body"],
            author_kind=TicketMessage.Author.OPERATOR,
            author_user=_acting_user(request),
            is_internal=form.cleaned_data["is_internal"],
        )
    except ValidationError as error:
        return _form_failed(request, page, "reply_form", form, error)
    if form.cleaned_data["is_internal"]:
        messages.success(request, _("Note added."))
    else:
        messages.success(request, _("Reply added."))
    return redirect("tickets:detail", pk=pk)


@require_POST
@login_required
@permission_required("tickets.change_ticket", raise_exception=True)
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the ticket along the workflow; an illegal move is a form error."""
    page = ticket_page(ticket_id=pk)
    form = StatusForm(request.POST, ticket=page.ticket)
    if not form.is_valid():
        return _render_page(request, page, status=400, status_form=form)
    try:
        ticket = change_ticket_status(
            ticket=page.ticket,
            to_status=form.cleaned_data["to_status"],
            actor=_acting_user(request),
        )
    except ValidationError as error:
        return _form_failed(request, page, "status_form", form, error)
    messages.success(
        request, _("Status changed to “%(status)s”.") % {"status": ticket.get_status_display()}
    )
    return redirect("tickets:detail", pk=pk)


@require_POST
@login_required
@permission_required("tickets.change_ticket", raise_exception=True)
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the ticket to an operator, or back to the queue."""
    page = ticket_page(ticket_id=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _render_page(request, page, status=400, assign_form=form)
    assign_ticket(
        ticket=page.ticket, assignee=form.cleaned_data["assignee"], actor=_acting_user(request)
    )
    messages.success(request, _("Assignment saved."))
    return redirect("tickets:detail", pk=pk)


@require_POST
@login_required
@permission_required("tickets.change_ticket", raise_exception=True)
def change_priority(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the priority; the SLA due times follow the new priority's policy."""
    page = ticket_page(ticket_id=pk)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return _render_page(request, page, status=400, priority_form=form)
    try:
        change_ticket_priority(
            ticket=page.ticket, priority=form.cleaned_data["priority"], actor=_acting_user(request)
        )
    except ValidationError as error:
        return _form_failed(request, page, "priority_form", form, error)
    messages.success(request, _("Priority saved."))
    return redirect("tickets:detail", pk=pk)


# --- On the customer card --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@operator_required("tickets.add_ticket")
def open_ticket_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Open a ticket from the card; the operator who opens it owns it, worked from the card."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        user: Any = request.user
        return open_ticket(
            customer=customer,
            subject=data["subject"],
            channel=data["channel"],
            body=data["body"],
            actor=user,
            priority=data["priority"],
            purchase=data["purchase"],
            assignee=user,
            team=getattr(user, "team", None),
            personalized=True,
        )

    return card_action(
        request,
        customer_id,
        action_key="open_ticket",
        form_class=OpenTicketForm,
        perform=perform,
        title=_("Open ticket"),
        success_message=_("Ticket opened."),
    )


@require_GET
@operator_required("tickets.view_ticket")
def customer_tickets(request: HttpRequest, customer_id: int) -> HttpResponse:
    """All of a customer's tickets, newest first, paged."""
    customer = get_object_or_404(Customer, pk=customer_id)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    page = customer_ticket_page(
        customer.pk, offset=offset, limit=CUSTOMER_TICKETS_PAGE_SIZE, now=timezone.now()
    )
    return render(request, "tickets/customer_tickets.html", {"customer": customer, "page": page})
