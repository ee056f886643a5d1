"""`import_purchases`: streams a CSV, creates unknown customers, all or nothing by default."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.imports import ImportRefused, import_purchases
from customers.models import Customer, Purchase
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join(lines) + "\n")


def test_imports_rows_creates_unknown_customers_and_links_skus() -> None:
    known = CustomerFactory.create(external_id="C-1")
    product = ProductFactory.create(sku="PHONE-1", warranty_months=12)
    result = import_purchases(
        stream=_csv(
            "customer_external_id,date,amount,sku",
            "C-1,2025-03-10,19990.00,PHONE-1",
            "C-2,2025-03-11,150.50,",
            "C-2,2025-03-12T15:30:00,99,",
        )
    )
    assert (result.purchases, result.customers_created, result.error_count) == (3, 1, 0)
    first = Purchase.objects.get(customer=known)
    assert first.product == product and first.amount == Decimal("19990.00")
    # bulk inserts still derive the warranty end from the product.
    assert first.warranty_ends_on == dt.date(2026, 3, 10)
    assert timezone.localdate(first.purchased_at, timezone.get_default_timezone()) == dt.date(
        2025, 3, 10
    )
    assert Customer.objects.get(external_id="C-2").purchases.count() == 2


def test_a_bad_row_refuses_the_whole_file_with_line_numbers() -> None:
    with pytest.raises(ImportRefused) as refused:
        import_purchases(
            stream=_csv(
                "customer_external_id,date,amount",
                "C-1,2025-03-10,10",
                "C-2,10/03/2025,10",
                ",2025-03-10,10",
                "C-3,2025-03-10,-5",
                "C-4,2025-03-10,abc",
            ),
            batch_size=1,
        )
    errors = refused.value.result.errors
    assert [error.line for error in errors] == [3, 4, 5, 6]
    assert "date" in errors[0].message
    assert Purchase.objects.count() == 0 and Customer.objects.count() == 0


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest() -> None:
    result = import_purchases(
        stream=_csv(
            "customer_external_id,date,amount,sku",
            "C-1,2025-03-10,10,",
            "C-1,2025-03-10,10,NO-SUCH-SKU",
        ),
        skip_invalid=True,
    )
    assert (result.purchases, result.error_count) == (1, 1)
    assert "NO-SUCH-SKU" in result.errors[0].message


def test_a_missing_column_is_refused() -> None:
    with pytest.raises(ImportRefused, match="customer_external_id"):
        import_purchases(stream=_csv("date,amount", "2025-03-10,10"))


def test_command_reports_counts_and_refuses_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("customer_external_id,date,amount\nX-1,2025-01-01,5\nX-2,2025-01-02,7\n")
    out = io.StringIO()
    call_command("import_purchases", str(good), stdout=out)
    assert "Imported 2 purchases (2 new customers)" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_external_id,date,amount\nX-3,2025-13-01,5\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_purchases", str(bad), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_purchases", str(tmp_path / "none.csv"))


def test_thousands_of_rows_import_in_batches() -> None:
    lines = ["customer_external_id,date,amount"]
    lines += [f"B-{i % 700},2025-02-{1 + i % 28:02d},{i}.00" for i in range(5000)]
    result = import_purchases(stream=_csv(*lines), batch_size=1000)
    assert result.purchases == 5000 and result.customers_created == 700
    assert Purchase.objects.count() == 5000


def test_importing_the_same_file_again_adds_no_purchase(tmp_path: Path) -> None:
    csv = tmp_path / "shop.csv"
    # Two identical lines are two purchases (the customer bought the same thing twice).
    csv.write_text(
        "customer_external_id,date,amount\nC-1,2025-03-10,100.00\nC-1,2025-03-10,100.00\n"
        "C-2,2025-03-11,50.00\n"
    )

    call_command("import_purchases", str(csv), stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("import_purchases", str(csv), stdout=out, stderr=io.StringIO())

    assert Purchase.objects.count() == 3
    assert "Imported 0 purchases" in out.getvalue()
    assert "3 already imported" in out.getvalue()


def test_a_line_id_column_is_the_purchase_key_across_files() -> None:
    first = _csv("customer_external_id,date,amount,external_id", "C-1,2025-03-10,100.00,O-1")
    again = _csv(
        "customer_external_id,date,amount,external_id",
        "C-1,2025-03-10,100.00,O-1",
        "C-1,2025-03-12,70.00,O-2",
    )

    import_purchases(stream=first)
    result = import_purchases(stream=again)

    assert (result.purchases, result.already_imported) == (1, 1)
    assert sorted(Purchase.objects.values_list("external_id", flat=True)) == ["O-1", "O-2"]


def test_a_bad_last_line_is_found_before_anything_is_written() -> None:
    ProductFactory.create(sku="PHONE-1")
    lines = [f"C-{n},2025-03-10,100.00,PHONE-1" for n in range(500)]
    stream = _csv("customer_external_id,date,amount,sku", *lines, "C-X,not a date,1,")

    with CaptureQueriesContext(connection) as queries, pytest.raises(ImportRefused):
        import_purchases(stream=stream, batch_size=100)

    assert not [q for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert Customer.objects.count() == 0


def test_progress_is_told_for_each_pass_and_standard_input_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = "".join(f"C-{n % 7},2025-03-10,1.00\n" for n in range(25))
    monkeypatch.setattr("sys.stdin", io.StringIO("customer_external_id,date,amount\n" + rows))
    monkeypatch.setattr("customers.imports.PROGRESS_EVERY", 10)
    err = io.StringIO()

    call_command("import_purchases", "-", stdout=io.StringIO(), stderr=err)

    told = [line.split(" (")[0] for line in err.getvalue().splitlines()]
    assert told == [
        "checked 10 rows",
        "checked 20 rows",
        "checked 25 rows",
        "written 10 rows",
        "written 20 rows",
        "written 25 rows",
    ]
    assert Purchase.objects.count() == 25
