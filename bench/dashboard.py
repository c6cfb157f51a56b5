"""The dashboard on the full Online Retail store: each view's time, beside the API call it reflects,
and the screenshots of docs/dashboard/.

1. ``nbo simulate`` replays the file's last month into a fresh SQLite store (a campaign with a
   holdout, feedback, the month's purchases), so that every view has something to show; the served
   process trains a version on the whole store too (two versions), and a contact policy is set.
2. Each view is asked for ROUNDS times in turn over HTTP (the first answer of a view is its cold
   one: the base as of that moment is computed then), beside the API call whose figures it shows;
   then loaded in headless Chromium until its charts are drawn.
3. A screenshot of each view (1280×900) goes to docs/dashboard/.
Run: ``python -m bench.dashboard`` (needs /usr/bin/chromium).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, data_file, server, server_env, write_results
from tests.dashboard.browser import FLAGS, Watch, chromium_path

ROUNDS = 10
KEY = "analyst-admin"
HEADERS = {"Authorization": f"Bearer {KEY}"}
POLICY = {
    "caps": [{"channel": "email", "max": 2, "per_days": 7}, {"channel": "any", "max": 4, "per_days": 30}],
    "cooldown_after_dismiss_days": 14,
    "max_impressions_without_click": 8,
}
SHOTS = ROOT / "docs" / "dashboard"


def views(day: str, reach_day: str, customer: str) -> dict[str, tuple[str, str]]:
    """Per view: its page, and the API call whose figures it shows."""
    as_of = f"{day}T00:00:00Z"
    end = datetime.fromisoformat(reach_day)
    start = (end - timedelta(days=30)).isoformat() + "Z"
    return {
        "overview": (f"/dashboard?as_of={day}", f"/v1/segments?as_of={as_of}"),
        "customers": (f"/dashboard/customers?as_of={day}", f"/v1/segments?as_of={as_of}"),
        "reach": (
            f"/dashboard/reach?as_of={reach_day}",
            f"/v1/metrics/offers?group_by=strategy&from={start}&to={end.isoformat()}Z",
        ),
        "models": ("/dashboard/models", "/v1/models"),
        "lookup": (
            f"/dashboard/lookup?customer_id={customer}&as_of={day}",
            f"/v1/customers/{customer}/profile?as_of={as_of}",
        ),
    }


def hinted(client: httpx.Client, path: str) -> str:
    """The day a view offers to look at (the store's data ends in the past)."""
    hint = re.search(r'href="\?as_of=(\d{4}-\d{2}-\d{2})"', client.get(path).text)
    if hint is None:
        raise RuntimeError(f"{path} offers no day to look at")
    return hint.group(1)


def timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    r = client.get(path)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
    return elapsed * 1000


def browse(base: str, pages: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Each view loaded in Chromium, logged in, until its charts are drawn (ms); screenshots."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    loaded: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch(base)
        watch.attach(page)
        page.goto(f"{base}/dashboard/login")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/dashboard")
        for name, (path, _) in pages.items():
            times = []
            for _ in range(3):
                started = time.perf_counter()
                page.goto(base + path)
                page.wait_for_selector("html[data-charts=drawn]")
                times.append((time.perf_counter() - started) * 1000)
            loaded[name] = statistics.median(times)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
        browser.close()
    if watch.errors or watch.external:
        raise RuntimeError(f"console errors {watch.errors}, requests elsewhere {watch.external}")
    return loaded


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nbo-bench-dashboard-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'nbo.db'}"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "app.cli", "simulate", str(data_file()), "--database-url", url],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        simulated = time.perf_counter() - started
        env = {**server_env(url, work), "NBO_API_KEYS": json.dumps({KEY: ["read", "write", "admin"]})}
        with server(env) as base, httpx.Client(base_url=base, headers=HEADERS, timeout=600) as api:
            api.put("/v1/policy", json=POLICY).raise_for_status()
            version = api.post("/v1/models", json={}).json()["version"]
            while api.get(f"/v1/models/{version}").json()["status"] == "training":
                time.sleep(0.5)
            # The day after the latest purchase (and offer), as the views' own hints offer it.
            with httpx.Client(base_url=base, timeout=600) as looking:
                looking.post("/dashboard/login", data={"key": KEY})
                day, reach_day = (hinted(looking, path) for path in ("/dashboard", "/dashboard/reach"))
            campaign = api.get("/v1/campaigns").json()["campaigns"][0]
            customer = campaign["preview"][0]["customer_id"] if campaign["preview"] else "12347"
            pages = views(day, reach_day, customer)
            rows: dict[str, dict[str, Any]] = {}
            for name, (page, call) in pages.items():
                with httpx.Client(base_url=base, timeout=600) as browser_like:
                    browser_like.post("/dashboard/login", data={"key": KEY})
                    cold = timed(browser_like, page)
                    view = [timed(browser_like, page) for _ in range(ROUNDS)]
                reference = [timed(api, call) for _ in range(ROUNDS)]
                rows[name] = {
                    "page": page,
                    "api": call,
                    "cold_ms": round(cold, 1),
                    "median_ms": round(statistics.median(view), 1),
                    "api_median_ms": round(statistics.median(reference), 1),
                }
            for name, ms in browse(base, pages).items():
                rows[name]["browser_ms"] = round(ms, 1)
    write_results(
        "dashboard", {"rows": rows, "simulate_seconds": simulated, "as_of": day}, markdown(rows, day)
    )


def markdown(rows: dict[str, dict[str, Any]], day: str) -> str:
    lines = [
        "# Dashboard views on the full Online Retail store",
        "",
        f"`python -m bench.dashboard`: the full file with its last month replayed by `nbo simulate`, "
        f"SQLite, one worker, every view as of {day} (Reach: the day after the latest offer). Server "
        f"time over loopback (first answer, then the median of {ROUNDS}) beside the median of the "
        "API call whose figures the view shows; the load "
        "in headless Chromium until the charts are drawn (median of 3). Target: each view under a second.",
        "",
        "| view | API call it reflects | first (ms) | median (ms) | API call (ms) | view ÷ API "
        "| in Chromium (ms) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        ratio = r["median_ms"] / r["api_median_ms"] if r["api_median_ms"] else float("nan")
        lines.append(
            f"| {name} | `{r['api'].split('?')[0]}` | {r['cold_ms']:.0f} | {r['median_ms']:.0f} | "
            f"{r['api_median_ms']:.0f} | {ratio:.2f} | {r['browser_ms']:.0f} |"
        )
    slowest = max(max(r["cold_ms"], r["browser_ms"]) for r in rows.values())
    verdict = "met" if slowest < 1000 else "not met"
    lines += [
        "",
        f"Slowest view, first answer or in Chromium: {slowest:.0f} ms (target: under a second, {verdict}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
