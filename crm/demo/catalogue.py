"""The product catalogue of the demo shop: laptops, phones, accessories and the services around.

`ensure_catalogue()` creates it under a prefix ("DEMO" for seed_demo, "GEN" for
generate_data), so the two commands never share or delete each other's products.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from customers.models import Product, ProductCategory

# What a unit costs the company as a share of its price: hardware sells on a thin margin,
# services and subscriptions on a wide one (used only for margin-based CLV).
GOODS_COST_SHARE = Decimal("0.72")
SERVICE_COST_SHARE = Decimal("0.30")
CENTS = Decimal("0.01")

CATEGORIES: list[tuple[str, str]] = [
    ("laptops", "Laptops"),
    ("phones", "Phones"),
    ("accessories", "Accessories"),
    ("service-plans", "Service plans"),
    ("subscriptions", "Subscriptions"),
    ("extended-warranty", "Extended warranty"),
]


@dataclass(frozen=True)
class ProductSpec:
    """One catalogue line; `weight` is how often it sells relative to the others."""

    key: str
    category: str
    name: str
    price: str
    kind: str = Product.Kind.GOODS
    warranty_months: int = 0
    support_months: int = 0
    subscription_months: int = 0
    successor: str = ""
    related: tuple[str, ...] = field(default_factory=tuple)
    is_active: bool = True
    weight: int = 1


_SVC = Product.Kind.SERVICE
_SUB = Product.Kind.SUBSCRIPTION
_EXT = Product.Kind.WARRANTY_EXTENSION
_LAPTOP_EXTRAS = ("acc-charger", "acc-mouse", "acc-sleeve", "acc-dock", "svc-care-12", "ew-lap-1")
_PHONE_EXTRAS = ("acc-case", "acc-glass", "acc-earbuds", "ew-phone-1", "sub-cloud-m")

# fmt: off
PRODUCTS: list[ProductSpec] = [
    # Laptops: the 2022 models are off sale and replaced by the 2024 ones.
    ProductSpec(
        "lap-aero-22", "laptops", "Aero 14 (2022)", "89990", warranty_months=12,
        successor="lap-aero-24", related=_LAPTOP_EXTRAS, is_active=False, weight=3,
    ),
    ProductSpec(
        "lap-aero-24", "laptops", "Aero 14 (2024)", "99990", warranty_months=12,
        related=(*_LAPTOP_EXTRAS, "sub-office-y"), weight=4,
    ),
    ProductSpec(
        "lap-pro-22", "laptops", "ProBook 16 (2022)", "149990", warranty_months=24,
        successor="lap-pro-24", related=_LAPTOP_EXTRAS, is_active=False, weight=2,
    ),
    ProductSpec(
        "lap-pro-24", "laptops", "ProBook 16 (2024)", "164990", warranty_months=24,
        related=(*_LAPTOP_EXTRAS, "ew-lap-2", "svc-business"), weight=2,
    ),
    ProductSpec(
        "lap-flex-13", "laptops", "Flex 13", "64990", warranty_months=12,
        related=("acc-sleeve", "acc-mouse", "svc-setup"), weight=3,
    ),
    # Phones.
    ProductSpec(
        "ph-nova-s", "phones", "Nova S", "49990", warranty_months=12,
        successor="ph-nova-s2", related=_PHONE_EXTRAS, is_active=False, weight=4,
    ),
    ProductSpec(
        "ph-nova-s2", "phones", "Nova S2", "54990", warranty_months=12,
        related=_PHONE_EXTRAS, weight=5,
    ),
    ProductSpec(
        "ph-nova-max", "phones", "Nova Max", "89990", warranty_months=12,
        related=(*_PHONE_EXTRAS, "sub-cloud-y"), weight=2,
    ),
    ProductSpec(
        "ph-lite-a5", "phones", "Lite A5", "19990", warranty_months=12,
        related=("acc-case", "acc-glass"), weight=4,
    ),
    # Accessories.
    ProductSpec("acc-charger", "accessories", "USB-C charger 65 W", "3490", warranty_months=6,
                weight=6),
    ProductSpec("acc-case", "accessories", "Nova S2 silicone case", "1990", weight=7),
    ProductSpec("acc-mouse", "accessories", "Wireless mouse M3", "2490", warranty_months=12,
                weight=5),
    ProductSpec("acc-sleeve", "accessories", "Laptop sleeve 14\"", "2990", weight=4),
    ProductSpec("acc-dock", "accessories", "USB-C docking station", "12990", warranty_months=12,
                related=("acc-charger",), weight=2),
    ProductSpec("acc-earbuds", "accessories", "Earbuds Air 2", "8990", warranty_months=12,
                related=("acc-charger",), weight=5),
    ProductSpec("acc-glass", "accessories", "Screen protector for Nova", "990", weight=6),
    # Service plans.
    ProductSpec("svc-care-12", "service-plans", "CarePlus support, 1 year", "4990", kind=_SVC,
                support_months=12, successor="svc-care-24", weight=3),
    ProductSpec("svc-care-24", "service-plans", "CarePlus support, 2 years", "8490", kind=_SVC,
                support_months=24, weight=1),
    ProductSpec("svc-setup", "service-plans", "Setup and data transfer", "2490", kind=_SVC,
                weight=3),
    ProductSpec("svc-business", "service-plans", "Business support, 1 year", "24990",
                kind=_SVC, support_months=12, weight=1),
    # Subscriptions.
    ProductSpec("sub-cloud-m", "subscriptions", "Cloud Backup 200 GB, monthly", "299",
                kind=_SUB, subscription_months=1, successor="sub-cloud-y", weight=4),
    ProductSpec("sub-cloud-y", "subscriptions", "Cloud Backup 1 TB, yearly", "2990", kind=_SUB,
                subscription_months=12, weight=2),
    ProductSpec("sub-office-y", "subscriptions", "Office Suite, yearly", "4990", kind=_SUB,
                subscription_months=12, weight=3),
    ProductSpec("sub-antivirus-y", "subscriptions", "Antivirus Total, yearly", "1990",
                kind=_SUB, subscription_months=12, weight=3),
    # Extended warranty: the months are the total cover from the day of purchase.
    ProductSpec("ew-lap-1", "extended-warranty", "Extended warranty for laptops, 2 years total",
                "6990", kind=_EXT, warranty_months=24, weight=2),
    ProductSpec("ew-lap-2", "extended-warranty", "Extended warranty for laptops, 3 years total",
                "11990", kind=_EXT, warranty_months=36, weight=1),
    ProductSpec("ew-phone-1", "extended-warranty", "Extended warranty for phones, 2 years total",
                "3990", kind=_EXT, warranty_months=24, weight=2),
]
# fmt: on

SPECS_BY_KEY: dict[str, ProductSpec] = {spec.key: spec for spec in PRODUCTS}


def unit_cost(spec: ProductSpec) -> Decimal:
    """What one unit costs the company, from its price and kind."""
    share = GOODS_COST_SHARE if spec.kind == Product.Kind.GOODS else SERVICE_COST_SHARE
    return (Decimal(spec.price) * share).quantize(CENTS)


def sku_for(prefix: str, key: str) -> str:
    """The SKU of a catalogue line under a prefix: ("DEMO", "lap-aero-24") -> DEMO-LAP-AERO-24."""
    return f"{prefix}-{key}".upper()


def ensure_catalogue(*, sku_prefix: str, slug_prefix: str) -> dict[str, Product]:
    """Create (or find) the categories and products under the prefixes; return them by key.

    Existing rows are reused as they are, so running twice adds nothing.
    """
    categories: dict[str, ProductCategory] = {}
    for slug, name in CATEGORIES:
        categories[slug], _created = ProductCategory.objects.get_or_create(
            slug=f"{slug_prefix}{slug}", defaults={"name": name}
        )
    existing = {
        product.sku: product
        for product in Product.objects.filter(sku__startswith=f"{sku_prefix.upper()}-")
    }
    products: dict[str, Product] = {}
    missing: list[Product] = []
    for spec in PRODUCTS:
        sku = sku_for(sku_prefix, spec.key)
        product = existing.get(sku)
        if product is None:
            product = Product(
                sku=sku,
                external_id=f"{slug_prefix}p-{spec.key}",
                name=spec.name,
                kind=spec.kind,
                category=categories[spec.category],
                price=Decimal(spec.price),
                cost=unit_cost(spec),
                warranty_months=spec.warranty_months,
                support_months=spec.support_months,
                subscription_months=spec.subscription_months,
                is_active=spec.is_active,
            )
            missing.append(product)
        products[spec.key] = product
    if missing:
        Product.objects.bulk_create(missing)
        _link_products(products, {product.sku for product in missing})
    return products


def _link_products(products: dict[str, Product], new_skus: set[str]) -> None:
    """Set successors and related products of the products just created."""
    with_successor: list[Product] = []
    through = Product.related_products.through
    links: list[Any] = []
    for spec in PRODUCTS:
        product = products[spec.key]
        if product.sku not in new_skus:
            continue
        if spec.successor:
            product.successor = products[spec.successor]
            with_successor.append(product)
        links.extend(
            through(from_product_id=product.pk, to_product_id=products[key].pk)
            for key in spec.related
        )
    Product.objects.bulk_update(with_successor, ["successor"])
    through.objects.bulk_create(links, ignore_conflicts=True)
