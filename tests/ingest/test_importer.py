from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL, ImportStats, Mapping, read_rows
from app.store.bulk import Row
from app.store.tables import Customer, Product, Purchase
from tests.conftest import FULL_DATA, empty_tables

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv.gz"

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
LINES = [
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",  # exact duplicate
    "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom",  # guest
    "C536379,85123a,WHITE HANGING HEART,-1,2010-12-01 09:41:00,2.55,17850.0,United Kingdom",  # cancellation
    "536380,POST,POSTAGE,3,2010-12-01 09:45:00,18.0,12583.0,France",  # non-product
    "536381,gift_0001_20,GIFT VOUCHER,1,2010-12-01 09:46:00,17.0,12583.0,France",  # non-product
    "536414,22139,,-56,2010-12-01 11:52:00,0.0,,United Kingdom",  # stock adjustment
    "536415,22140,FREE SAMPLE,1,2010-12-01 11:53:00,0.0,12583.0,France",  # zero price
    "536416,22141,BAD,abc,2010-12-01 11:53:00,1.0,12583.0,France",  # not a number
]


def parse(
    text: str, mapping: Mapping = ONLINE_RETAIL, *, drop_exact_duplicates: bool = False
) -> tuple[list[Row], ImportStats]:
    stats = ImportStats()
    rows = list(read_rows(io.StringIO(text), mapping, stats, drop_exact_duplicates=drop_exact_duplicates))
    return rows, stats


def test_online_retail_rules_each_counted() -> None:
    rows, stats = parse(HEADER + "\n".join(LINES) + "\n")
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("17850", "85123A", 6),
        ("17850", "85123A", 6),
        ("17850", "85123A", -1),
    ]
    assert rows[0][0] != rows[1][0]  # identical lines are two lines of the order
    assert rows[2][6] == "C536379"
    assert stats.rows == 9
    assert dict(stats.decided) == {
        "stored:purchase": 2,
        "stored:cancellation": 1,
        "skip:no_customer": 1,
        "skip:non_product_code": 2,
        "skip:stock_adjustment": 1,
        "skip:zero_price": 1,
        "skip:invalid_value": 1,
    }
    assert stats.matched["exact_duplicate"] == 1
    assert stats.matched["no_customer"] == 2


def test_exact_duplicates_can_be_dropped() -> None:
    rows, stats = parse(HEADER + "\n".join(LINES[:2]) + "\n", drop_exact_duplicates=True)
    assert len(rows) == 1
    assert stats.decided["skip:exact_duplicate"] == 1


def test_event_ids_are_deterministic() -> None:
    text = HEADER + "\n".join(LINES) + "\n"
    assert [r[0] for r in parse(text)[0]] == [r[0] for r in parse(text)[0]]


def test_generic_mapping_and_errors() -> None:
    mapping = Mapping.parse(
        [
            "customer_id=who",
            "product_id=sku",
            "quantity=n",
            "unit_price=price",
            "occurred_at=at",
            "event_id=id",
        ]
    )
    text = "id,who,sku,n,price,at\ne1,a,x,2,1.5,2011-01-01T10:00:00+01:00\ne1,a,y,1,1,2011-01-01T00:00:00Z\n"
    rows, stats = parse(text, mapping)
    assert [(r[0], r[5].isoformat()) for r in rows] == [("e1", "2011-01-01T09:00:00")]
    assert stats.decided["skip:repeated_event_id"] == 1
    with pytest.raises(ValueError, match="occurred_at"):
        Mapping.parse(["customer_id=a", "product_id=b", "quantity=c", "unit_price=d"])
    with pytest.raises(ValueError, match="not in the file"):
        parse("x,y\n1,2\n", mapping)


def test_load_is_idempotent(session: Session) -> None:
    rows, _ = parse(HEADER + "\n".join(LINES) + "\n")
    engine = session.get_bind()
    assert isinstance(engine.engine, Engine)
    # load through the test's own connection so that the rollback cleans up
    from app.store import bulk

    load = bulk._load_pg if engine.dialect.name == "postgresql" else bulk._load_sqlite
    conn = session.connection()
    assert load(conn, rows) == 3
    assert load(conn, rows) == 0
    assert session.scalar(select(func.count()).select_from(Purchase)) == 3
    assert session.get(Product, "85123A") is not None
    customer = session.get(Customer, "17850")
    assert customer is not None
    assert customer.country == "United Kingdom"


def test_sample_import_round_trip(engine: Engine, db_url: str) -> None:
    try:
        first = run_import(SAMPLE, ONLINE_RETAIL, database_url=db_url)
        second = run_import(SAMPLE, ONLINE_RETAIL, database_url=db_url)
        assert first.rows == 150_101
        assert first.stored > 100_000
        assert (second.stored, second.already_stored) == (0, first.stored)
        if engine.dialect.name == "postgresql":  # the planner knows the loaded tables at once
            with engine.connect() as conn:
                analysed = conn.exec_driver_sql(
                    "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
                ).scalars()
                assert {"customers", "products", "purchases"} <= set(analysed)
    finally:
        empty_tables(engine)


@pytest.mark.full_data
def test_full_online_retail_file_agrees_with_its_readme(engine: Engine, db_url: str) -> None:
    if not FULL_DATA.exists():
        if os.environ.get("NBO_REQUIRE_FULL_DATA"):
            pytest.fail(f"{FULL_DATA} is missing")
        pytest.skip("the full Online Retail file is not beside the repository")
    try:
        stats = run_import(FULL_DATA, ONLINE_RETAIL, database_url=db_url)
        # The facts listed in the file's README.
        assert stats.rows == 541_909
        assert stats.matched["no_customer"] == 135_080
        assert stats.matched["cancellation"] == 9_288
        assert stats.matched["stock_adjustment"] == 1_336
        assert stats.matched["zero_price"] == 2_515
        assert stats.matched["exact_duplicate"] == 5_268
        assert stats.matched["non_product_code"] == 2_950
        # Every row is accounted for, and exact duplicates are kept as separate order lines.
        assert sum(stats.decided.values()) == stats.rows
        assert stats.decided["skip:exact_duplicate"] == 0
        assert stats.stored == stats.decided["stored:purchase"] + stats.decided["stored:cancellation"]
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Purchase)) == stats.stored
            # 4,372 customers, less the 10 whose every row is a non-product code or has a zero price
            assert conn.scalar(select(func.count(func.distinct(Purchase.customer_id)))) == 4_362
        again = run_import(FULL_DATA, ONLINE_RETAIL, database_url=db_url)
        assert (again.stored, again.already_stored) == (0, stats.stored)
    finally:
        empty_tables(engine)
