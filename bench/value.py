"""The client's value through the profile endpoint: what each client will spend over the next 90 days.

The full Online Retail file in a fresh SQLite store; at three cutoffs (the latest purchase − 90, 180
and 270 days, so that the 90 days after each are in the file), a version trained with ``as_of`` = the
cutoff and ``GET /v1/customers/{id}/profile?as_of=<cutoff>`` for every customer who ordered before
it: its ``expected_spend_90d`` against what they spent in the 90 days after (purchased lines). Beside it, on
the same customers: (M)BG/NBD's expected orders × Gamma-Gamma's expected order value (the classic
pairing, Fader, Hardie & Lee 2005), each client's own spend per day so far × 90, and their spend in
the 90 days before. Scored by the sum against the actual sum, Spearman's rank correlation, and the
share of the actual revenue held by the 10 % of clients each method ranks first (what a campaign
aimed at "the clients worth the most" reaches). Run: ``python -m bench.value``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from scipy.stats import spearmanr

from app.ml.dataset import Dataset, from_day
from app.ml.forecast import VALUE_HORIZON, fit_forecast
from app.ml.lines import Lines
from app.ml.rfm import activity
from app.ml.spend import mean_order_value
from bench.common import data_file, days_after, full_store, server, server_env, write_results

TOP_SHARE = 0.10


def spend_of(lines: Lines, n: int) -> np.ndarray:
    """Each customer's spend on purchased lines (returns left out)."""
    bought = lines.quantity > 0
    return np.bincount(lines.customer[bought], weights=lines.spend[bought], minlength=n)


def top_share(predicted: np.ndarray, actual: np.ndarray, share: float = TOP_SHARE) -> float:
    """The share of the actual total held by the ``share`` of clients ranked first by ``predicted``
    (ties broken by client order, the same for every method)."""
    top = np.argsort(-predicted, kind="stable")[: max(1, round(share * len(predicted)))]
    total = actual.sum()
    return float(actual[top].sum() / total) if total > 0 else 0.0


def scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    rho = spearmanr(predicted, actual).statistic
    return {
        "sum": float(predicted.sum()),
        "sum_ratio": float(predicted.sum() / actual.sum()),
        "spearman": float(rho),
        "top_share": top_share(predicted, actual),
    }


def baselines(data: Dataset, day: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The buyers before ``day`` (codes) and each in-process method's 90-day spend for them."""
    n = len(data.customers)
    lines = data.lines(day)
    act = activity(lines, n)
    buyers = np.flatnonzero(act.buyers)
    forecast = fit_forecast(lines.aged(data.clock(day) - day), n)
    assert forecast is not None
    assert forecast.spend is not None
    x, t_x, age = act.bgnbd_inputs()
    orders = forecast.bgnbd.expected(VALUE_HORIZON, x, t_x, age)
    value = forecast.spend.order_value(act.orders, mean_order_value(act.orders, act.monetary))
    before = spend_of(data.lines(day, day - VALUE_HORIZON), n)
    tenure = np.maximum(np.nan_to_num(act.first_age), VALUE_HORIZON)
    methods = {
        "BG/NBD × Gamma-Gamma": (orders * value)[buyers],
        "own spend per day × 90": (act.monetary / tenure * VALUE_HORIZON)[buyers],
        "the 90 days before": before[buyers],
    }
    return buyers, methods


def at_cutoff(data: Dataset, url: str, folder: Path, ends_before: float) -> dict[str, Any]:
    """Every method's scores for the 90 days from the latest purchase − ``ends_before`` days."""
    cutoff_day = round((data.last_day - ends_before) * 86400) / 86400
    cutoff = from_day(cutoff_day).isoformat() + "Z"
    buyers, methods = baselines(data, cutoff_day)
    actual = spend_of(days_after(data, cutoff_day, VALUE_HORIZON), len(data.customers))[buyers]
    nbo = np.zeros(len(buyers))
    with server(server_env(url, folder)) as base:
        version = trained_and_served(base, cutoff)
        with httpx.Client(base_url=base, timeout=60) as client:
            for i, code in enumerate(buyers.tolist()):
                customer = data.customers.ids[code]
                r = client.get(f"/v1/customers/{customer}/profile", params={"as_of": cutoff})
                r.raise_for_status()
                nbo[i] = r.json()["expected_spend_90d"]
    rows = {"nbo over HTTP (expected_spend_90d)": scores(nbo, actual)}
    rows.update({name: scores(predicted, actual) for name, predicted in methods.items()})
    return {
        "cutoff": cutoff,
        "version": version,
        "customers": len(buyers),
        "actual_sum": float(actual.sum()),
        "spenders": int((actual > 0).sum()),
        "top_share_best_possible": top_share(actual, actual),
        "methods": rows,
    }


def trained_and_served(base: str, as_of: str) -> str:
    """A version trained as of ``as_of``, activated (the gate compares it with the version of a later
    cutoff, active in the same store) and served."""
    version = str(httpx.post(f"{base}/v1/models", json={"as_of": as_of}).json()["version"])
    while (body := httpx.get(f"{base}/v1/models/{version}").json())["status"] == "training":
        time.sleep(0.5)
    if body["status"] != "ready":
        raise RuntimeError(f"the version did not train: {body}")
    if not body["active"]:
        httpx.post(f"{base}/v1/models/{version}/activate", timeout=60).raise_for_status()
    while httpx.get(f"{base}/readyz").json().get("model") != version:
        time.sleep(0.2)
    return version


# The 90 days after each cutoff end this many days before the latest purchase: the last quarter (the
# Christmas build-up), and the two before it.
ENDS_BEFORE = (0.0, 90.0, 180.0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, full_store(Path(tmp)) as (url, data):
        moments = [at_cutoff(data, url, Path(tmp), VALUE_HORIZON + end) for end in ENDS_BEFORE]
    results: dict[str, Any] = {"data": data_file().name, "moments": moments}
    write_results("value", results, markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# The client's value over 90 days",
        "",
        f"Data: `{r['data']}`. Command: `python -m bench.value`. At each cutoff, the clients who ordered "
        "before it, and what they spent in the 90 days after (purchased lines).",
    ]
    for m in r["moments"]:
        lines += [
            "",
            f"## {m['cutoff'][:10]}: {m['customers']:,} clients, {m['spenders']:,} of them bought, "
            f"{m['actual_sum']:,.0f} in all",
            "",
            f"| method | sum ÷ actual | Spearman ρ | revenue of the top {TOP_SHARE:.0%} |",
            "|---|---:|---:|---:|",
        ]
        for name, s in m["methods"].items():
            lines.append(f"| {name} | {s['sum_ratio']:.3f} | {s['spearman']:.3f} | {s['top_share']:.1%} |")
        lines.append(f"| (the actual spend itself) | 1.000 | 1.000 | {m['top_share_best_possible']:.1%} |")
    lines += [
        "",
        "nbo's figure is the profile's `expected_spend_90d` from a version trained at the cutoff: its "
        "30-day forecast spread over 90 days as BG/NBD spreads each client's orders, times Gamma-Gamma's "
        "expected order value. The others are computed in-process from the purchases before the cutoff. "
        f"The last column is the share of the 90 days' actual revenue spent by the {TOP_SHARE:.0%} of "
        "clients each method puts first.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
