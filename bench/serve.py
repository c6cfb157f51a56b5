"""Serving under load: offers against the same server's /healthz as the ceiling, with wrk on loopback.

One uvicorn worker on the full Online Retail store (SQLite and PostgreSQL), trained first. wrk drives
keep-alive connections; offers requests cycle through real customers (and some prospects). On a
shared machine one run can be off by a fifth, so the two are measured in turn, several rounds, and
each figure is the median of the rounds, shown with its range.
Then activations: offers runs during which another client activates the two versions in turn
(10 activations a run), paired with runs without, to show that a hot swap leaves offers' p99 flat.
Run: ``python -m bench.serve`` (needs ``wrk``).
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import text

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.training.first_run import train_if_none
from bench.common import data_file, database, server, write_results

# Short rounds, many of them: this machine's speed drifts within a minute, and each round's ratio
# pairs a /healthz run with the offers run right after it.
DURATION = "5s"
ROUNDS = 6
THREADS, CONNECTIONS = 1, 8
SWAP_DURATION, SWAP_ROUNDS, SWAPS = 10, 3, 10  # seconds a run, runs of each kind, activations a run

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


def wrk(
    url: str, script: Path | None = None, duration: str = DURATION, connections: int = CONNECTIONS
) -> dict[str, float]:
    cmd = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}", "--latency"]
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
            swaps = activations(base, script)
    return {
        "rounds": rounds,
        **{name: summary([r[name] for r in rounds]) for name in ("healthz", "offers")},
        "activations": swaps,
    }


def train_another(base: str) -> list[str]:
    """A second version beside the active one (same store, same settings); both versions."""
    first = httpx.get(f"{base}/v1/models").json()["models"][0]["version"]
    second = httpx.post(f"{base}/v1/models", json={}).json()["version"]
    while httpx.get(f"{base}/v1/models/{second}").json()["status"] == "training":
        time.sleep(0.5)
    return [first, second]


def activations(base: str, script: Path) -> dict[str, Any]:
    """Offers runs with and without activations going on, in turn."""
    pair = train_another(base)
    quiet: list[dict[str, float]] = []
    busy: list[dict[str, float]] = []
    took: list[float] = []
    failures: list[str] = []  # status and error code of each activation that failed
    for _ in range(SWAP_ROUNDS):
        quiet.append(wrk(base, script, f"{SWAP_DURATION}s"))
        stop = threading.Event()

        def swap(stop: threading.Event) -> None:
            for i in range(SWAPS):
                if stop.wait(SWAP_DURATION / (SWAPS + 1)):
                    return
                started = time.perf_counter()
                r = httpx.post(f"{base}/v1/models/{pair[i % 2]}/activate", timeout=60)
                took.append(time.perf_counter() - started)
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.json().get('error', {}).get('code', '')}")

        thread = threading.Thread(target=swap, args=(stop,))
        thread.start()
        busy.append(wrk(base, script, f"{SWAP_DURATION}s"))
        stop.set()
        thread.join()
    return {
        "quiet": summary(quiet),
        "swapping": summary(busy),
        "activations": len(took),
        "activation_failures": len(failures),
        "activation_failure_codes": sorted(set(failures)),
        "activation_ms": [statistics.median(took) * 1000, max(took) * 1000],
        "non_2xx": sum(r["non_2xx"] for r in quiet + busy),
    }


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
    lines += [
        "## Activations under load\n",
        f"Offers runs of {SWAP_DURATION} s with another client activating the two versions in turn "
        f"({SWAPS} activations a run), beside runs without, {SWAP_ROUNDS} of each in turn: "
        "medians [range].\n",
        "| store | offers req/s quiet | swapping | p99 ms quiet | swapping | p99 swapping ÷ quiet "
        "| activations (failed) | activate ms median / max | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        a = results[kind]["activations"]
        q, w = a["quiet"], a["swapping"]
        lines.append(
            f"| {kind} | {cell(q['rps'], ',.0f')} | {cell(w['rps'], ',.0f')} | {cell(q['p99_ms'], '.2f')} "
            f"| {cell(w['p99_ms'], '.2f')} | {w['p99_ms'][0] / q['p99_ms'][0]:.2f} "
            f"| {a['activations']} ({a['activation_failures']}) "
            f"| {a['activation_ms'][0]:.0f} / {a['activation_ms'][1]:.0f} "
            f"| {a['non_2xx']:.0f} |"
        )
    for kind in ("sqlite", "postgresql"):
        if codes := results[kind]["activations"]["activation_failure_codes"]:
            lines.append(f"\nFailed activations on {kind}: {', '.join(codes)}.")
    write_results("serve", results, "\n".join(lines))


if __name__ == "__main__":
    main()
