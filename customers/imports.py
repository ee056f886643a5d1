"""Bulk import of purchases from a CSV file (the shop's export, a legacy system).

The header is `customer_external_id,date,amount` with optional `sku`, `currency`,
`quantity`, `channel`, `full_name` and `external_id` (the shop's id of the line) columns.

Two passes over the file, each a stream (bounded memory, whatever the file's size): the first
checks every row and writes nothing, so a bad last line costs a read, not a long transaction
that is rolled back; the second writes the rows in batches with bulk_create inside one
transaction. Unknown customers are created by their external ID. By default a file with any bad
row is refused as a whole (nothing is written); with `skip_invalid` the bad rows are reported
and the rest is imported.

Importing the same file again adds nothing: each purchase keeps a key of its row, the line's
`external_id` when the file has one, else `import:<digest of the file>:<line>`, and rows whose
key is already stored are counted as `already_imported`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.dates import site_day_start
from customers.dates import validate_past_moment
from customers.models import Customer, Product, Purchase, SalesChannel
from customers.purchases import write_purchases

REQUIRED_COLUMNS = ("customer_external_id", "date", "amount")
OPTIONAL_COLUMNS = ("sku", "currency", "quantity", "channel", "full_name", "external_id")
# A file that cannot be read twice (standard input) is kept in memory up to this size, then on
# disk, for the second pass.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
# The progress callback is told every this many rows of each pass.
PROGRESS_EVERY = 10_000
# Chars of the file digest in a row's key: enough to tell files apart (Purchase.external_id
# holds 100).
FILE_DIGEST_CHARS = 24
# Rows per bulk insert: large enough to amortise the round trip, small enough for memory.
BATCH_SIZE = 2_000
# At most this many row errors are kept for the report; the count covers all of them.
MAX_REPORTED_ERRORS = 100
# Purchase.amount: max_digits=14, decimal_places=2.
AMOUNT_MAX = Decimal("999999999999.99")
EXTERNAL_ID_MAX_LENGTH = 100


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)s: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class ImportResult:
    purchases: int = 0
    customers_created: int = 0
    already_imported: int = 0
    rows_read: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, message))


class ImportRefused(Exception):
    """The file has bad rows (or a bad header) and nothing was imported."""

    def __init__(self, result: ImportResult, header_error: str = "") -> None:
        self.result = result
        self.header_error = header_error
        super().__init__(header_error or _("%(count)s bad rows") % {"count": result.error_count})


@dataclass(frozen=True)
class _Row:
    line: int
    external_id: str
    full_name: str
    purchased_at: dt.datetime
    amount: Decimal
    currency: str
    quantity: int
    channel: str
    sku: str
    key: str


def _parse_moment(text: str) -> dt.datetime:
    """A day (midnight in the site's zone) or an ISO datetime (naive: the site's zone)."""
    if len(text) == len("YYYY-MM-DD"):
        return site_day_start(dt.date.fromisoformat(text))
    moment = dt.datetime.fromisoformat(text)
    if timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, timezone.get_default_timezone())


def _parse(line: int, raw: dict[str, str | None], file_digest: str = "") -> _Row | str:
    """The row, or a message saying what is wrong with it."""
    values = {key: (value or "").strip() for key, value in raw.items() if key}
    external_id = values.get("customer_external_id", "")
    if not external_id:
        return _("customer_external_id is empty")
    if len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        return _("customer_external_id is longer than %(max)s characters") % {
            "max": EXTERNAL_ID_MAX_LENGTH
        }
    try:
        purchased_at = _parse_moment(values.get("date", ""))
    except ValueError:
        return _("date “%(value)s” is not a date (YYYY-MM-DD)") % {"value": values.get("date", "")}
    try:
        validate_past_moment(purchased_at)
    except ValidationError as exc:
        return _("date “%(value)s”: %(problem)s") % {
            "value": values.get("date", ""),
            "problem": " ".join(exc.messages),
        }
    try:
        amount = Decimal(values.get("amount", "").replace(",", "."))
    except InvalidOperation:
        return _("amount “%(value)s” is not a number") % {"value": values.get("amount", "")}
    if not amount.is_finite() or amount < 0 or amount > AMOUNT_MAX:
        return _("amount “%(value)s” must be zero or more") % {"value": values.get("amount", "")}
    if amount != amount.quantize(Decimal("0.01")):
        return _("amount “%(value)s” has more than two decimal places") % {"value": str(amount)}
    quantity_text = values.get("quantity") or "1"
    if not quantity_text.isdigit() or int(quantity_text) < 1:
        return _("quantity “%(value)s” must be a whole number of at least 1") % {
            "value": quantity_text
        }
    channel = values.get("channel") or SalesChannel.ONLINE
    if channel not in SalesChannel.values:
        return _("channel “%(value)s” is not one of %(choices)s") % {
            "value": channel,
            "choices": ", ".join(SalesChannel.values),
        }
    currency = (values.get("currency") or settings.DEFAULT_CURRENCY).upper()
    if len(currency) != len("RUB") or not currency.isalpha():
        return _("currency “%(value)s” is not a three-letter code") % {"value": currency}
    key = values.get("external_id", "") or f"import:{file_digest[:FILE_DIGEST_CHARS]}:{line}"
    if len(key) > EXTERNAL_ID_MAX_LENGTH:
        return _("external_id is longer than %(max)s characters") % {"max": EXTERNAL_ID_MAX_LENGTH}
    return _Row(
        line=line,
        key=key,
        external_id=external_id,
        full_name=values.get("full_name", "")[:255],
        purchased_at=purchased_at,
        amount=amount.quantize(Decimal("0.01")),
        currency=currency,
        quantity=int(quantity_text),
        channel=channel,
        sku=values.get("sku", ""),
    )


def _batches(rows: Iterable[_Row], size: int) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Writes batches: customers first (created when unknown), then the purchase lines."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result
        self.products: dict[str, Product | None] = {}

    def write(self, batch: list[_Row]) -> None:
        unknown_skus = {row.sku for row in batch if row.sku and row.sku not in self.products}
        if unknown_skus:
            found = {p.sku: p for p in Product.objects.filter(sku__in=unknown_skus)}
            for sku in unknown_skus:
                self.products[sku] = found.get(sku)
        ids = {row.external_id for row in batch}
        customers = dict(
            Customer.objects.filter(external_id__in=ids).values_list("external_id", "id")
        )
        missing: dict[str, str] = {}
        for row in batch:
            if row.external_id not in customers:
                missing.setdefault(row.external_id, row.full_name or row.external_id)
        if missing:
            created = Customer.objects.bulk_create(
                [
                    Customer(
                        external_id=external_id,
                        full_name=name,
                        lifecycle=Customer.Lifecycle.ACTIVE,
                    )
                    for external_id, name in missing.items()
                ]
            )
            self.result.customers_created += len(created)
            customers.update(
                Customer.objects.filter(external_id__in=list(missing)).values_list(
                    "external_id", "id"
                )
            )
        stored = set(
            # exclude(""): the partial unique index's own condition, so that PostgreSQL uses it
            # for a list longer than the 100 items its planner proves implications for.
            Purchase.objects.filter(external_id__in=[row.key for row in batch])
            .exclude(external_id="")
            .values_list("external_id", flat=True)
        )
        purchases = []
        for row in batch:
            if row.key in stored:
                self.result.already_imported += 1
                continue
            stored.add(row.key)
            product = self.products.get(row.sku) if row.sku else None
            purchases.append(
                Purchase(
                    customer_id=customers[row.external_id],
                    product=product,
                    quantity=row.quantity,
                    amount=row.amount,
                    currency=row.currency,
                    channel=row.channel,
                    purchased_at=row.purchased_at,
                    external_id=row.key,
                )
            )
        self.result.purchases += len(write_purchases(purchases=purchases))


def import_purchases(
    *,
    stream: TextIO,
    skip_invalid: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Import purchase lines from CSV text; all or nothing unless `skip_invalid`.

    Raises ImportRefused (nothing written) on a bad header, or on any bad row when
    `skip_invalid` is False. Unknown SKUs are bad rows: a purchase never silently loses its
    product. `progress(phase, rows)` hears of each pass ("checked", "written") as it goes.
    """
    if not stream.seekable():
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - returned file, closed by GC
            max_size=SPOOL_MAX_BYTES, mode="w+", newline="", encoding="utf-8"
        )
        shutil.copyfileobj(stream, spool)
        stream = spool  # type: ignore[assignment]
    start = stream.tell()
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), ""):
        digest.update(chunk.encode())
    file_digest = digest.hexdigest()

    result = ImportResult()
    writer = _Writer(result)

    def rows(check: bool) -> Iterator[_Row]:
        """The file's good rows, from the top; while checking, its errors go to `result`."""
        stream.seek(start)
        reader = csv.DictReader(stream)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise ImportRefused(
                result,
                _("The header lacks %(columns)s; expected %(expected)s.")
                % {"columns": ", ".join(missing), "expected": ",".join(REQUIRED_COLUMNS)},
            )
        for count, raw in enumerate(reader, start=1):
            line = reader.line_num
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress("checked" if check else "written", count)
            if check:
                result.rows_read += 1
            if None in raw:
                if check:
                    result.add_error(line, _("more values than columns"))
                continue
            parsed = _parse(line, raw, file_digest)
            if isinstance(parsed, str):
                if check:
                    result.add_error(line, parsed)
                continue
            yield parsed

    # First pass: check everything, write nothing.
    for batch in _batches(rows(check=True), batch_size):
        _check_skus(batch, writer, result)
    if result.error_count and not skip_invalid:
        raise ImportRefused(result)
    if progress is not None:
        progress("checked", result.rows_read)

    # Second pass: write the good rows, in one transaction.
    with transaction.atomic():
        for batch in _batches(rows(check=False), batch_size):
            # Bad rows are not yielded; a row of an unknown SKU was reported by the first pass.
            good = [row for row in batch if not row.sku or writer.products.get(row.sku)]
            if good:
                writer.write(good)
    if progress is not None:
        progress("written", result.rows_read)
    return result


def _check_skus(batch: list[_Row], writer: _Writer, result: ImportResult) -> None:
    unknown = {row.sku for row in batch if row.sku and row.sku not in writer.products}
    if unknown:
        found = {p.sku: p for p in Product.objects.filter(sku__in=unknown)}
        for sku in unknown:
            writer.products[sku] = found.get(sku)
    for row in batch:
        if row.sku and writer.products.get(row.sku) is None:
            result.add_error(row.line, _("no product has SKU “%(sku)s”") % {"sku": row.sku})
