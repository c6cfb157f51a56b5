"""Who looks at the dashboard: the API key entered once on the login page, kept for the browser
session as a cookie that proves the key without holding it, and the scopes that key has.

The cookie is ``<issued>.<HMAC-SHA256 of the issue time under the key>``: the server finds the key
it was made with by recomputing the MAC under each configured key (constant time each), so a leaked
cookie opens the dashboard until it expires but never the API, and the key itself is never in a
cookie, a URL or the page. It is HttpOnly, SameSite=Strict, scoped to /dashboard, and has no expiry
date (the browser drops it when the session ends); the server refuses one older than MAX_AGE.
A form that acts (activate) must come from the dashboard's own origin (the Origin header browsers
send with every POST), which with SameSite=Strict keeps other sites from acting in an analyst's name.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request

from app.config import SCOPES, Settings
from app.web.limits import RateLimiter

COOKIE = "nbo_dashboard"
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Viewer:
    scopes: frozenset[str]
    open: bool  # no API keys are configured: the service (and its dashboard) runs open

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


class LoginRequiredError(Exception):
    """The request has no valid session: the login page, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class RefusedError(Exception):
    """A valid session whose key may not do this (HTTP ``status``), said in words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _mac(key: str, issued: int) -> str:
    return hmac.new(key.encode(), f"nbo-dashboard:{issued}".encode(), hashlib.sha256).hexdigest()


def issue(key: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_mac(key, issued)}"


def key_of(api_keys: dict[str, frozenset[str]], cookie: str, now: float | None = None) -> str | None:
    """The configured key the cookie was issued with, while it is fresh; None otherwise."""
    stamp, _, mac = cookie.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return None
    issued = int(stamp)
    age = (now if now is not None else time.time()) - issued
    if not 0 <= age <= MAX_AGE_SECONDS:
        return None
    found = None
    for key in api_keys:
        if hmac.compare_digest(_mac(key, issued), mac):
            found = key
    return found


def viewer(request: Request) -> Viewer:
    """The dependency of every dashboard page: who looks, or the login page for a missing, stale
    or unknown session; a session whose key lacks 'read' is refused."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return Viewer(SCOPES, open=True)
    key = key_of(settings.api_keys, request.cookies.get(COOKIE, ""))
    if key is None:
        raise LoginRequiredError(request.url.path)
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.enabled and limiter.take(key) > 0:
        raise RefusedError(
            429, f"This key is over {limiter.rate:g} requests a second; try again in a moment."
        )
    scopes = settings.api_keys[key]
    if "read" not in scopes:
        raise RefusedError(403, "This key lacks the 'read' scope the dashboard needs.")
    return Viewer(scopes, open=False)


def require_admin(who: Viewer) -> None:
    if not who.admin:
        raise RefusedError(403, "Only an admin key may do this.")


def same_origin(request: Request) -> None:
    """Refuses a form posted from another origin (or with no Origin, which browsers always send)."""
    origin = request.headers.get("origin")
    here = f"{request.url.scheme}://{request.url.netloc}"
    if origin is None or origin != here:
        raise RefusedError(403, "This form must be sent from the dashboard's own page.")


def next_path(raw: str | None) -> str:
    """Where the login sends the browser back to: a dashboard path only (never another site)."""
    if not raw:
        return "/dashboard"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard") or "\\" in raw:
        return "/dashboard"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_url(path: str) -> str:
    return f"/dashboard/login?next={quote(path, safe='/')}"
