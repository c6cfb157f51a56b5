"""Serving under load: offers against the same server's /healthz as the ceiling, with wrk on loopback.

One uvicorn worker on the full Online Retail store (SQLite and PostgreSQL), trained first. wrk drives
keep-alive connections; offers requests cycle through real customers (and some prospects). On a
shared machine one run can be off by a fifth, so the two are measured in turn, several rounds, and
each figure is the median of the rounds, shown with its range.
Run: ``python -m bench.serve`` (needs ``wrk``).
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import text

from app.bootstrap import train_if_none
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.import_job import run_import
from app.importer import ONLINE_RETAIL
from bench.common import data_file, database, server, write_results

# Short rounds, many of them: this machine's speed drifts within a minute, and each round's ratio
# pairs a /healthz run with the offers run right after it.
DURATION = "5s"
ROUNDS = 6
THREADS, CONNECTIONS = 1, 8

LUA = """
local ids = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/customers/" .. ids[(i %% #ids) + 1] .. "/offers?limit=10")
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def bench(kind: str, workdir: Path) -> dict[str, Any]:
    with database(kind, workdir) as url:
        run_import(data_file(), ONLINE_RETAIL, database_url=url)
        settings = Settings(database_url=url, models_dir=workdir / f"models-{kind}", sample_data=None)
        train_if_none(settings, console=Console(quiet=True))
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            ids = [r[0] for r in s.execute(text("SELECT customer_id FROM customers")).all()]
        engine.dispose()
        ids = ids[:2000] + [f"prospect-{i}" for i in range(200)]
        script = workdir / "offers.lua"
        script.write_text(LUA % ", ".join(f'"{i}"' for i in ids))
        env = {
            "NBO_DATABASE_URL": url,
            "NBO_MODELS_DIR": str(settings.models_dir),
            "NBO_SAMPLE_DATA": "",
            "NBO_TRAIN_ON_START": "false",
        }
        with server(env) as base:
            for _ in range(50):  # warm up
                httpx.get(f"{base}/v1/customers/{ids[0]}/offers")
            rounds: list[dict[str, Any]] = []
            for _ in range(ROUNDS):
                health = wrk(f"{base}/healthz")
                offers = wrk(base, script)
                rounds.append({"healthz": health, "offers": offers, "ratio": offers["rps"] / health["rps"]})
    return {"rounds": rounds, **{name: summary([r[name] for r in rounds]) for name in ("healthz", "offers")}}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Per figure: the median over the rounds, and the lowest and highest."""
    return {key: [statistics.median(v), min(v), max(v)] for key in runs[0] if (v := [r[key] for r in runs])}


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    results: dict[str, Any] = {"data": data_file().name, "wrk": f"-t{THREADS} -c{CONNECTIONS} -d{DURATION}"}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            results[kind] = bench(kind, Path(tmp))
    lines = [
        "# Serving under load\n",
        f"Data: `{results['data']}`; one uvicorn worker; wrk {results['wrk']} on loopback, keep-alive; "
        f"/healthz and offers in turn, {ROUNDS} rounds: medians, with the range in brackets. "
        "Command: `python -m bench.serve`.\n",
        "| store | /healthz req/s | offers req/s | offers ÷ healthz | offers p50 ms | offers p99 ms "
        "| non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(figure: list[float], form: str) -> str:
        median, low, high = figure
        return f"{median:{form}} [{low:{form}}–{high:{form}}]"

    for kind in ("sqlite", "postgresql"):
        r = results[kind]
        o = r["offers"]
        ratios = [x["ratio"] for x in r["rounds"]]
        lines.append(
            f"| {kind} | {cell(r['healthz']['rps'], ',.0f')} | {cell(o['rps'], ',.0f')} "
            f"| {cell([statistics.median(ratios), min(ratios), max(ratios)], '.2f')} "
            f"| {cell(o['p50_ms'], '.2f')} | {cell(o['p99_ms'], '.2f')} "
            f"| {sum(x['offers']['non_2xx'] for x in r['rounds']):.0f} |"
        )
    lines.append("\nTargets: offers throughput ≥ 50 % of the /healthz ceiling, p99 ≤ 20 ms.\n")
    write_results("serve", results, "\n".join(lines))


if __name__ == "__main__":
    main()
