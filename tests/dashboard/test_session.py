from __future__ import annotations

from app.dashboard.session import MAX_AGE_SECONDS, issue, key_of, next_path

KEYS = {"k1": frozenset({"read"}), "k2": frozenset({"read", "admin"})}


def test_a_cookie_names_the_key_it_was_issued_with_without_holding_it() -> None:
    cookie = issue("k2", now=1_000_000)
    assert "k2" not in cookie
    assert key_of(KEYS, cookie, now=1_000_100) == "k2"
    assert key_of(KEYS, issue("k1", now=1_000_000), now=1_000_100) == "k1"


def test_a_stale_forged_or_foreign_cookie_names_no_key() -> None:
    cookie = issue("k1", now=1_000_000)
    assert key_of(KEYS, cookie, now=1_000_000 + MAX_AGE_SECONDS + 1) is None  # stale
    assert key_of(KEYS, cookie, now=999_000) is None  # from the future
    stamp, _, mac = cookie.partition(".")
    assert key_of(KEYS, f"{int(stamp) + 1}.{mac}", now=1_000_100) is None  # its time changed
    assert key_of(KEYS, issue("gone", now=1_000_000), now=1_000_100) is None  # a key since removed
    for junk in ("", ".", "abc.def", "1e9.x", "9" * 40 + ".x"):
        assert key_of(KEYS, junk, now=1_000_100) is None


def test_the_login_sends_back_to_dashboard_paths_only() -> None:
    assert next_path("/dashboard/reach?as_of=2011-12-10") == "/dashboard/reach?as_of=2011-12-10"
    for elsewhere in (
        None,
        "",
        "https://evil.example/dashboard",
        "//evil.example/dashboard",
        "/v1/models",
        "/\\evil",
    ):
        assert next_path(elsewhere) == "/dashboard"
