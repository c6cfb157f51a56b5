"""Bulk import of purchases from CSV: a column mapping, cleaning rules, deterministic event ids.

Each rule that skips or changes rows is counted, so an operator sees what happened to every row.
Event ids are derived from the row's content (plus its occurrence number among identical rows), so
importing the same file twice stores nothing new.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from app.ingest.bounds import EARLIEST, MAX_PRICE, MAX_QUANTITY
from app.store.bulk import Row

NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "PADS"}
)


@dataclass(frozen=True)
class Mapping:
    """Which CSV column holds each field. Optional columns may be None."""

    customer_id: str
    product_id: str
    quantity: str
    unit_price: str
    occurred_at: str
    order_id: str | None = None
    event_id: str | None = None
    country: str | None = None
    product_name: str | None = None
    online_retail: bool = False  # the UCI Online Retail rules below

    @classmethod
    def parse(cls, pairs: list[str]) -> Mapping:
        """``["customer_id=CustomerID", ...]`` → Mapping."""
        values: dict[str, str] = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not column:
                raise ValueError(f"--map {pair!r}: expected field=column")
            if name not in cls.__dataclass_fields__ or name == "online_retail":
                raise ValueError(f"--map {pair!r}: unknown field {name!r}")
            values[name] = column
        missing = {"customer_id", "product_id", "quantity", "unit_price", "occurred_at"} - set(values)
        if missing:
            raise ValueError(f"--map: no column given for {', '.join(sorted(missing))}")
        return cls(**values)  # type: ignore[arg-type]


ONLINE_RETAIL = Mapping(
    customer_id="CustomerID",
    product_id="StockCode",
    quantity="Quantity",
    unit_price="UnitPrice",
    occurred_at="InvoiceDate",
    order_id="InvoiceNo",
    country="Country",
    product_name="Description",
    online_retail=True,
)


@dataclass
class ImportStats:
    rows: int = 0
    stored: int = 0
    already_stored: int = 0
    # rule -> rows that rule decided (each row is decided by the first rule that matches)
    decided: Counter[str] = field(default_factory=Counter)
    # rule -> every row the rule matches, overlaps included: the file's own facts
    matched: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(n for rule, n in self.decided.items() if rule.startswith("skip:"))


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _is_non_product(code: str) -> bool:
    return code.upper() in NON_PRODUCT_CODES or code.lower().startswith("gift_")


def _customer(raw: str) -> str:
    """``17850.0`` → ``17850``: the file writes its ids as floats."""
    raw = raw.strip()
    return raw[:-2] if raw.endswith(".0") else raw


def _parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _content_id(prefix: str, values: list[str], seen: Counter[bytes]) -> tuple[str, int]:
    """An id from the row's content; identical rows are told apart by their occurrence number."""
    digest = hashlib.blake2b("\x1f".join(values).encode(), digest_size=10).digest()
    seen[digest] += 1
    n = seen[digest]
    return f"{prefix}{digest.hex()}" + (f"-{n}" if n > 1 else ""), n


def read_rows(
    handle: IO[str],
    mapping: Mapping,
    stats: ImportStats,
    *,
    drop_exact_duplicates: bool = False,
    on_row: Callable[[], None] | None = None,
) -> Iterator[Row]:
    reader = csv.reader(handle)
    header = next(reader)
    wanted = [f for f in mapping.__dataclass_fields__ if f != "online_retail"]
    index: dict[str, int] = {}
    for name in wanted:
        column = getattr(mapping, name)
        if column is None:
            continue
        if column not in header:
            raise ValueError(f"column {column!r} (for {name}) is not in the file's header {header}")
        index[name] = header.index(column)
    get = index.get
    i_cust, i_prod, i_qty, i_price, i_time = (
        index["customer_id"],
        index["product_id"],
        index["quantity"],
        index["unit_price"],
        index["occurred_at"],
    )
    i_order, i_event, i_country, i_name = (
        get("order_id"),
        get("event_id"),
        get("country"),
        get("product_name"),
    )
    seen: Counter[bytes] = Counter()
    explicit_ids: set[str] = set()
    prefix = "or-" if mapping.online_retail else "csv-"
    retail = mapping.online_retail
    matched, decided = stats.matched, stats.decided

    for values in reader:
        stats.rows += 1
        if on_row is not None:
            on_row()
        if len(values) != len(header):
            decided["skip:malformed_row"] += 1
            continue
        content_id, occurrence = _content_id(prefix, values, seen)
        if occurrence > 1:
            matched["exact_duplicate"] += 1
        customer = _customer(values[i_cust])
        product = values[i_prod].strip().upper()
        order = values[i_order].strip() if i_order is not None else None
        try:
            quantity = float(values[i_qty])
            price = float(values[i_price])
            when = _parse_time(values[i_time])
        except ValueError:
            decided["skip:invalid_value"] += 1
            continue

        rule: str | None = None
        if retail:
            cancelled = bool(order) and order.startswith("C")  # type: ignore[union-attr]
            non_product = _is_non_product(product)
            adjustment = quantity < 0 and not cancelled
            matched["cancellation"] += cancelled
            matched["non_product_code"] += non_product
            matched["stock_adjustment"] += adjustment
            matched["no_customer"] += not customer
            matched["zero_price"] += price == 0
            if non_product:
                rule = "skip:non_product_code"
            elif adjustment:
                rule = "skip:stock_adjustment"
        if rule is None and not customer:
            rule = "skip:no_customer"
        if rule is None and not product:
            rule = "skip:no_product"
        if rule is None and (quantity == 0 or not abs(quantity) <= MAX_QUANTITY):  # NaN too
            rule = "skip:invalid_quantity"
        if rule is None and price == 0:
            rule = "skip:zero_price"
        if rule is None and (price < 0 or not math.isfinite(price) or price > MAX_PRICE):
            rule = "skip:invalid_price"
        if rule is None and when < EARLIEST:
            rule = "skip:invalid_time"
        if rule is not None:
            decided[rule] += 1
            continue

        if occurrence > 1 and drop_exact_duplicates:
            decided["skip:exact_duplicate"] += 1
            continue
        event_id = content_id
        if i_event is not None and values[i_event].strip():
            event_id = values[i_event].strip()
            if event_id in explicit_ids:  # an explicit id repeated in the file: the first row wins
                decided["skip:repeated_event_id"] += 1
                continue
            explicit_ids.add(event_id)
        if retail and order and order.startswith("C"):
            decided["stored:cancellation"] += 1  # a return of the customer who bought
        else:
            decided["stored:return" if quantity < 0 else "stored:purchase"] += 1
        country = (values[i_country].strip() or None) if i_country is not None else None
        product_name = (values[i_name].strip() or None) if i_name is not None else None
        yield (event_id, customer, product, quantity, price, when, order or None, country, product_name)


def as_event(row: Row) -> dict[str, Any]:
    """A row as the purchase event ``POST /v1/events/purchases`` takes (what a client sends)."""
    event: dict[str, Any] = {
        "event_id": row[0],
        "customer_id": row[1],
        "product_id": row[2],
        "quantity": row[3],
        "unit_price": row[4],
        "occurred_at": row[5].isoformat() + "Z",
    }
    if row[6] is not None:
        event["order_id"] = row[6]
    return event
