"""What the app derives from the store and keeps, in one place: the columnar copy of the purchases
(training, profiles), the offers and contact reads with their connections, and the customer
bases of profiles, segments and audiences. Each is rebuilt from the store, never a source of truth;
create_app makes one and holds it in ``app.state.derived``."""

from __future__ import annotations

from dataclasses import dataclass

from app.customers.base import Bases
from app.db import Engine
from app.store.contact_read import ContactReader
from app.store.offers_read import OffersReader
from app.store.purchase_cache import PurchaseCache


@dataclass(frozen=True)
class Derived:
    purchases: PurchaseCache
    offers_read: OffersReader
    contact_read: ContactReader
    bases: Bases

    @classmethod
    def for_engine(cls, engine: Engine) -> Derived:
        purchases = PurchaseCache()
        return cls(purchases, OffersReader(engine), ContactReader(engine), Bases(purchases))

    async def aclose(self) -> None:
        await self.offers_read.aclose()
        await self.contact_read.aclose()
