"""The store's tables: the only source of truth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

ID_LENGTH = 256

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class utc_now(FunctionElement[datetime]):  # noqa: N801 (used like func.now())
    """The store's current time in UTC, as a naive timestamp (what every time column holds)."""

    type = DateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"  # SQLite's is UTC


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL's CURRENT_TIMESTAMP would be stored in the server's time zone.
    return "timezone('utc', now())"


class Base(DeclarativeBase):
    metadata = metadata


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(64))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    consent_email: Mapped[bool | None] = mapped_column(Boolean)
    consent_sms: Mapped[bool | None] = mapped_column(Boolean)
    consent_phone: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=utc_now())


class Product(Base):
    __tablename__ = "products"

    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(512))
    category: Mapped[str | None] = mapped_column(String(256))
    price: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=utc_now())

    __table_args__ = (
        # Every offers request reads the (few) inactive products.
        Index(
            "ix_products_inactive",
            "product_id",
            sqlite_where=text("active = 0"),
            postgresql_where=text("active = false"),
        ),
    )


class Purchase(Base):
    """One line of an order. A negative quantity is a return. Times are naive UTC."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    customer_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("products.product_id"))
    quantity: Mapped[float] = mapped_column(Float)
    unit_price: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))

    __table_args__ = (
        # Serving reads one customer's history as of a time; training reads everything before a time.
        Index("ix_purchases_customer_time", "customer_id", "occurred_at"),
        Index("ix_purchases_occurred_at", "occurred_at"),
        # Ids are never reused (PostgreSQL's sequences never do): see app/store/purchase_cache.py.
        {"sqlite_autoincrement": True},
    )


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    recommendation_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    customer_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    channel: Mapped[str | None] = mapped_column(String(16))


class Recommendation(Base):
    """What was offered, to whom, by which model: the anchor for attribution."""

    __tablename__ = "recommendations"

    recommendation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    model_version: Mapped[str | None] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    product_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Where the offer went and why (attribution groups by them); null for a plain offers request.
    channel: Mapped[str | None] = mapped_column(String(16))
    campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    experiment: Mapped[str | None] = mapped_column(String(128))
    variant: Mapped[str | None] = mapped_column(String(128))


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        # One training job runs at a time across every process and replica: only one row can hold
        # the claim; the others wait their turn (app/training/).
        Index(
            "ux_model_versions_one_running",
            "running",
            unique=True,
            sqlite_where=text("running IS NOT NULL"),
            postgresql_where=text("running IS NOT NULL"),
        ),
    )

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    as_of: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(2000))
    running: Mapped[bool | None] = mapped_column(Boolean)  # True while its job runs, else NULL
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)  # renewed while its job runs
    # The version was trained on a customer erased since: it is retired as soon as it stops being
    # active (app/customers/erasure.py).
    holds_erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Erasure(Base):
    """Who was erased and when, as a one-way hash of the id, kept for a day: a request that began
    before the erasure finished (offers being written, a batch being ingested) cannot write them back."""

    __tablename__ = "erasures"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Policy(Base):
    """The contact policy (one row, ``name`` "default"): caps, cool-down, fatigue, as JSON."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Contact(Base):
    """The contact ledger: each time nbo's offers reached a customer on a channel (a campaign's send,
    or an impression reported back), once per offer and channel. Caps count it."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ux_contacts_offer_channel", "recommendation_id", "channel", unique=True),
        # The checks serving makes: one customer's contacts since a moment.
        Index("ix_contacts_customer_time", "customer_id", "contacted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    recommendation_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    contacted_at: Mapped[datetime] = mapped_column(DateTime)


class Campaign(Base):
    __tablename__ = "campaigns"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # audience, channel, offers per recipient, as_of
    status: Mapped[str] = mapped_column(String(16))  # dry_run, running, done, failed
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    preview: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(2000))


class Experiment(Base):
    __tablename__ = "experiments"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")  # one at a time
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
