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
    name: str | None = Field(None, description="the catalogue's, when it has one (so too category, price)")
    category: str | None = None
    price: float | None = None


class OffersOut(BaseModel):
    recommendation_id: str = Field(description="quote it in feedback on these offers")
    customer_id: str
    model_version: str | None = Field(description="null before any version is trained")
    strategy: str = Field(
        examples=["personalized", "popular", "popular_in_country", "refill+personalized", "blocked"]
    )
    offers: list[Offer]
    contactable: bool | None = Field(
        None, description="with `channel` only: whether the contact policy lets the offers go out"
    )
    blocked_by: Literal["no_consent", "cap", "cooldown", "fatigue"] | None = Field(
        None, description="with `channel` only: the rule that stops them (then `offers` is empty)"
    )


class SimilarItem(BaseModel):
    product_id: str
    score: float
    name: str | None = Field(None, description="the catalogue's, when it has one (so too category, price)")
    category: str | None = None
    price: float | None = None


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
    expected_orders_90d: float
    expected_spend_90d: float = Field(
        description="orders expected over 90 days × the next order's expected value"
    )
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
    expected_revenue_90d: float = Field(description="the sum of its customers' expected_spend_90d")


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
    expected_revenue_90d: float
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
    expected_spend_90d: float
    preferred_channel: str | None


class AudienceOut(BaseModel):
    as_of: datetime
    customers: list[AudienceMember]
    next_after: str | None = Field(description="pass it as `after` for the next page; null on the last")


class Skipped(BaseModel):
    no_consent: int
    capped: int
    cooldown: int
    fatigue: int = Field(description="shown offers without a click up to the policy's limit")
    no_offer: int


class CampaignOut(BaseModel):
    campaign_id: str
    name: str
    status: Literal["dry_run", "running", "done", "failed"]
    recipients: int
    skipped: Skipped
    progress: dict[str, int] = Field(description="customers in the audience, and how many are done")
    preview: list[dict[str, Any]] = Field(description="the first recipients, with their offers")
    created_at: datetime
    finished_at: datetime | None
    error: str | None = None


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]


class OfferGroup(BaseModel):
    key: str | None
    offers: int
    impressions: int
    clicks: int
    conversions: int = Field(description="offered products bought within the attribution window, or reported")
    revenue: float = Field(description="of the purchases attributed")
    ctr: float = Field(description="clicks per impression")
    conversion_rate: float = Field(description="conversions per offer")


class OfferMetrics(BaseModel):
    group_by: str
    from_: datetime = Field(alias="from")
    to: datetime
    groups: list[OfferGroup]


class Uplift(BaseModel):
    estimate: float = Field(description="revenue per customer, this variant's minus control's")
    ci95: list[float] = Field(description="its 95 % interval (normal approximation)")


class VariantResult(BaseModel):
    name: str
    control: bool
    customers: int
    conversions: int = Field(description="customers who bought within the attribution window")
    revenue: float
    revenue_per_customer: float
    conversion_rate: float
    uplift_vs_control: Uplift | None


class ExperimentResults(BaseModel):
    name: str
    active: bool
    window_days: float
    variants: list[VariantResult]


class ExperimentOut(BaseModel):
    name: str
    active: bool
    variants: list[dict[str, Any]]


class ProductOut(BaseModel):
    product_id: str
    name: str | None
    category: str | None
    price: float | None
    active: bool


class ProductList(BaseModel):
    products: list[ProductOut]
    next_after: str | None = Field(description="pass it as `after` for the next page; null on the last")


class RecipientProduct(BaseModel):
    product_id: str
    name: str | None = None
    category: str | None = None
    price: float | None = None


class Recipient(BaseModel):
    customer_id: str
    channel: str
    recommendation_id: str = Field(description="this recipient's own; quote it in feedback")
    offers: list[str] = Field(description="product ids, best first")
    products: list[RecipientProduct]
