"""The operator UI for customers: search, screen-pop, the card, its lists and its actions.

Views are thin: read input, call a selector or service, render. Requests made by htmx get the
fragment they replace; the same URLs serve whole pages without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import selectors, services
from customers.card import build_card, card_actions, customer_card, load_customer
from customers.contacts import InvalidContact
from customers.forms import (
    ContactPointForm,
    LogContactForm,
    NewCustomerForm,
    NoteForm,
    OfferForm,
    OfferResponseForm,
)
from customers.models import ContactPoint, Customer, Offer
from customers.search import search_customers

# Pages of the timeline and purchase lists.
TIMELINE_PAGE_SIZE = 25
PURCHASES_PAGE_SIZE = 25
# How many customers sharing one number the screen-pop lists (a family, a switchboard).
CALL_CANDIDATES = 50
# How many recently opened cards the home page lists (kept in the session).
RECENT_CUSTOMERS = 8
# 422: the form was understood but its content is wrong; htmx is told to swap it in (card.html).
INVALID_FORM_STATUS = 422

View = Callable[..., HttpResponse]


def operator_required(permission: str = "customers.view_customer") -> Callable[[View], View]:
    """Signed-in staff with `permission`; others are sent to log in, or refused (403)."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_staff or not user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _offset(request: HttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        return 0


# --- Search and screen-pop -----------------------------------------------------------------


@require_GET
@operator_required()
def search(request: HttpRequest) -> HttpResponse:
    """The search page; for htmx (the top bar box as you type) only the results."""
    text = request.GET.get("q", "")
    if is_htmx(request) and not text.strip():
        # The box was cleared: the dropdown closes rather than lecturing.
        return HttpResponse("")
    result = search_customers(text)
    template = "customers/search_results.html" if is_htmx(request) else "customers/search.html"
    return render(request, template, {"result": result})


@require_GET
@operator_required()
def call_pop(request: HttpRequest) -> HttpResponse:
    """What telephony opens when a call rings: the card, the candidates, or a new customer."""
    phone = request.GET.get("phone", "").strip()
    email = request.GET.get("email", "").strip()
    context: dict[str, Any] = {"phone": phone, "email": email, "candidates": []}
    if not phone and not email:
        context["error"] = _("Give the caller's number (?phone=) or address (?email=).")
        return render(request, "customers/call.html", context, status=400)
    try:
        found = (
            selectors.customers_by_phone(phone) if phone else selectors.customers_by_email(email)
        )
        candidates = list(found.prefetch_related("tags")[:CALL_CANDIDATES])
    except (InvalidContact, ValidationError) as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "customers/call.html", context, status=400)
    if len(candidates) == 1:
        return redirect("customers:card", customer_id=candidates[0].pk)
    context["candidates"] = candidates
    context["new_url"] = (
        reverse("customers:new") + "?" + urlencode({"phone": phone} if phone else {"email": email})
    )
    return render(request, "customers/call.html", context)


