"""The documentation pages load everything from nbo itself: nothing from a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_need_no_network(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200
    links = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", r.text)
    assert "/openapi.json" in links
    assert [link for link in links if "://" in link or link.startswith("//")] == []
    for asset in (link for link in links if link.startswith("/docs-assets/")):
        got = client.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 1000, asset


def test_the_schema_behind_them_is_served(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.")
