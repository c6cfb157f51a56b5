"""Pydantic models: the HTTP contract (../spec/api-v1.md) in code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from app.tables import ID_LENGTH

EARLIEST = datetime(1990, 1, 1)
LATEST = datetime(2200, 1, 1)  # far enough for any clock; keeps date arithmetic clear of overflow
MAX_QUANTITY = 1_000_000
MAX_PRICE = 10_000_000.0
# RFC 3339 date-time; the offset may be left out (read as UTC, as the contract says).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?")


def no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text: refuse it here, for that field alone.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Id = Annotated[
    StrictStr, Field(min_length=1, max_length=ID_LENGTH), AfterValidator(no_nul), AfterValidator(_not_blank)
]
Channel = Literal["email", "sms", "phone", "web"]
Price = Annotated[StrictFloat, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]


Text = Annotated[StrictStr, AfterValidator(no_nul)]  # a free string


def to_naive_utc(value: datetime) -> datetime:
    """The store keeps naive UTC; a time without offset is UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):  # already parsed (Python callers)
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time such as 2011-11-09T12:00:00Z")
    return value


def _in_range(value: datetime) -> datetime:
    value = to_naive_utc(value)
    if value < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST:%Y-%m-%d}")
    if value >= LATEST:
        raise ValueError(f"must be before {LATEST:%Y-%m-%d}")
    return value


# Every time nbo takes, in a body or a query: RFC 3339 only, as naive UTC within [EARLIEST, LATEST).
Time = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_in_range)]


def _quantity(value: float) -> float:
    if value == 0:
        raise ValueError("must not be 0 (a negative quantity is a return)")
    return value


# Whole or fractional (goods sold by weight); a negative one is a return.
Quantity = Annotated[
    StrictFloat, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, allow_inf_nan=False), AfterValidator(_quantity)
]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("occurred_at", mode="after", check_fields=False)
    @classmethod
    def _plausible_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        skew_days = (info.context or {}).get("max_future_skew_days", 1.0)
        if value > utcnow() + timedelta(days=skew_days):
            raise ValueError("must not be in the future")
        return value


class PurchaseEvent(_Event):
    event_id: Id
    customer_id: Id
    product_id: Id
    quantity: Quantity
    unit_price: Price
    occurred_at: Time
    order_id: Id | None = None


class FeedbackEvent(_Event):
    event_id: Id
    recommendation_id: Id
    customer_id: Id
    product_id: Id
    type: Literal["impression", "click", "conversion", "dismiss"]
    occurred_at: Time
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


class FeedbackResult(IngestResult):
    unattributed: int  # stored events naming a recommendation_id nbo has no record of


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: Id
    name: Annotated[Text, Field(max_length=512)] | None = None
    category: Annotated[Text, Field(max_length=256)] | None = None
    price: Price | None = None
    active: StrictBool = True  # null is refused (422): a product is active or it is not


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
    country: Annotated[Text, Field(max_length=64)] | None = None
    preferred_channel: Channel | None = None
    consent: Consent | None = None


class CustomerBatch(BaseModel):
    customers: list[CustomerIn]


class Upserted(BaseModel):
    upserted: int


# Answers that routes encode themselves (for speed): documented here, not validated on the way out.
class Reason(BaseModel):
    type: Literal["repurchase", "similar_taste", "co_purchase", "refill_due", "popular"]
    because: list[str] = Field(description="the customer's products behind the reason")


class Offer(BaseModel):
    product_id: str
    score: float
    reason: Reason


class OffersOut(BaseModel):
    recommendation_id: str = Field(description="quote it in feedback on these offers")
    customer_id: str
    model_version: str | None = Field(description="null before any version is trained")
    strategy: str = Field(examples=["personalized", "popular", "popular_in_country", "refill+personalized"])
    offers: list[Offer]


class SimilarItem(BaseModel):
    product_id: str
    score: float


class SimilarOut(BaseModel):
    product_id: str
    model_version: str | None
    items: list[SimilarItem]


class TrainingStarted(BaseModel):
    version: str
    status: Literal["training"]


class Ready(BaseModel):
    status: Literal["ready"]
    model: str = Field(description="the version this process serves, or none")


class Rfm(BaseModel):
    recency: int = Field(ge=0, le=5, description="1–5 (quintile); 0 for a prospect")
    frequency: int = Field(ge=0, le=5)
    monetary: int = Field(ge=0, le=5)


class DueProduct(BaseModel):
    product_id: str
    last_purchase_at: datetime
    cycle_days: float = Field(description="the product's repurchase cycle")
    due_at: datetime


class ProfileOut(BaseModel):
    customer_id: str
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    recency_days: float | None
    frequency: int = Field(description="orders")
    monetary: float = Field(description="net spend, returns netted")
    segment: str = Field(examples=["champions", "at_risk", "prospect"])
    p_active: float = Field(ge=0, le=1)
    expected_purchases_30d: float
    next_purchase_at: datetime | None
    preferred_channel: str | None
    rfm: Rfm
    due_products: list[DueProduct]


class ModelVersionOut(BaseModel):
    version: str
    status: Literal["training", "ready", "failed", "retired"]
    active: bool
    metrics: dict[str, Any] = Field(description="evaluation against the baselines, and the gate's verdict")
    as_of: datetime
    created_at: datetime
    finished_at: datetime | None
    error: str | None = None


class ModelList(BaseModel):
    models: list[ModelVersionOut] = Field(description="newest first")


class SegmentRow(BaseModel):
    segment: str
    customers: int
    revenue: float
    share_customers: float = Field(ge=0, le=1)
    share_revenue: float = Field(description="of the buyers' net revenue (a segment's may be negative)")


class ParetoPoint(BaseModel):
    customers: float = Field(description="share of the buyers, best first")
    revenue: float = Field(description="their share of the revenue")


class Pareto(BaseModel):
    top_20_percent_revenue_share: float
    curve: list[ParetoPoint]


class SegmentsOut(BaseModel):
    as_of: datetime
    customers: int
    buyers: int
    revenue: float
    segments: list[SegmentRow]
    pareto: Pareto


class AudienceMember(BaseModel):
    customer_id: str
    segment: str
    recency_days: float | None
    frequency: int
    monetary: float
    p_active: float
    expected_purchases_30d: float
    preferred_channel: str | None


class AudienceOut(BaseModel):
    as_of: datetime
    customers: list[AudienceMember]
    next_after: str | None = Field(description="pass it as `after` for the next page; null on the last")
