"""Pydantic models: the HTTP contract (../spec/api-v1.md) in code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from app.tables import ID_LENGTH

EARLIEST = datetime(1990, 1, 1)
MAX_QUANTITY = 1_000_000
MAX_PRICE = 10_000_000.0


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Id = Annotated[StrictStr, Field(min_length=1, max_length=ID_LENGTH), AfterValidator(_not_blank)]
Channel = Literal["email", "sms", "phone", "web"]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]


def to_naive_utc(value: datetime) -> datetime:
    """The store keeps naive UTC; a time without offset is UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("occurred_at", mode="after", check_fields=False)
    @classmethod
    def _plausible_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        value = to_naive_utc(value)
        skew_days = (info.context or {}).get("max_future_skew_days", 1.0)
        if value < EARLIEST:
            raise ValueError(f"must not be before {EARLIEST:%Y-%m-%d}")
        if value > utcnow() + timedelta(days=skew_days):
            raise ValueError("must not be in the future")
        return value


class PurchaseEvent(_Event):
    event_id: Id
    customer_id: Id
    product_id: Id
    quantity: StrictInt = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)
    unit_price: Price
    occurred_at: datetime
    order_id: Id | None = None

    @field_validator("quantity")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0 (a negative quantity is a return)")
        return value


class FeedbackEvent(_Event):
    event_id: Id
    recommendation_id: Id
    customer_id: Id
    product_id: Id
    type: Literal["impression", "click", "conversion", "dismiss"]
    occurred_at: datetime
    channel: Channel | None = None


class EventBatch(BaseModel):
    """Rows stay untyped here so that each bad row is reported by index, not the whole batch."""

    events: list[Any]


class Rejected(BaseModel):
    index: int
    error: str


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejected]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: Id
    name: Annotated[StrictStr, Field(max_length=512)] | None = None
    category: Annotated[StrictStr, Field(max_length=256)] | None = None
    price: Price | None = None
    active: StrictBool | None = None


class ProductBatch(BaseModel):
    products: list[ProductIn]


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None
    sms: StrictBool | None = None
    phone: StrictBool | None = None


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: Id
    country: Annotated[StrictStr, Field(max_length=64)] | None = None
    preferred_channel: Channel | None = None
    consent: Consent | None = None


class CustomerBatch(BaseModel):
    customers: list[CustomerIn]


class Upserted(BaseModel):
    upserted: int
