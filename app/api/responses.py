"""What the API answers: the response models of the contract, as OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class Rejected(BaseModel):
    index: int
    error: str


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejected]


class FeedbackResult(IngestResult):
    unattributed: int  # stored events naming a recommendation_id nbo has no record of


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
