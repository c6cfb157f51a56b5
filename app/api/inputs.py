"""What the API takes: field types, event rows, batches and bodies (the contract in code)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
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

from app.clock import to_naive_utc, utcnow
from app.ingest.bounds import EARLIEST, LATEST, MAX_PRICE, MAX_QUANTITY
from app.ml.rfm import SEGMENTS
from app.store.events import FeedbackRow, PurchaseRow
from app.store.tables import ID_LENGTH

# RFC 3339 date-time; the offset may be left out (read as UTC, as the contract says).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?")


def no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text: refuse it here, for that field alone.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
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


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):  # already parsed (Python callers)
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time such as 2011-11-09T12:00:00Z")
    return value


def _in_range(value: datetime) -> datetime:
    try:
        value = to_naive_utc(value)
    except OverflowError:  # 0001-01-01T00:00:00+03:00 has no UTC time a datetime can hold
        raise ValueError(f"must not be before {EARLIEST:%Y-%m-%d}") from None
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

    def row(self) -> PurchaseRow:
        return PurchaseRow(
            event_id=self.event_id,
            customer_id=self.customer_id,
            product_id=self.product_id,
            quantity=self.quantity,
            unit_price=self.unit_price,
            occurred_at=self.occurred_at,
            order_id=self.order_id,
        )


class FeedbackEvent(_Event):
    event_id: Id
    recommendation_id: Id
    customer_id: Id
    product_id: Id
    type: Literal["impression", "click", "conversion", "dismiss"]
    occurred_at: Time
    channel: Channel | None = None

    def row(self) -> FeedbackRow:
        return FeedbackRow(
            event_id=self.event_id,
            recommendation_id=self.recommendation_id,
            customer_id=self.customer_id,
            product_id=self.product_id,
            type=self.type,
            occurred_at=self.occurred_at,
            channel=self.channel,
        )


class EventBatch(BaseModel):
    """Rows stay untyped here so that each bad row is reported by index, not the whole batch."""

    events: list[Any]


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


class CapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "phone", "web", "any"]
    max: Annotated[int, Field(ge=0, le=10_000, strict=True)]
    per_days: Annotated[int, Field(ge=1, le=3650, strict=True)]


class PolicyIn(BaseModel):
    """The contact policy; every field left out is off."""

    model_config = ConfigDict(extra="forbid")

    caps: Annotated[list[CapIn], Field(max_length=50)] = []
    cooldown_after_dismiss_days: Annotated[int, Field(ge=0, le=3650, strict=True)] = 0
    max_impressions_without_click: Annotated[int, Field(ge=0, le=10_000, strict=True)] = Field(
        0, description="0: no fatigue rule"
    )
    fatigue_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = Field(
        30, description="how far back impressions count for fatigue"
    )


class AudienceIn(BaseModel):
    """The filters of ``GET /v1/customers``; those left out match everyone."""

    model_config = ConfigDict(extra="forbid")

    segment: Annotated[list[str], BeforeValidator(_comma_list)] | None = Field(
        None,
        description="one or several segments, as a list or comma-separated",
        examples=["champions,loyal"],
    )
    # Strict: a boolean is not a number (true would pass as 1.0).
    min_p_active: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    max_p_active: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    min_expected_purchases: Annotated[StrictFloat, Field(ge=0.0)] | None = None
    min_expected_spend_90d: Annotated[StrictFloat, Field(ge=0.0)] | None = None
    due_within_days: Annotated[StrictFloat, Field(ge=0.0, le=365.0)] | None = None
    channel: Channel | None = None
    consent: Literal["email", "sms", "phone"] | None = None

    @field_validator("segment")
    @classmethod
    def _known_segments(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name not in SEGMENTS:
                raise ValueError(f"{name!r} is not one of {', '.join(SEGMENTS)}")
        return value


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=256)]
    audience: AudienceIn = AudienceIn()
    channel: Literal["preferred", "email", "sms", "phone", "web"] = "preferred"
    offers_per_recipient: Annotated[int, Field(ge=1, le=10, strict=True)] = 3
    dry_run: StrictBool = True
    as_of: Time | None = None
    strategy: Literal["auto", "refill"] | None = Field(
        None, description="default: refill when the audience asks for refills due, else auto"
    )


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=128)]
    weight: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
    strategy: Literal["auto", "refill"] | None = None
    model_version: Annotated[Text, Field(min_length=1, max_length=64)] | None = None
    holdout: StrictBool = False


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variants: Annotated[list[VariantIn], Field(min_length=2, max_length=20)]

    @field_validator("variants")
    @classmethod
    def _distinct(cls, value: list[VariantIn]) -> list[VariantIn]:
        names = [v.name for v in value]
        if len(set(names)) != len(names):
            raise ValueError("variant names must differ")
        if sum(v.holdout for v in value) > 1:
            raise ValueError("at most one holdout variant")
        for v in value:
            if v.holdout and (v.strategy or v.model_version):
                raise ValueError(f"{v.name}: a holdout has no strategy or model_version")
        return value
