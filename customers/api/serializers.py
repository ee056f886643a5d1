"""Serializers of customers, contacts, products, purchases, interests, interactions, offers."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.users import acting_user
from core.api.serializers import CleanModelSerializer, UTCDateTimeField, raise_as_drf
from customers import services
from customers.models import (
    ContactPoint,
    Customer,
    Interaction,
    Interest,
    Offer,
    Product,
    ProductCategory,
    Purchase,
    Reminder,
    Tag,
)

# The operator UI's card of a customer; integrations open it for a person at the desk.
CARD_URL = "/customers/{id}/"


def card_url(customer_id: int) -> str:
    return CARD_URL.format(id=customer_id)


def external_id_taken(model: type[Any], value: str, instance: Any = None) -> bool:
    """Whether another row of `model` already holds this non-blank external ID."""
    if not value:
        return False
    others = model.objects.filter(external_id=value)
    if instance is not None and instance.pk:
        others = others.exclude(pk=instance.pk)
    return bool(others.exists())


ALLOW_DUPLICATE_HELP = (
    "Add contacts that another customer already has (a shared landline). Without it such a "
    "contact is a 400 naming the field, with `existing_customer_ids`."
)


def raise_duplicate(exc: services.DuplicateContact, *, key: str | None = None) -> NoReturn:
    """A 400 naming each shared contact's field, and the ids of the customers who have them."""
    errors: dict[str, Any] = {
        (key or field): [str(message) for message in messages]
        for field, messages in exc.message_dict.items()
    }
    errors["existing_customer_ids"] = [str(pk) for pk in exc.customer_ids]
    raise serializers.ValidationError(errors, code="duplicate_contact") from exc


