"""Hot swap under load: two ready versions activated in turn, 10 times, while clients ask for
offers. No answer but a 200; each names one of the two versions; none sent after an activation
returned names the version it replaced; offers' p99 during the activations beside p99 without."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reliability.load import Load, outcomes, percentiles, send
from bench.reliability.shop import open_shop, serving, trained


def run(
    database_url: str, folder: Path, *, activations: int = 10, quiet_seconds: float = 10.0
) -> dict[str, Any]:
    shop = open_shop(database_url, folder)
    try:
        second = trained(shop.server.base)
        if second["status"] != "ready":
            raise RuntimeError(f"the second version did not train: {second}")
        pair = [shop.version, str(second["version"])]
        current = serving(shop.server.base)
        customers = shop.customers[:1000]

        def offers(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            return "offers", send(http, "GET", f"/v1/customers/{rng.choice(customers)}/offers")

        swaps: list[tuple[float, float, str, int]] = []  # sent, returned, version, status
        load = Load(shop.server.base, [(1, offers)], threads=4, seed=3)
        with load, httpx.Client(base_url=shop.server.base, timeout=120) as admin:
            time.sleep(quiet_seconds)
            quiet_until = time.monotonic()
            for _ in range(activations):
                target = pair[1] if current == pair[0] else pair[0]
                sent = time.monotonic()
                r = admin.post(f"/v1/models/{target}/activate")
                swaps.append((sent, time.monotonic(), target, r.status_code))
                if r.status_code == 200:
                    current = target
                time.sleep(1.0)
            swapping_until = time.monotonic()
    finally:
        shop.server.stop()
    answers = load.answers
    quiet = [a for a in answers if a.sent + a.took <= quiet_until]
    busy = [a for a in answers if quiet_until <= a.sent and a.sent + a.took <= swapping_until]
    stale = 0  # answers sent after an activation returned, and before the next began, from another version
    for i, (_, returned, version, status) in enumerate(swaps):
        following = swaps[i + 1][0] if i + 1 < len(swaps) else swapping_until
        if status == 200:
            stale += sum(1 for a in answers if returned < a.sent < following and a.version != version)
    return {
        "activations": len(swaps),
        "activations_failed": [s for *_, s in swaps if s != 200],
        "activation_ms_max": round(max(b - a for a, b, *_ in swaps) * 1000, 1),
        "requests": len(answers),
        "outcomes": outcomes(answers),
        "non_2xx": sum(1 for a in answers if a.status is None or not 200 <= a.status < 300),
        "other_versions": sum(1 for a in answers if a.version not in pair),
        "stale_after_activation": stale,
        "quiet": percentiles([a.took for a in quiet]),
        "swapping": percentiles([a.took for a in busy]),
    }
