"""The admin for customers and everything the card shows about them.

Every changelist reads a bounded number of queries whatever the number of rows: foreign keys
shown in a list are joined (`list_select_related`), computed columns are annotated in
`get_queryset`, and big tables are picked through autocomplete widgets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_base import ComputedAdmin, ReadOnlyTabularInline
from customers.contacts import format_phone_for_display, normalise_email, normalise_phone
from customers.duplicates import likely_duplicates
from customers.merge import merge_customers
from customers.models import (
    ContactPoint,
    CoPurchaseState,
    Customer,
    CustomerAlias,
    CustomerTally,
    DataExportRecord,
    Interaction,
    Interest,
    Offer,
    OwnedProduct,
    Product,
    ProductCategory,
    ProductCoPurchase,
    Purchase,
    Reminder,
    Tag,
    ValueToDate,
)
from customers.selectors import customers_by_contact
from customers.services import add_contact_points, cancel_reminders, set_primary_contact

# The customer page shows the latest purchase lines only; a customer with years of orders
# would otherwise make the page as long as their history. The purchase list has them all.
RECENT_PURCHASES_SHOWN = 20

CENT = Decimal("0.01")

# What a contact point form edits; also what a new contact is created from.
CONTACT_POINT_FIELDS = ("kind", "value", "messenger", "label", "is_primary", "opted_out_at")


def normalised_contact_values(term: str) -> list[str]:
    """The normalised forms a search term may take as a phone (E.164) or an email address."""
    values = []
    for normalise in (normalise_phone, normalise_email):
        try:
            values.append(normalise(term))
        except ValidationError:
            continue
    return values


# --- Customers ------------------------------------------------------------------------------


class ContactPointFormSet(BaseInlineFormSet):
    """A customer's contacts as they will be after saving: no contact twice, one primary per kind.

    Each form checks itself against the database; only the formset sees two new rows that are
    one number spelled twice, or two rows both ticked primary.
    """

    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, str]] = set()
        primary_kinds: set[str] = set()
        for form in self.forms:
            if form.errors or not hasattr(form, "cleaned_data"):
                continue
            if form.instance._state.adding and not form.has_changed():
                continue  # an empty extra row
            if form.cleaned_data.get("DELETE"):
                continue
            contact = form.instance
            key = (contact.kind, contact.normalised_value)
            if key in seen:
                form.add_error("value", _("This contact is given twice."))
            seen.add(key)
            if contact.is_primary:
                if contact.kind in primary_kinds:
                    form.add_error("is_primary", _("Only one contact of each kind can be primary."))
                primary_kinds.add(contact.kind)


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    formset = ContactPointFormSet
    extra = 0
    fields = (
        "kind",
        "value",
        "normalised_value",
        "messenger",
        "label",
        "is_primary",
        "opted_out_at",
    )
    readonly_fields = ("normalised_value",)


class RecentPurchaseFormSet(BaseInlineFormSet):
    """The customer's purchases, newest first, cut to RECENT_PURCHASES_SHOWN."""

    _recent: QuerySet[Purchase] | None = None

    def get_queryset(self) -> QuerySet[Purchase]:
        if self._recent is None:
            # Purchase.Meta.ordering puts the newest first.
            self._recent = super().get_queryset()[:RECENT_PURCHASES_SHOWN]
        return self._recent


class RecentPurchaseInline(ReadOnlyTabularInline):
    """Read-only: purchases come from the shop; each row links to its own page."""

    model = Purchase
    formset = RecentPurchaseFormSet
    fields = (
        "purchased_at",
        "product",
        "quantity",
        "amount",
        "currency",
        "channel",
        "status",
        "warranty_ends_on",
        "support_ends_on",
        "subscription_ends_on",
    )
    show_change_link = True
    verbose_name_plural = format_lazy(
        _("recent purchases (the latest {count})"), count=RECENT_PURCHASES_SHOWN
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Purchase]:
        return super().get_queryset(request).select_related("product")


