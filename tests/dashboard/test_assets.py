from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "app" / "dashboard"


def test_the_vendored_chartjs_is_the_pinned_release() -> None:
    pinned = re.search(r"^SHA256=(\w+)$", (ROOT / "scripts" / "vendor_chartjs.sh").read_text(), re.M)
    assert pinned is not None
    served = DASHBOARD / "static" / "vendor" / "chart.umd.min.js"
    assert hashlib.sha256(served.read_bytes()).hexdigest() == pinned.group(1)
    assert (DASHBOARD / "static" / "vendor" / "chart.js-LICENSE.md").read_text().startswith("The MIT License")


def test_the_pages_name_no_other_site_and_run_nothing_inline() -> None:
    for template in (DASHBOARD / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", html), template.name
        assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", html), template.name
        # The CSP allows neither inline styles nor style elements.
        assert " style=" not in html, template.name
        assert "<style" not in html, template.name


def test_the_assets_are_served(client: TestClient) -> None:
    for path in ("vendor/chart.umd.min.js", "dashboard.js", "dashboard.css"):
        r = client.get(f"/dashboard/static/{path}")
        assert r.status_code == 200, path
        assert len(r.content) > 1000, path
