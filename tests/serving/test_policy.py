"""The contact policy's rules, on contact states built by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.serving.policy import Cap, Policy, blocked_by, count_contact, fatigue
from app.store.contacts import ContactState

NOW = datetime(2026, 6, 1, 12)
CHANNELS = ("email", "sms", "phone", "web")


def consenting(**consent: bool) -> ContactState:
    return ContactState(known=True, consent={"email": False, "sms": False, "phone": False, **consent})


def seen(
    state: ContactState, contacts: list[tuple[str, datetime]], now: datetime, policy: Policy
) -> ContactState:
    """``state`` with ``contacts`` counted as the contact read counts them as of ``now``: per cap
    window, per channel, those in (now - window, now]."""
    state.window_counts = {}
    for days in policy.reads()["windows"]:
        counted = state.window_counts.setdefault(days, {})
        for channel, when in contacts:
            if now - timedelta(days=days) < when <= now:
                counted[channel] = counted.get(channel, 0) + 1
    return state


def test_consent_is_needed_on_every_channel_but_web() -> None:
    state = consenting(sms=True)
    policy = Policy()
    assert blocked_by(policy, state, "email", NOW) == "no_consent"
    assert blocked_by(policy, state, "phone", NOW) == "no_consent"
    assert blocked_by(policy, state, "sms", NOW) is None
    assert blocked_by(policy, state, "web", NOW) is None
    assert blocked_by(policy, ContactState(), "email", NOW) == "no_consent"  # unknown customer


def test_a_cap_counts_its_window_only() -> None:
    policy = Policy(caps=(Cap("email", 2, 7),))
    state = consenting(email=True, sms=True)
    contacts = [("email", NOW - timedelta(days=8)), ("email", NOW - timedelta(days=1))]
    assert blocked_by(policy, seen(state, contacts, NOW, policy), "email", NOW) is None  # the first is out
    contacts.append(("email", NOW - timedelta(hours=1)))
    assert blocked_by(policy, seen(state, contacts, NOW, policy), "email", NOW) == "cap"
    assert blocked_by(policy, state, "sms", NOW) is None  # another channel's cap
    later = NOW + timedelta(days=6, hours=1)
    assert blocked_by(policy, seen(state, contacts, later, policy), "email", later) is None


def test_the_any_cap_counts_every_channel() -> None:
    policy = Policy(caps=(Cap("any", 2, 7),))
    state = consenting(email=True, sms=True)
    contacts = [("email", NOW - timedelta(days=1)), ("sms", NOW - timedelta(days=2))]
    assert blocked_by(policy, seen(state, contacts, NOW, policy), "web", NOW) == "cap"


def test_cooldown_after_a_dismissal() -> None:
    policy = Policy(cooldown_after_dismiss_days=3)
    state = consenting(email=True)
    state.last_dismiss = NOW - timedelta(days=2)
    assert blocked_by(policy, state, "email", NOW) == "cooldown"
    assert blocked_by(policy, state, "email", NOW + timedelta(days=1, minutes=1)) is None
    assert blocked_by(Policy(), state, "email", NOW) is None  # no cool-down set


def test_fatigue_per_product_and_per_customer() -> None:
    policy = Policy(max_impressions_without_click=2)
    state = consenting()
    when = NOW - timedelta(days=1)
    state.reactions = [("a", "impression", when), ("b", "impression", when), ("a", "impression", when)]
    tired = fatigue(policy, state)
    assert tired.products == {"a"}
    assert tired.customer  # three offers seen, none clicked
    assert blocked_by(policy, state, "web", NOW) == "fatigue"
    state.reactions.append(("b", "click", when))
    tired = fatigue(policy, state)
    assert tired.products == {"a"}  # clicking b does not make a welcome again
    assert not tired.customer
    assert fatigue(Policy(), state).products == set()  # no fatigue rule


@settings(max_examples=200, deadline=None)
@given(
    caps=st.lists(
        st.builds(Cap, st.sampled_from((*CHANNELS, "any")), st.integers(0, 4), st.integers(1, 10)),
        max_size=3,
    ),
    attempts=st.lists(
        st.tuples(st.sampled_from(CHANNELS), st.floats(0, 30 * 24, allow_nan=False)), max_size=60
    ),
)
def test_a_sender_that_asks_first_never_exceeds_a_cap(
    caps: list[Cap], attempts: list[tuple[str, float]]
) -> None:
    """Contacts made whenever the policy allows, at random times: no window of any cap ever holds
    more than its max."""
    policy = Policy(caps=tuple(caps))
    state = consenting(email=True, sms=True, phone=True)
    made: list[tuple[str, datetime]] = []
    for channel, hours in sorted(attempts, key=lambda a: a[1]):
        when = NOW + timedelta(hours=hours)
        if blocked_by(policy, seen(state, made, when, policy), channel, when) is None:
            made.append((channel, when))
    for cap in caps:
        for _, end in made:
            inside = [
                ch
                for ch, t in made
                if end - timedelta(days=cap.per_days) < t <= end and cap.channel in ("any", ch)
            ]
            assert len(inside) <= cap.max


def test_a_contact_made_counts_in_every_window() -> None:
    policy = Policy(caps=(Cap("email", 1, 7), Cap("any", 2, 30)))
    state = seen(consenting(email=True, sms=True), [("sms", NOW - timedelta(days=10))], NOW, policy)
    assert blocked_by(policy, state, "email", NOW) is None
    count_contact(state, "email")  # what a campaign sends now
    assert state.window_counts == {7: {"email": 1}, 30: {"sms": 1, "email": 1}}
    assert blocked_by(policy, state, "email", NOW) == "cap"
    assert blocked_by(policy, state, "sms", NOW) == "cap"  # two in 30 days, in all