@require_http_methods(["GET", "POST"])
@operator_required("customers.add_customer")
def customer_new(request: HttpRequest) -> HttpResponse:
    """A new customer, with the caller's number or address filled in from the screen-pop."""
    if request.method == "POST":
        form = NewCustomerForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            contacts = []
            if data["phone"]:
                contacts.append({"kind": ContactPoint.Kind.PHONE, "value": data["phone"]})
            if data["email"]:
                contacts.append({"kind": ContactPoint.Kind.EMAIL, "value": data["email"]})
            try:
                customer = services.create_customer(
                    full_name=data["full_name"],
                    company=data["company"],
                    acquisition_channel=data["acquisition_channel"],
                    language=data["language"],
                    contact_points=contacts,
                    allow_duplicate_contact=data["allow_duplicate_contact"],
                )
            except services.DuplicateContact as exc:
                form.warn_duplicate(_shared_by(exc))
                _add_errors(form, exc, contact_fields=[c["kind"] for c in contacts])
            except ValidationError as exc:
                _add_errors(form, exc, contact_fields=[c["kind"] for c in contacts])
            else:
                messages.success(request, _("Customer created."))
                return redirect("customers:card", customer_id=customer.pk)
        return render(request, "customers/new.html", {"form": form}, status=400)
    initial = {}
    for name in ("phone", "email", "full_name"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    return render(request, "customers/new.html", {"form": NewCustomerForm(initial=initial)})


def _shared_by(exc: services.DuplicateContact) -> list[Customer]:
    """The customers who already have the contacts, each once, for the warning's links."""
    found: dict[int, Customer] = {}
    for others in exc.customers.values():
        for other in others:
            found.setdefault(other.pk, other)
    return list(found.values())


def _add_errors(
    form: forms.Form, exc: ValidationError, *, contact_fields: list[str] | None = None
) -> None:
    """Put a service's ValidationError on the form's fields (or the form, if none fits)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.message_dict.items():
        target: str | None = key if key in form.fields else None
        if contact_fields and key.startswith("contact_points["):
            index = int(key[len("contact_points[") : key.index("]")])
            target = contact_fields[index] if index < len(contact_fields) else None
        for message in errors:
            form.add_error(target, message)


# --- The card and its lists ---------------------------------------------------------------


def _remember(request: HttpRequest, customer: Customer) -> None:
    """Keep the operator's recently opened cards for the home page (newest first)."""
    kept = request.session.get("recent_customers", [])
    if kept[:1] == [customer.pk]:
        return  # already the newest: writing the same list again would cost a session write
    recent = [i for i in kept if i != customer.pk]
    request.session["recent_customers"] = [customer.pk, *recent][:RECENT_CUSTOMERS]


@require_GET
@operator_required()
def card(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The single window: every section of the customer's card, most urgent first."""
    try:
        the_card = customer_card(customer_id, user=request.user, now=timezone.now())
    except Customer.DoesNotExist as exc:
        raise Http404(_("No such customer.")) from exc
    _remember(request, the_card.customer)
    return render(request, "customers/card.html", {"card": the_card, "customer": the_card.customer})


@require_GET
@operator_required("customers.view_interaction")
def timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The whole timeline, paged; htmx asks for the next rows of the card's timeline."""
    customer = get_object_or_404(Customer, pk=customer_id)
    page = selectors.timeline_page(customer.pk, offset=_offset(request), limit=TIMELINE_PAGE_SIZE)
    context = {"customer": customer, "page": page}
    if is_htmx(request):
        return render(request, "customers/card/timeline_rows.html", context)
    return render(request, "customers/timeline.html", context)


@require_GET
@operator_required("customers.view_purchase")
def purchases(request: HttpRequest, customer_id: int) -> HttpResponse:
    """All of the customer's purchases with their terms and reminders, paged."""
    customer = get_object_or_404(Customer, pk=customer_id)
    offset = _offset(request)
    today = timezone.localdate()
    lines = selectors.purchase_page(
        customer.pk, today=today, offset=offset, limit=PURCHASES_PAGE_SIZE
    )
    page = selectors.Page(
        items=lines, count=customer.purchases.count(), offset=offset, limit=PURCHASES_PAGE_SIZE
    )
    return render(request, "customers/purchases.html", {"customer": customer, "page": page})


# --- Card actions -------------------------------------------------------------------------

FormFactory = Callable[..., forms.Form]
Perform = Callable[[HttpRequest, Customer, forms.Form], object]


def card_action(
    request: HttpRequest,
    customer_id: int,
    *,
    action_key: str,
    form_class: FormFactory,
    perform: Perform,
    title: str,
    success_message: str,
    refreshes: tuple[str, ...] | None = None,
    submit_label: str = "",
) -> HttpResponse:
    """Show an action's form in the card, run it, and answer with what changed.

    For htmx: the form again (422 with errors; empty after success, with the message) and the
    changed sections swapped in out of band. Without JavaScript: a page with the form, and a
    redirect to the card after success. Another app's actions call this too.
    """
    action = next((a for a in card_actions() if a.key == action_key), None)
    if action is not None and not request.user.has_perm(
        action.permission or "customers.view_customer"
    ):
        raise PermissionDenied
    try:
        customer = load_customer(customer_id)
    except Customer.DoesNotExist as exc:
        raise Http404(_("No such customer.")) from exc
    action_url = request.path
    status = 200
    done = ""
    if request.method == "POST":
        form = form_class(request.POST, customer=customer)
        if form.is_valid():
            try:
                perform(request, customer, form)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if not is_htmx(request):
                    messages.success(request, success_message)
                    return HttpResponseRedirect(
                        reverse("customers:card", kwargs={"customer_id": customer.pk})
                    )
                done = success_message
                form = form_class(customer=customer)
        if form.errors:
            status = INVALID_FORM_STATUS if is_htmx(request) else 400
    else:
        form = form_class(customer=customer)
    context = {
        "customer": customer,
        "form": form,
        "title": title,
        "action_url": action_url,
        "done": done,
        "submit_label": submit_label or title,
    }
    if not is_htmx(request):
        return render(request, "customers/action_page.html", context, status=status)
    html = render_to_string("customers/card/action_form.html", context, request=request)
    keys = refreshes if refreshes is not None else (action.refreshes if action else ())
    if done and keys:
        fresh = build_card(customer, user=request.user, now=timezone.now(), only=keys)
        for section in fresh.sections:
            html += render_to_string(
                "customers/card/section.html",
                {"s": section, "customer": customer, "card": fresh, "oob": True},
                request=request,
            )
    return HttpResponse(html, status=status)


@require_http_methods(["GET", "POST"])
@operator_required("customers.add_interaction")
def log_contact(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Log the current call, chat or visit (personalised: the operator has the card open)."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        return services.log_interaction(
            customer=customer,
            actor=request.user,  # type: ignore[arg-type]
            channel=form.cleaned_data["channel"],
            direction=form.cleaned_data["direction"],
            summary=form.cleaned_data["summary"],
        )

    return card_action(
        request,
        customer_id,
        action_key="log_contact",
        form_class=LogContactForm,
        perform=perform,
        title=_("Log contact"),
        success_message=_("Contact logged."),
    )


@require_http_methods(["GET", "POST"])
@operator_required("customers.add_interaction")
def add_note(request: HttpRequest, customer_id: int) -> HttpResponse:
    """An internal note on the customer's timeline."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        return services.add_note(
            customer=customer,
            actor=request.user,  # type: ignore[arg-type]
            text=form.cleaned_data["text"],
        )

    return card_action(
        request,
        customer_id,
        action_key="add_note",
        form_class=NoteForm,
        perform=perform,
        title=_("Add note"),
        success_message=_("Note added."),
    )


@require_http_methods(["GET", "POST"])
@operator_required("customers.add_offer")
def record_offer(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Record an offer made now, and the answer if the customer gave one."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        return services.record_offer(
            customer=customer,
            actor=request.user,  # type: ignore[arg-type]
            product=data["product"],
            rule=data["rule"],
            reason=data["reason"],
            status=data["status"],
            interaction=data["interaction"],
            purchase=data["purchase"],
        )

    return card_action(
        request,
        customer_id,
        action_key="record_offer",
        form_class=OfferForm,
        perform=perform,
        title=_("Record offer"),
        success_message=_("Offer recorded."),
    )


@require_POST
@operator_required("customers.change_offer")
def offer_response(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The customer's answer to an offer made earlier: accepted or declined."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        offer: Offer = data["offer"]
        return services.respond_to_offer(
            offer=offer,
            actor=request.user,  # type: ignore[arg-type]
            status=data["status"],
            purchase=data["purchase"],
        )

    return card_action(
        request,
        customer_id,
        action_key="offer_response",
        form_class=OfferResponseForm,
        perform=perform,
        title=_("Customer's answer"),
        success_message=_("Answer recorded."),
        refreshes=("offers",),
    )


def _contact_action(request: HttpRequest, customer_id: int, contact_id: int | None) -> HttpResponse:
    contact = None
    if contact_id is not None:
        # Only this customer's contact: another's id is not found here.
        contact = get_object_or_404(ContactPoint, pk=contact_id, customer_id=customer_id)

    class BoundContactForm(ContactPointForm):
        def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
            if contact is not None and not args:
                kwargs.setdefault(
                    "initial",
                    {
                        "kind": contact.kind,
                        "value": contact.value,
                        "messenger": contact.messenger,
                        "label": contact.label,
                        "is_primary": contact.is_primary,
                    },
                )
            super().__init__(*args, customer=customer, **kwargs)

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        try:
            return services.save_contact_point(
                customer=customer,
                actor=request.user,  # type: ignore[arg-type]
                kind=data["kind"],
                value=data["value"],
                messenger=data["messenger"],
                label=data["label"],
                is_primary=data["is_primary"],
                contact=contact,
                allow_duplicate_contact=data["allow_duplicate_contact"],
            )
        except services.DuplicateContact as exc:
            assert isinstance(form, ContactPointForm)
            form.warn_duplicate(_shared_by(exc))
            raise

    return card_action(
        request,
        customer_id,
        action_key="add_contact",
        form_class=BoundContactForm,
        perform=perform,
        title=_("Edit contact") if contact else _("Add contact"),
        success_message=_("Contact saved."),
        refreshes=("contacts",),
    )


@require_http_methods(["GET", "POST"])
@operator_required("customers.add_contactpoint")
def add_contact(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Add a phone, email or messenger handle."""
    return _contact_action(request, customer_id, None)


@require_http_methods(["GET", "POST"])
@operator_required("customers.change_contactpoint")
def edit_contact(request: HttpRequest, customer_id: int, contact_id: int) -> HttpResponse:
    """Correct a contact point of this customer."""
    return _contact_action(request, customer_id, contact_id)
