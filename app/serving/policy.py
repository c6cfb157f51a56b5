"""The contact policy: on which channel, how often and when nbo's offers may reach a customer.

- Consent: email, sms and phone need the customer's consent on that channel; web (the shop's own
  pages) needs none.
- Caps: at most ``max`` contacts on a channel (or on all of them, ``any``) within ``per_days``.
- Cool-down: no contact within ``cooldown_after_dismiss_days`` of a dismissal.
- Fatigue: a product shown ``max_impressions_without_click`` times since the customer last clicked
  it (within ``fatigue_days``) is not offered again; a customer shown that many offers without a
  click on any of them is not contacted until they click or the window passes.

A contact is a campaign's send or a reported impression (app/store/contacts.py records both).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.db import Session
from app.store import contacts
from app.store.contacts import ContactState
from app.store.customers import CONSENTS  # the channels that need consent


@dataclass(frozen=True)
class Cap:
    channel: str  # a channel, or "any"
    max: int
    per_days: int


@dataclass(frozen=True)
class Policy:
    caps: tuple[Cap, ...] = ()
    cooldown_after_dismiss_days: int = 0
    max_impressions_without_click: int = 0  # 0: no fatigue rule
    fatigue_days: int = 30

    @classmethod
    def from_body(cls, body: dict[str, Any] | None) -> Policy:
        if not body:
            return cls()
        return cls(
            caps=tuple(Cap(c["channel"], int(c["max"]), int(c["per_days"])) for c in body.get("caps", [])),
            cooldown_after_dismiss_days=int(body.get("cooldown_after_dismiss_days", 0)),
            max_impressions_without_click=int(body.get("max_impressions_without_click", 0)),
            fatigue_days=int(body.get("fatigue_days", 30)),
        )

    def to_body(self) -> dict[str, Any]:
        return {
            "caps": [{"channel": c.channel, "max": c.max, "per_days": c.per_days} for c in self.caps],
            "cooldown_after_dismiss_days": self.cooldown_after_dismiss_days,
            "max_impressions_without_click": self.max_impressions_without_click,
            "fatigue_days": self.fatigue_days,
        }

    def reads(self) -> dict[str, Any]:
        """What a contact read needs for this policy (app/store/contact_read.py)."""
        return {
            "windows": sorted({c.per_days for c in self.caps}),
            "dismiss_days": self.cooldown_after_dismiss_days,
            "fatigue_days": self.fatigue_days if self.max_impressions_without_click > 0 else 0,
        }


def load(session: Session) -> Policy:
    return Policy.from_body(contacts.get_policy(session))


def consents(state: ContactState, channel: str) -> bool:
    return channel not in CONSENTS or state.consent.get(channel, False)


@dataclass
class Fatigue:
    products: set[str] = field(default_factory=set)  # not to be offered again for now
    customer: bool = False  # shown max_impressions_without_click offers without a click


def fatigue(policy: Policy, state: ContactState) -> Fatigue:
    limit = policy.max_impressions_without_click
    out = Fatigue()
    if limit <= 0:
        return out
    shown: Counter[str] = Counter()
    since_click = 0
    for product, kind, _ in state.reactions:  # oldest first
        if kind == "click":
            shown[product] = 0
            since_click = 0
        else:
            shown[product] += 1
            since_click += 1
    out.products = {p for p, n in shown.items() if n >= limit}
    out.customer = since_click >= limit
    return out


def blocked_by(policy: Policy, state: ContactState, channel: str, now: datetime) -> str | None:
    """Why an offer may not reach this customer on ``channel`` now (None: it may)."""
    if not consents(state, channel):
        return "no_consent"
    if (
        policy.cooldown_after_dismiss_days > 0
        and state.last_dismiss is not None
        and state.last_dismiss > now - timedelta(days=policy.cooldown_after_dismiss_days)
    ):
        return "cooldown"
    for cap in policy.caps:
        if cap.channel not in ("any", channel):
            continue  # another channel's cap
        counted = state.window_counts.get(cap.per_days, {})
        used = sum(n for ch, n in counted.items() if cap.channel in ("any", ch))
        if used >= cap.max:
            return "cap"
    if fatigue(policy, state).customer:
        return "fatigue"
    return None


def count_contact(state: ContactState, channel: str) -> None:
    """The state after a contact made at its moment, which every window holds (a campaign checks
    its next recipients against it)."""
    for counted in state.window_counts.values():
        counted[channel] = counted.get(channel, 0) + 1


@dataclass(frozen=True)
class Verdict:
    blocked_by: str | None  # None: the offers may go out on the channel
    avoid: frozenset[str]  # products the customer is tired of, left out of their offers


def verdict(policy: Policy, state: ContactState, channel: str, now: datetime) -> Verdict:
    """The policy's verdict on offering to this customer on ``channel`` now."""
    return Verdict(blocked_by(policy, state, channel, now), frozenset(fatigue(policy, state).products))
