"""Forms of the operator's card: each action's input, with errors a person understands.

Fields that point at a customer's records (their interaction, their purchase) accept only that
customer's: another customer's id is a form error, never a write.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from customers.duplicates import duplicates_of
from customers.models import (
    AcquisitionChannel,
    Channel,
    ContactPoint,
    Customer,
    Interaction,
    Offer,
    Product,
    Purchase,
)

# How many of the customer's recent records a select offers (the field accepts any of theirs).
RECENT_CHOICES = 20
# The longest note or contact summary an operator may write (a long e-mail pasted whole fits).
NOTE_MAX_LENGTH = 4000


class LongTextField(forms.CharField):
    """A text area whose length limit is checked by the form, not enforced by the browser.

    A `maxlength` attribute makes the browser cut a long paste without a word; without it the
    whole text reaches the form, which answers with an error naming the limit.
    """

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


CONTACT_CHANNELS = [(c.value, c.label) for c in Channel if c != Channel.INTERNAL]


def limit_choices(
    field: forms.ModelChoiceField, queryset: QuerySet[Any], shown: QuerySet[Any]
) -> None:
    """Validate against all of `queryset` but list only `shown` (a customer's newest records)."""
    field.queryset = queryset
    field.widget.choices = [("", "---------"), *((obj.pk, str(obj)) for obj in shown)]


class LogContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=CONTACT_CHANNELS, initial="phone")
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (Interaction.Direction.INBOUND, Interaction.Direction.INBOUND.label),
            (Interaction.Direction.OUTBOUND, Interaction.Direction.OUTBOUND.label),
        ],
        initial=Interaction.Direction.INBOUND,
    )
    summary = LongTextField(
        label=_("Summary"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say in a few words what the contact was about.")},
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer


class NoteForm(forms.Form):
    text = LongTextField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write the note.")},
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer


class OfferForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.none(), required=False
    )
    rule = forms.ChoiceField(label=_("Why"), choices=Offer.Rule.choices, initial=Offer.Rule.MANUAL)
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False)
    status = forms.ChoiceField(
        label=_("Answer"), choices=Offer.Status.choices, initial=Offer.Status.OFFERED
    )
    interaction = forms.ModelChoiceField(
        label=_("During contact"), queryset=Interaction.objects.none(), required=False
    )
    purchase = forms.ModelChoiceField(
        label=_("Resulting purchase"), queryset=Purchase.objects.none(), required=False
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        product_field: Any = self.fields["product"]
        product_field.queryset = Product.objects.filter(is_active=True).order_by("name")
        interactions = Interaction.objects.filter(customer=customer)
        limit_choices(
            self.fields["interaction"],  # type: ignore[arg-type]
            interactions,
            interactions.order_by("-started_at", "-id")[:RECENT_CHOICES],
        )
        purchases = Purchase.objects.filter(customer=customer)
        limit_choices(
            self.fields["purchase"],  # type: ignore[arg-type]
            purchases,
            purchases.select_related("product").order_by("-purchased_at", "-id")[:RECENT_CHOICES],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("product") and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Name the product or say what was offered."))
        if data.get("purchase") and data.get("status") != Offer.Status.ACCEPTED:
            self.add_error("purchase", _("Only an accepted offer leads to a purchase."))
        return data


class OfferResponseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Answer"),
        choices=[
            (Offer.Status.ACCEPTED, Offer.Status.ACCEPTED.label),
            (Offer.Status.DECLINED, Offer.Status.DECLINED.label),
        ],
    )
    offer = forms.ModelChoiceField(label=_("Offer"), queryset=Offer.objects.none())
    purchase = forms.ModelChoiceField(
        label=_("Resulting purchase"), queryset=Purchase.objects.none(), required=False
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        offers = Offer.objects.filter(customer=customer, status=Offer.Status.OFFERED)
        limit_choices(
            self.fields["offer"],  # type: ignore[arg-type]
            offers,
            offers.select_related("product").order_by("-offered_at")[:RECENT_CHOICES],
        )
        purchases = Purchase.objects.filter(customer=customer)
        limit_choices(
            self.fields["purchase"],  # type: ignore[arg-type]
            purchases,
            purchases.select_related("product").order_by("-purchased_at", "-id")[:RECENT_CHOICES],
        )


class DuplicateContactMixin:
    """A hidden "add it anyway" box, shown once the form has warned of a shared contact.

    The operator goes on with a contact another customer has only by ticking it deliberately.
    """

    fields: dict[str, forms.Field]
    duplicate_customers: list[Customer]

    def _add_duplicate_field(self) -> None:
        self.fields["allow_duplicate_contact"] = forms.BooleanField(
            label=_("Add it anyway: the customers share this contact"),
            required=False,
            widget=forms.HiddenInput,
        )
        self.duplicate_customers = []

    def warn_duplicate(self, customers: list[Customer]) -> None:
        """Name the customers who have the contact and show the box to go on."""
        self.duplicate_customers = customers
        self.fields["allow_duplicate_contact"].widget = forms.CheckboxInput()


class ContactPointForm(DuplicateContactMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactPoint.Kind.choices)
    value = forms.CharField(label=_("Value"), max_length=255)
    messenger = forms.ChoiceField(
        label=_("Messenger"),
        choices=[("", "---------"), *ContactPoint.Messenger.choices],
        required=False,
    )
    label = forms.CharField(label=_("Label"), max_length=50, required=False)
    is_primary = forms.BooleanField(label=_("Primary"), required=False)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self._add_duplicate_field()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == ContactPoint.Kind.MESSENGER and not data.get("messenger"):
            self.add_error("messenger", _("Choose the messenger."))
        return data


class NewCustomerForm(DuplicateContactMixin, forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=255)
    company = forms.CharField(label=_("Company"), max_length=255, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=255, required=False)
    email = forms.CharField(label=_("Email"), max_length=255, required=False)
    acquisition_channel = forms.ChoiceField(
        label=_("Came to us through"),
        choices=[("", "---------"), *AcquisitionChannel.choices],
        required=False,
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_duplicate_field()


class MergeForm(forms.Form):
    """Pick the duplicate to merge into the card's customer, from the likely duplicates."""

    other = forms.TypedChoiceField(
        label=_("Duplicate to merge into this customer"),
        coerce=int,
        help_text=_(
            "Its contacts, purchases, tickets and history move here; it stays as an alias."
        ),
        error_messages={"required": _("Choose the duplicate.")},
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["other"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *(
                (pair.second.pk, f"{pair.second} (#{pair.second.pk}), {pair.reason}")
                for pair in duplicates_of(customer)
            ),
        ]
