"""API keys: who is calling, and with which scopes.

The key is checked twice: here, before the body is read (a caller without a valid key learns
nothing and costs nothing: 401 for any body, even a malformed or oversized one), and per route for
the scope it needs (app/web/deps.py).
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.errors import send_error

PROTECTED = "/v1/"  # /healthz, /readyz, /metrics and the docs need no key


def bearer_token(authorization: str) -> str | None:
    kind, _, token = authorization.partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        return None
    return token


def scopes_for(api_keys: dict[str, frozenset[str]], presented: str) -> frozenset[str] | None:
    found: frozenset[str] | None = None
    # Compare against every key, in constant time each, so timing does not reveal which one matched.
    for key, scopes in api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


def key_problem(api_keys: dict[str, frozenset[str]], authorization: str) -> str | None:
    """Why the presented key is not accepted, or None when it is (or when no key is configured)."""
    if not api_keys:
        return None
    token = bearer_token(authorization)
    if token is None:
        return "authorization: missing bearer API key"
    if scopes_for(api_keys, token) is None:
        return "authorization: unknown API key"
    return None


class KeyCheckMiddleware:
    def __init__(self, app: ASGIApp, api_keys: dict[str, frozenset[str]]) -> None:
        self.app, self.api_keys = app, api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.api_keys or not scope["path"].startswith(PROTECTED):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        problem = key_problem(self.api_keys, header.decode("latin-1"))
        if problem is None:
            await self.app(scope, receive, send)
            return
        await send_error(send, 401, "unauthorized", problem, [(b"www-authenticate", b"Bearer")])
