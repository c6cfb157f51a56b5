"""Every operation of the OpenAPI document under every combination of scopes, with no key, a wrong
key, and a right key in the query string: each answer as the contract (api-v1, "Auth") says. The
scope an operation needs comes from the contract's list, not from the code: an operation the list
does not name fails the run until it is named."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx

SCOPES = ("read", "write", "admin")
# The contract: read (offers, similar, profiles, segments, the catalogue's reads), write (events,
# catalogue, customers), admin (models, erasure, experiments, campaigns, the policy, audience
# exports and metrics). Keys: (method, path template).
READ = {
    ("get", "/v1/customers/{customer_id}/offers"),
    ("get", "/v1/products/{product_id}/similar"),
    ("get", "/v1/customers/{customer_id}/profile"),
    ("get", "/v1/segments"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{product_id}"),
}
WRITE = {
    ("post", "/v1/events/purchases"),
    ("post", "/v1/events/feedback"),
    ("put", "/v1/products"),
    ("put", "/v1/customers"),
}
ADMIN_PREFIXES = (
    "/v1/models",
    "/v1/customers",
    "/v1/experiments",
    "/v1/campaigns",
    "/v1/policy",
    "/v1/metrics",
)
OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"}


def needed(method: str, path: str) -> str | None:
    """The scope the contract gives an operation (None: no key needed)."""
    template = re.sub(r"\{(\w+)(:path)?\}", r"{\1}", path)
    if template in OPEN:
        return None
    if (method, template) in READ:
        return "read"
    if (method, template) in WRITE:
        return "write"
    if template.startswith(ADMIN_PREFIXES):
        return "admin"
    raise AssertionError(f"{method.upper()} {path}: the contract names no scope for it")


def keys() -> dict[str, list[str]]:
    """One key per non-empty combination of scopes."""
    combos = [c for n in range(1, len(SCOPES) + 1) for c in itertools.combinations(SCOPES, n)]
    return {"k-" + "-".join(c): list(c) for c in combos}


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "scope-probe", path)


def cases(http: httpx.Client, method: str, path: str) -> list[tuple[str, int, set[int] | None]]:
    """(who asked, the status, the statuses the contract allows; None: let through, i.e. neither 401
    nor 403 nor a 5xx) for one operation."""
    scope = needed(method, path)
    url = _filled(path)
    body: dict[str, Any] | None = {} if method in ("post", "put") else None

    def ask(headers: dict[str, str], params: dict[str, str] | None = None) -> int:
        return http.request(method, url, headers=headers, params=params, json=body).status_code

    found: list[tuple[str, int, set[int] | None]] = []
    for key, granted in keys().items():
        allowed = scope is None or scope in granted
        found.append((key, ask({"Authorization": f"Bearer {key}"}), None if allowed else {403}))
    if scope is not None:
        found.append(("no key", ask({}), {401}))
        found.append(("a wrong key", ask({"Authorization": "Bearer nobody"}), {401}))
        every = "k-read-write-admin"
        query = {"api_key": every, "key": every, "access_token": every}
        found.append(("a key in the query string", ask({}, query), {401}))
    return found


def run(base: str) -> dict[str, Any]:
    """Each operation × (each key, no key, a wrong key, a key in the query string)."""
    wrong: list[str] = []
    checked = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        spec = http.get("/openapi.json").json()
        for path, operations in sorted(spec["paths"].items()):
            for method in sorted(operations):
                for who, status, expected in cases(http, method, path):
                    checked += 1
                    if expected is None and (status in (401, 403) or status >= 500):
                        wrong.append(f"{method.upper()} {path} as {who}: {status}, not let through")
                    elif expected is not None and status not in expected:
                        wrong.append(f"{method.upper()} {path} as {who}: {status}, not {sorted(expected)}")
    return {"operations": sum(len(o) for o in spec["paths"].values()), "requests": checked, "wrong": wrong}