class ContactPointNestedSerializer(serializers.ModelSerializer):
    """A contact written inside its customer; `value` is checked as the kind demands."""

    class Meta:
        model = ContactPoint
        fields = [
            "id",
            "kind",
            "value",
            "normalised_value",
            "messenger",
            "label",
            "is_primary",
            "opted_out_at",
        ]
        read_only_fields = ["id", "normalised_value"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        probe = ContactPoint(
            kind=attrs.get("kind", getattr(self.instance, "kind", "")),
            value=attrs.get("value", getattr(self.instance, "value", "")),
            messenger=attrs.get("messenger", getattr(self.instance, "messenger", "")),
        )
        try:
            probe.normalise()
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        return attrs


class ContactPointSerializer(ContactPointNestedSerializer):
    """A contact on its own resource: names its customer."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    allow_duplicate_contact = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text=ALLOW_DUPLICATE_HELP
    )

    class Meta(ContactPointNestedSerializer.Meta):
        fields = [
            "customer",
            *ContactPointNestedSerializer.Meta.fields,
            "created_at",
            "allow_duplicate_contact",
        ]
        read_only_fields = ["id", "normalised_value", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if (
            self.instance is not None
            and "customer" in attrs
            and attrs["customer"].pk != self.instance.customer_id
        ):
            raise serializers.ValidationError(
                {"customer": [_("A contact cannot move to another customer.")]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> ContactPoint:
        customer = validated_data.pop("customer")
        allow_duplicate = validated_data.pop("allow_duplicate_contact", False)
        try:
            (contact,) = services.add_contact_points(
                customer=customer,
                contact_points=[validated_data],
                allow_duplicate_contact=allow_duplicate,
            )
        except services.DuplicateContact as exc:
            raise_duplicate(exc, key="value")
        except DjangoValidationError as exc:
            # The service keys errors like "contact_points[0].value"; here there is one item.
            raise serializers.ValidationError(
                {
                    key.split(".", 1)[-1]: [str(m) for m in messages]
                    for key, messages in exc.message_dict.items()
                }
            ) from exc
        return contact

    @transaction.atomic
    def update(self, instance: ContactPoint, validated_data: dict[str, Any]) -> ContactPoint:
        validated_data.pop("customer", None)
        validated_data.pop("allow_duplicate_contact", None)
        make_primary = validated_data.pop("is_primary", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        instance.save()
        if make_primary:
            services.set_primary_contact(contact=instance)
        elif make_primary is False and instance.is_primary:
            instance.is_primary = False
            instance.save(update_fields=["is_primary", "normalised_value"])
        return instance


class TagNamesField(serializers.ListField):
    """Tags by name: read from the prefetched tags, written as a list of names."""

    def get_attribute(self, instance: Customer) -> list[str]:
        return [tag.name for tag in instance.tags.all()]


class CustomerSerializer(serializers.ModelSerializer):
    """A customer with their contacts; contacts given on update are added when new."""

    contact_points = ContactPointNestedSerializer(many=True, required=False)
    tags = TagNamesField(
        child=serializers.CharField(max_length=50), required=False, help_text=_("Tag names.")
    )
    card_url = serializers.SerializerMethodField()
    allow_duplicate_contact = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text=ALLOW_DUPLICATE_HELP
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "kind",
            "full_name",
            "company",
            "external_id",
            "language",
            "time_zone",
            "segment",
            "lifecycle",
            "acquisition_channel",
            "acquisition_campaign",
            "customer_since",
            "preferred_channel",
            "consent_reminders",
            "consent_marketing",
            "tags",
            "notes",
            "contact_points",
            "allow_duplicate_contact",
            "card_url",
            "anonymised_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "anonymised_at", "created_at", "updated_at"]
        extra_kwargs: ClassVar[dict[str, Any]] = {"external_id": {"validators": []}}

    def get_card_url(self, customer: Customer) -> str:
        return card_url(customer.pk)

    def validate_external_id(self, value: str) -> str:
        if external_id_taken(Customer, value, self.instance):
            raise serializers.ValidationError(_("Another customer has this external ID."))
        return value

    def validate_tags(self, value: list[str]) -> list[str]:
        names = [name.strip() for name in value if name.strip()]
        return list(dict.fromkeys(names))

    def _set_tags(self, customer: Customer, names: list[str] | None) -> None:
        if names is None:
            return
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
        missing = [Tag(name=name) for name in names if name not in existing]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
        customer.tags.set(list(existing.values()))

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Customer:
        contact_points = validated_data.pop("contact_points", [])
        tags = validated_data.pop("tags", None)
        try:
            customer = services.create_customer(contact_points=contact_points, **validated_data)
        except services.DuplicateContact as exc:
            raise_duplicate(exc)
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        self._set_tags(customer, tags)
        return customer

    @transaction.atomic
    def update(self, instance: Customer, validated_data: dict[str, Any]) -> Customer:
        contact_points = validated_data.pop("contact_points", None)
        tags = validated_data.pop("tags", None)
        allow_duplicate = validated_data.pop("allow_duplicate_contact", False)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
            instance.save()
            if contact_points:
                stored = {
                    (kind, value)
                    for kind, value in instance.contact_points.values_list(
                        "kind", "normalised_value"
                    )
                }
                new = [item for item in contact_points if _contact_key(item) not in stored]
                services.add_contact_points(
                    customer=instance,
                    contact_points=new,
                    allow_duplicate_contact=allow_duplicate,
                )
        except services.DuplicateContact as exc:
            raise_duplicate(exc)
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        self._set_tags(instance, tags)
        return instance


def _contact_key(item: dict[str, Any]) -> tuple[str, str]:
    probe = ContactPoint(
        kind=item.get("kind", ""), value=item.get("value", ""), messenger=item.get("messenger", "")
    )
    probe.normalise()
    return probe.kind, probe.normalised_value


class LookupResultSerializer(serializers.Serializer):
    """What the telephony system shows on a ring: who it is and what is going on."""

    id = serializers.IntegerField()
    full_name = serializers.CharField()
    company = serializers.CharField()
    open_tickets_count = serializers.IntegerField()
    last_purchase_at = UTCDateTimeField(allow_null=True)
    last_purchase_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True
    )
    last_purchase_currency = serializers.CharField(allow_null=True)
    last_purchase_product = serializers.CharField(allow_null=True)
    card_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField())
    def get_card_url(self, customer: Customer) -> str:
        return card_url(customer.pk)


class ProductCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductCategory
        fields = ["id", "name", "slug"]


class ProductSerializer(CleanModelSerializer):
    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "external_id",
            "name",
            "kind",
            "category",
            "description",
            "price",
            "cost",
            "currency",
            "warranty_months",
            "support_months",
            "subscription_months",
            "successor",
            "related_products",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: ClassVar[dict[str, Any]] = {
            "external_id": {"validators": []},
            "sku": {"validators": []},
        }

    def validate_external_id(self, value: str) -> str:
        if external_id_taken(Product, value, self.instance):
            raise serializers.ValidationError(_("Another product has this external ID."))
        return value

    def validate_sku(self, value: str) -> str:
        others = Product.objects.filter(sku=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(_("Another product has this SKU."))
        return value


class PurchaseSerializer(CleanModelSerializer):
    class Meta:
        model = Purchase
        fields = [
            "id",
            "customer",
            "product",
            "external_id",
            "quantity",
            "amount",
            "currency",
            "channel",
            "status",
            "purchased_at",
            "warranty_ends_on",
            "support_ends_on",
            "subscription_ends_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "warranty_ends_on",
            "support_ends_on",
            "subscription_ends_on",
            "created_at",
            "updated_at",
        ]
        extra_kwargs: ClassVar[dict[str, Any]] = {"external_id": {"validators": []}}

    def validate_external_id(self, value: str) -> str:
        if external_id_taken(Purchase, value, self.instance):
            raise serializers.ValidationError(_("Another purchase has this external ID."))
        return value


class InterestSerializer(CleanModelSerializer):
    class Meta:
        model = Interest
        fields = [
            "id",
            "customer",
            "product",
            "description",
            "external_id",
            "kind",
            "channel",
            "status",
            "quantity",
            "amount",
            "currency",
            "occurred_at",
            "purchase",
            "closed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: ClassVar[dict[str, Any]] = {"external_id": {"validators": []}}

    def validate_external_id(self, value: str) -> str:
        if external_id_taken(Interest, value, self.instance):
            raise serializers.ValidationError(_("Another interest has this external ID."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        status = attrs.get("status", getattr(self.instance, "status", Interest.Status.OPEN))
        if status == Interest.Status.OPEN:
            attrs["closed_at"] = None
        elif not attrs.get("closed_at") and not getattr(self.instance, "closed_at", None):
            attrs["closed_at"] = timezone.now()
        return attrs


def refuse_read_only(
    serializer: serializers.Serializer, messages: dict[str, str], current: dict[str, Any]
) -> None:
    """A 400 naming each of these read-only fields the request tries to change (DRF would drop
    them silently, and the caller would believe the change was made). Sending the value the
    field already has (or will have) is no change and passes."""
    given = serializer.initial_data if isinstance(serializer.initial_data, dict) else {}
    errors = {
        field: [message]
        for field, message in messages.items()
        if field in given and given[field] != current.get(field)
    }
    if errors:
        raise serializers.ValidationError(errors)


class InteractionSerializer(CleanModelSerializer):
    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "kind",
            "channel",
            "direction",
            "contact_address",
            "external_id",
            "started_at",
            "answered_at",
            "ended_at",
            "operator",
            "personalized",
            "summary",
            "created_at",
            "updated_at",
        ]
        # The operator is whoever is logged in: nobody logs a contact as a colleague.
        read_only_fields = ["id", "operator", "created_at", "updated_at"]
        validators: list[Any] = []  # the unique (channel, external_id) is checked by full_clean

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        operator = (
            self.instance.operator_id
            if self.instance is not None
            else acting_user(self.context["request"]).pk
        )
        refuse_read_only(
            self,
            {"operator": _("The operator is the user who logs the contact.")},
            {"operator": operator},
        )
        return super().validate(attrs)

    def create(self, validated_data: dict[str, Any]) -> Interaction:
        validated_data["operator"] = acting_user(self.context["request"])
        return super().create(validated_data)


class OfferSerializer(CleanModelSerializer):
    class Meta:
        model = Offer
        fields = [
            "id",
            "customer",
            "product",
            "rule",
            "reason",
            "status",
            "offered_at",
            "responded_at",
            "operator",
            "interaction",
            "purchase",
        ]
        # The customer's answer (and the purchase it led to) is recorded by
        # POST /api/v1/offers/{id}/respond/, with who recorded it; the operator is whoever made
        # the offer. None of them is a field to overwrite.
        read_only_fields = ["id", "status", "responded_at", "operator", "purchase"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        offer = self.instance
        answer = _("Record the customer's answer with POST /api/v1/offers/{id}/respond/.")
        refuse_read_only(
            self,
            {
                "status": answer,
                "responded_at": answer,
                "purchase": answer,
                "operator": _("The operator is the user who makes the offer."),
            },
            {
                "status": offer.status if offer else Offer.Status.OFFERED,
                "responded_at": (
                    self.fields["responded_at"].to_representation(offer.responded_at)
                    if offer and offer.responded_at
                    else None
                ),
                "purchase": offer.purchase_id if offer else None,
                "operator": (
                    offer.operator_id if offer else acting_user(self.context["request"]).pk
                ),
            },
        )
        return super().validate(attrs)

    def create(self, validated_data: dict[str, Any]) -> Offer:
        """Through the card's service: the operator is the caller, the interaction theirs."""
        try:
            return services.record_offer(
                customer=validated_data["customer"],
                actor=acting_user(self.context["request"]),
                reason=validated_data.get("reason", ""),
                product=validated_data.get("product"),
                rule=validated_data.get("rule", Offer.Rule.MANUAL),
                interaction=validated_data.get("interaction"),
                at=validated_data.get("offered_at"),
            )
        except DjangoValidationError as exc:
            raise_as_drf(exc)
            raise


class OfferResponseSerializer(serializers.Serializer):
    """The customer's answer to an offer still open."""

    status = serializers.ChoiceField(
        choices=[
            (Offer.Status.ACCEPTED.value, Offer.Status.ACCEPTED.label),
            (Offer.Status.DECLINED.value, Offer.Status.DECLINED.label),
        ]
    )
    purchase = serializers.PrimaryKeyRelatedField(
        queryset=Purchase.objects.all(),
        required=False,
        allow_null=True,
        help_text="The purchase an accepted offer led to; the offer's customer's own.",
    )


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = [
            "id",
            "customer",
            "purchase",
            "kind",
            "due_on",
            "ends_on",
            "channel",
            "delivery_status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "sent_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