@admin.register(Customer)
class CustomerAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = (
        "full_name",
        "external_id",
        "kind",
        "lifecycle",
        "segment",
        "acquisition_channel",
        "primary_phone",
        "primary_email",
        "purchase_count",
        "revenue",
        "customer_since",
    )
    list_filter = (
        "lifecycle",
        "segment",
        "acquisition_channel",
        "tags",
        "consent_reminders",
        "consent_marketing",
        "kind",
        "language",
        "preferred_channel",
    )
    search_fields = ("full_name", "company", "=external_id")
    # crm/admin.py adds the privacy actions (export, erase), which read every app.
    search_help_text = _(
        "Name, company, external ID, a phone number in any spelling, or an email address."
    )
    ordering = ("full_name", "id")
    date_hierarchy = "customer_since"

    # The privacy actions' permissions (`permissions=["export"]`, `["erase"]`).
    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("customers.export_customer_data"))

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("customers.erase_customer_data"))

    # Counting millions of customers twice per page is the slowest part of a filtered list.
    show_full_result_count = False
    autocomplete_fields = ("tags",)
    inlines = (ContactPointInline, RecentPurchaseInline)
    readonly_fields = (
        "primary_phone",
        "primary_email",
        "purchase_count",
        "revenue",
        "all_purchases",
        "anonymised_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {"fields": (("full_name", "kind"), ("company", "external_id"), "tags")},
        ),
        (
            _("Relationship"),
            {
                "fields": (
                    ("lifecycle", "segment", "customer_since"),
                    ("acquisition_channel", "acquisition_campaign"),
                )
            },
        ),
        (
            _("Communication"),
            {
                "fields": (
                    ("language", "time_zone", "preferred_channel"),
                    ("consent_reminders", "consent_marketing"),
                )
            },
        ),
        (
            _("Summary"),
            {
                "fields": (
                    ("primary_phone", "primary_email"),
                    ("purchase_count", "revenue", "all_purchases"),
                )
            },
        ),
        (_("Notes"), {"fields": ("notes",)}),
        (
            _("Record"),
            {
                "fields": (("created_at", "updated_at", "anonymised_at"),),
                "classes": ("collapse",),
            },
        ),
    )
    actions = ("mark_lead", "mark_active", "mark_at_risk", "mark_churned", "merge_selected")
    # The audit history (who changed what, through which path) beside Django's own history.
    show_auditlog_history_link = True
    change_list_template = "admin/customers/customer/change_list_with_duplicates.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        """Customers with their primary contacts and purchase totals, one query per page."""
        primary = ContactPoint.objects.filter(customer=OuterRef("pk"), is_primary=True)
        completed = Purchase.objects.filter(
            customer=OuterRef("pk"), status=Purchase.Status.COMPLETED
        ).order_by()
        per_customer = completed.values("customer_id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                primary_phone_e164=Subquery(
                    primary.filter(kind=ContactPoint.Kind.PHONE).values("normalised_value")[:1]
                ),
                primary_email_address=Subquery(
                    primary.filter(kind=ContactPoint.Kind.EMAIL).values("normalised_value")[:1]
                ),
                completed_purchase_count=Coalesce(
                    Subquery(per_customer.annotate(n=Count("pk")).values("n")), 0
                ),
                # Amounts in other currencies cannot be added to these; they are left out.
                default_currency_revenue=Coalesce(
                    Subquery(
                        per_customer.filter(currency=settings.DEFAULT_CURRENCY)
                        .annotate(total=Sum("amount"))
                        .values("total")
                    ),
                    Value(0),
                    output_field=DecimalField(max_digits=16, decimal_places=2),
                ),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Customer], search_term: str
    ) -> tuple[QuerySet[Customer], bool]:
        """Also find customers by a phone in any spelling or an email in any case."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            by_contact = customers_by_contact(term).values("pk")
            results = results | queryset.filter(pk__in=by_contact)
        return results, may_have_duplicates

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ContactPoint:
            super().save_formset(request, form, formset, change)
            return
        contacts = formset.save(commit=False)
        for contact in formset.deleted_objects:
            contact.delete()
        for contact in contacts:
            if not contact._state.adding:
                contact.save()
        new = [contact for contact in contacts if contact._state.adding]
        if new:
            # The service makes the first contact of each kind primary, as everywhere else.
            formset.new_objects = add_contact_points(
                customer=form.instance,
                contact_points=[
                    {name: getattr(contact, name) for name in CONTACT_POINT_FIELDS}
                    for contact in new
                ],
                # The admin edits records as they are; shared numbers show in the changelist.
                allow_duplicate_contact=True,
            )

    @admin.display(description=_("primary phone"), ordering="primary_phone_e164")
    def primary_phone(self, obj: Customer) -> str:
        e164 = getattr(obj, "primary_phone_e164", None)
        return format_phone_for_display(e164) if e164 else "—"

    @admin.display(description=_("primary email"), ordering="primary_email_address")
    def primary_email(self, obj: Customer) -> str:
        return getattr(obj, "primary_email_address", None) or "—"

    @admin.display(description=_("purchases"), ordering="completed_purchase_count")
    def purchase_count(self, obj: Customer) -> int:
        return int(getattr(obj, "completed_purchase_count", 0))

    @admin.display(
        description=format_lazy(_("revenue, {currency}"), currency=settings.DEFAULT_CURRENCY),
        ordering="default_currency_revenue",
    )
    def revenue(self, obj: Customer) -> Decimal:
        # SQLite hands back a sum of whole amounts as an integer; show money with its cents.
        return Decimal(getattr(obj, "default_currency_revenue", 0) or 0).quantize(CENT)

    @admin.display(description=_("all purchases"))
    def all_purchases(self, obj: Customer) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:customers_purchase_changelist")
        return format_html(
            '<a href="{}?customer__id__exact={}">{}</a>', url, obj.pk, _("Show all purchases")
        )

    def _set_lifecycle(
        self, request: HttpRequest, queryset: QuerySet[Customer], lifecycle: str
    ) -> None:
        changed = queryset.exclude(lifecycle=lifecycle)
        label = Customer.Lifecycle(lifecycle).label
        if request.user.pk is not None:
            # Logged before the update, while the filter still selects the changed rows.
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=changed.only("pk", "full_name"),
                action_flag=CHANGE,
                change_message=[{"changed": {"fields": ["Lifecycle"]}}],
            )
        count = changed.update(lifecycle=lifecycle, updated_at=timezone.now())
        self.message_user(
            request,
            ngettext(
                "%(count)d customer marked “%(label)s”.",
                "%(count)d customers marked “%(label)s”.",
                count,
            )
            % {"count": count, "label": label},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark as lead"), permissions=["change"])
    def mark_lead(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_lifecycle(request, queryset, Customer.Lifecycle.LEAD)

    @admin.action(description=_("Mark as active"), permissions=["change"])
    def mark_active(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_lifecycle(request, queryset, Customer.Lifecycle.ACTIVE)

    @admin.action(description=_("Mark as at risk"), permissions=["change"])
    def mark_at_risk(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_lifecycle(request, queryset, Customer.Lifecycle.AT_RISK)

    @admin.action(description=_("Mark as churned"), permissions=["change"])
    def mark_churned(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_lifecycle(request, queryset, Customer.Lifecycle.CHURNED)

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.merge_customer")

    @admin.action(
        description=_("Merge the two selected customers (the first created keeps its identity)"),
        permissions=["merge"],
    )
    def merge_selected(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        selected = list(queryset.order_by("created_at", "pk")[:3])
        if len(selected) != 2:
            self.message_user(request, _("Select exactly two customers to merge."), messages.ERROR)
            return
        self._merge(request, survivor=selected[0], other=selected[1])

    def _merge(self, request: HttpRequest, *, survivor: Customer, other: Customer) -> None:
        other_name, other_id = str(other), other.pk
        try:
            merge_customers(survivor=survivor, other=other, actor=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            _("%(other)s (#%(other_id)s) was merged into %(survivor)s.")
            % {"other": other_name, "other_id": other_id, "survivor": survivor},
            messages.SUCCESS,
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.duplicates_view)
        return [
            path("duplicates/", view, name="customers_customer_duplicates"),
            *super().get_urls(),
        ]

    def duplicates_view(self, request: HttpRequest) -> HttpResponse:
        """Likely duplicates for review; a merge button on each pair."""
        if not self.has_merge_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            ids = [request.POST.get(name, "") for name in ("survivor", "other")]
            found = Customer.objects.in_bulk([pk for pk in ids if pk.isdigit()])
            survivor, other = (found.get(int(pk)) if pk.isdigit() else None for pk in ids)
            if survivor is None or other is None:
                self.message_user(request, _("That customer no longer exists."), messages.ERROR)
            else:
                self._merge(request, survivor=survivor, other=other)
            return redirect("admin:customers_customer_duplicates")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Likely duplicate customers"),
            "pairs": likely_duplicates(),
        }
        return TemplateResponse(request, "admin/customers/customer/duplicates.html", context)


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = (
        "value",
        "kind",
        "normalised_value",
        "customer",
        "messenger",
        "label",
        "is_primary",
        "opted_out_at",
    )
    list_select_related = ("customer",)
    list_filter = ("kind", "messenger", "is_primary")
    search_fields = ("normalised_value", "value", "customer__full_name", "=customer__external_id")
    search_help_text = _("A phone in any spelling, an email, a handle or the customer's name.")
    ordering = ("-id",)  # newest first, along the primary key: cheap on a big table
    show_full_result_count = False
    autocomplete_fields = ("customer",)
    fields = (
        "customer",
        "kind",
        "value",
        "normalised_value",
        "messenger",
        "label",
        "is_primary",
        "opted_out_at",
        "created_at",
    )
    readonly_fields = ("normalised_value", "created_at")
    actions = ("make_primary",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ContactPoint], search_term: str
    ) -> tuple[QuerySet[ContactPoint], bool]:
        """Also find a phone typed in any spelling by its E.164 form."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        values = normalised_contact_values(search_term.strip())
        if values:
            results = results | queryset.filter(normalised_value__in=values)
        return results, may_have_duplicates

    @admin.action(description=_("Make primary for its kind"), permissions=["change"])
    def make_primary(self, request: HttpRequest, queryset: QuerySet[ContactPoint]) -> None:
        count = 0
        for contact in queryset:
            set_primary_contact(contact=contact)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d contact made primary.", "%(count)d contacts made primary.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "customer_count")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(n_customers=Count("customers"))

    @admin.display(description=_("customers"), ordering="n_customers")
    def customer_count(self, obj: Tag) -> int:
        return int(getattr(obj, "n_customers", 0))


# --- Catalogue and purchases -----------------------------------------------------------------


@admin.register(ProductCategory)
class ProductCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "product_count")
    search_fields = ("name", "slug")
    ordering = ("name",)
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductCategory]:
        return super().get_queryset(request).annotate(n_products=Count("products"))

    @admin.display(description=_("products"), ordering="n_products")
    def product_count(self, obj: ProductCategory) -> int:
        return int(getattr(obj, "n_products", 0))


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "sku",
        "kind",
        "category",
        "price",
        "currency",
        "warranty_months",
        "support_months",
        "subscription_months",
        "successor",
        "is_active",
    )
    list_select_related = ("category", "successor")
    list_filter = ("kind", "is_active", "category", "currency")
    search_fields = ("name", "sku", "=external_id")
    ordering = ("name", "id")
    autocomplete_fields = ("successor", "related_products")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("sku", "external_id", "name", "kind", "category", "is_active")}),
        (_("Price"), {"fields": ("price", "cost", "currency")}),
        (_("Terms"), {"fields": ("warranty_months", "support_months", "subscription_months")}),
        (_("Recommendations"), {"fields": ("successor", "related_products")}),
        (_("Description"), {"fields": ("description",)}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = (
        "purchased_at",
        "customer",
        "product",
        "quantity",
        "amount",
        "currency",
        "channel",
        "status",
        "warranty_ends_on",
        "support_ends_on",
        "subscription_ends_on",
    )
    list_select_related = ("customer", "product")
    list_filter = ("status", "channel", "currency", "product__category")
    date_hierarchy = "purchased_at"
    search_fields = (
        "customer__full_name",
        "=customer__external_id",
        "=external_id",
        "product__name",
        "=product__sku",
    )
    ordering = ("-purchased_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "product")
    readonly_fields = (
        "warranty_ends_on",
        "support_ends_on",
        "subscription_ends_on",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("customer", "product", "external_id", "purchased_at")}),
        (_("Amount"), {"fields": ("quantity", "amount", "currency", "channel", "status")}),
        (
            _("Terms (from the product)"),
            {"fields": ("warranty_ends_on", "support_ends_on", "subscription_ends_on")},
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Purchase]:
        # Joined here, not only in list_select_related (which the changelist skips for a queryset
        # that already joins): autocomplete results print each row with its relations too.
        return super().get_queryset(request).select_related("customer", "product")


# --- What the customer did -------------------------------------------------------------------


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "customer",
        "kind",
        "product",
        "description",
        "channel",
        "status",
        "amount",
        "purchase",
    )
    list_select_related = ("customer", "product", "purchase__product")
    list_filter = ("status", "kind", "channel")
    date_hierarchy = "occurred_at"
    search_fields = (
        "customer__full_name",
        "=customer__external_id",
        "product__name",
        "=product__sku",
        "description",
        "=external_id",
    )
    ordering = ("-occurred_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "product", "purchase")
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Interest]:
        # Joined here, not only in list_select_related (which the changelist skips for a queryset
        # that already joins): autocomplete results print each row with its relations too.
        return (
            super().get_queryset(request).select_related("customer", "product", "purchase__product")
        )


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "customer",
        "channel",
        "direction",
        "kind",
        "contact_address",
        "operator",
        "waiting",
        "abandoned",
        "personalized",
    )
    list_select_related = ("customer", "operator")
    list_filter = ("channel", "direction", "kind", "personalized", "operator")
    date_hierarchy = "started_at"
    search_fields = (
        "customer__full_name",
        "=customer__external_id",
        "contact_address",
        "=external_id",
    )
    ordering = ("-started_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "operator")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description=_("waited"))
    def waiting(self, obj: Interaction) -> str:
        waited = obj.waiting_time
        return str(waited).split(".")[0] if waited is not None else "—"

    @admin.display(description=_("abandoned"), boolean=True)
    def abandoned(self, obj: Interaction) -> bool:
        return obj.is_abandoned


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = (
        "offered_at",
        "customer",
        "product",
        "rule",
        "status",
        "responded_at",
        "operator",
    )
    list_select_related = ("customer", "product", "operator")
    list_filter = ("status", "rule", "operator")
    date_hierarchy = "offered_at"
    search_fields = ("customer__full_name", "=customer__external_id", "product__name", "reason")
    ordering = ("-offered_at", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "product", "operator", "interaction", "purchase")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Offer]:
        # Joined here, not only in list_select_related (which the changelist skips for a queryset
        # that already joins): autocomplete results print each row with its relations too.
        return super().get_queryset(request).select_related("customer", "product", "operator")


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = (
        "due_on",
        "kind",
        "customer",
        "purchase",
        "ends_on",
        "channel",
        "delivery_status",
        "attempts",
        "sent_at",
    )
    list_select_related = ("customer", "purchase__product")
    list_filter = ("delivery_status", "kind", "channel")
    date_hierarchy = "due_on"
    search_fields = ("customer__full_name", "=customer__external_id", "purchase__product__name")
    ordering = ("-due_on", "-id")
    show_full_result_count = False
    autocomplete_fields = ("customer", "purchase")
    # Delivery bookkeeping belongs to the reminder job; cancelling is the action (the service
    # the API's cancel/ calls too), never a status typed in.
    readonly_fields = (
        "delivery_status",
        "attempts",
        "next_attempt_at",
        "failed_channels",
        "last_error",
        "sent_at",
        "created_at",
        "updated_at",
    )
    actions = ("cancel",)

    @admin.action(description=_("Cancel reminders not yet sent"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        count = len(
            cancel_reminders(
                reminder_ids=queryset.values_list("pk", flat=True),
                actor=request.user,  # type: ignore[arg-type]
            )
        )
        self.message_user(
            request,
            ngettext("%(count)d reminder cancelled.", "%(count)d reminders cancelled.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(CustomerAlias)
class CustomerAliasAdmin(admin.ModelAdmin):
    """Customers merged into others: written by the merge only, read here."""

    list_display = ("full_name", "merged_customer_id", "external_id", "customer", "merged_at")
    search_fields = ("full_name", "=external_id", "=merged_customer_id")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    readonly_fields = (
        "customer",
        "merged_customer_id",
        "full_name",
        "external_id",
        "merged_at",
        "merged_by",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DataExportRecord)
class DataExportRecordAdmin(admin.ModelAdmin):
    """Who exported which customer's data, when and how: written by the exporters only."""

    list_display = ("exported_at", "customer_number", "customer", "actor", "path")
    list_select_related = ("customer", "actor")
    list_filter = ("path",)
    date_hierarchy = "exported_at"
    search_fields = ("=customer_number", "actor__username")
    ordering = ("-exported_at", "-id")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: DataExportRecord | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: DataExportRecord | None = None
    ) -> bool:
        return False


@admin.register(ProductCoPurchase)
class ProductCoPurchaseAdmin(ComputedAdmin):
    """How many customers bought both products (the card's "also bought"): kept by every
    purchase write and the `co_purchases` job (customers/co_purchases.py)."""

    list_display = ("product", "other_product", "customers")
    list_select_related = ("product", "other_product")
    search_fields = ("product__name", "product__sku")
    ordering = ("product_id", "-customers", "other_product_id")
    show_full_result_count = False


@admin.register(ValueToDate)
class ValueToDateAdmin(ComputedAdmin):
    """A customer's completed purchases summed per currency (the card's value to date): kept
    by every purchase write (customers/values.py)."""

    list_display = ("customer", "currency", "revenue", "purchases", "orders", "last_purchase_at")
    list_select_related = ("customer",)
    list_filter = ("currency",)
    search_fields = ("=customer__external_id",)
    ordering = ("customer_id", "currency")
    show_full_result_count = False


@admin.register(CustomerTally)
class CustomerTallyAdmin(ComputedAdmin):
    """How many purchase lines and interactions a customer has (the card's "all N"): kept by
    every write of them (customers/tallies.py)."""

    list_display = ("customer", "purchases", "interactions")
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id",)
    ordering = ("customer_id",)
    show_full_result_count = False


@admin.register(OwnedProduct)
class OwnedProductAdmin(ComputedAdmin):
    """The products a customer owns and when they last bought each (the card's next best
    offers): kept by every purchase write (customers/values.py)."""

    list_display = ("customer", "product", "last_bought_at")
    list_select_related = ("customer", "product")
    search_fields = ("=customer__external_id", "product__name", "product__sku")
    ordering = ("customer_id", "product_id")
    show_full_result_count = False


@admin.register(CoPurchaseState)
class CoPurchaseStateAdmin(ComputedAdmin):
    """Whether the co-purchase counts wait for a rebuild, and when they were last rebuilt."""

    list_display = ("stale_since", "rebuilt_at")
