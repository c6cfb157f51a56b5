"""The experiment that runs: each customer's variant, a deterministic function of the experiment's
name and the customer id (the first 8 bytes of their SHA-256 as a number in [0, 1)), in proportion to
the variants' weights. The same customer always gets the same variant, in every process."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    strategy: str | None = None  # "auto" or "refill"
    model_version: str | None = None  # a ready version served to this variant instead of the active one
    holdout: bool = False  # no offers at all: the control group

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        return cls(
            str(d["name"]),
            float(d["weight"]),
            d.get("strategy"),
            d.get("model_version"),
            bool(d.get("holdout", False)),
        )


def bucket(name: str, customer_id: str) -> float:
    digest = hashlib.sha256(f"{name}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Running:
    name: str
    variants: tuple[Variant, ...]

    @classmethod
    def of(cls, name: str, variants: list[dict[str, Any]]) -> Running:
        return cls(name, tuple(Variant.from_dict(v) for v in variants))

    def assign(self, customer_id: str) -> Variant:
        total = sum(v.weight for v in self.variants)
        edges, run = [], 0.0
        for v in self.variants:
            run += v.weight / total
            edges.append(run)
        i = bisect.bisect_right(edges, bucket(self.name, customer_id))
        return self.variants[min(i, len(self.variants) - 1)]
