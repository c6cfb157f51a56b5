"""The OpenAPI document and the HTTP contract (../shared/spec/api-v1.md) agree: every operation the
contract fixes is there, with the query parameters the contract names and the success status it
gives."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "api-v1.md"
# An operation, its query, and the status after its body (when the text gives one right after it).
OPERATION = re.compile(
    r"`(GET|POST|PUT|DELETE) (/[^`?\s]*)(\?[^`\s]*)?`(?:\s*`[^`]*`)?(?:[^`→.;]*?→ (\d{3}))?"
)


def contract() -> dict[tuple[str, str], tuple[set[str], str | None]]:
    """(method, path) → (query parameters named, success status given) for each operation."""
    text = SPEC.read_text()
    found: dict[tuple[str, str], tuple[set[str], str | None]] = {}
    for method, path, query, status in OPERATION.findall(text):
        names = {p.split("=")[0] for p in query.lstrip("?").split("&") if p}
        old_names, old_status = found.get((method.lower(), path), (set(), None))
        found[(method.lower(), path)] = (old_names | names, old_status or status or None)
    return found


def test_openapi_has_every_operation_of_the_contract(client: TestClient) -> None:
    if not SPEC.exists():  # the contract lives beside the project, in ../shared
        if os.environ.get("NBO_REQUIRE_FULL_DATA"):  # CI: never skip
            pytest.fail(f"{SPEC} is missing")
        pytest.skip("the HTTP contract is not beside the repository")
    spec = client.get("/openapi.json").json()
    operations = contract()
    assert len(operations) >= 24
    for (method, path), (query, status) in operations.items():
        assert path in spec["paths"], path
        assert method in spec["paths"][path], f"{method.upper()} {path}"
        op = spec["paths"][path][method]
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert query <= params, f"{method.upper()} {path}: {sorted(query - params)} undocumented"
        if status is not None:
            assert status in op["responses"], f"{method.upper()} {path} → {status}"
