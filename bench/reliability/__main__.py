"""``python -m bench.reliability``: every part at full size on PostgreSQL (a throwaway database
each; the outage on a cluster of its own), written to bench/results/reliability.md; ``--quick``
runs them shorter (the size tests/stress/ uses for its parts). Needs the full Online Retail file
for the exactly-once run (the sample with --quick)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.db import throwaway_database
from app.migrate import upgrade
from bench.common import PG_SERVER, data_file, require_postgresql, write_results
from bench.reliability import (
    erasure,
    exactly_once,
    fuzz,
    hot_swap,
    killed_training,
    outage,
    policy_load,
    scopes,
    soak,
)
from bench.reliability.report import markdown, verdicts
from bench.reliability.served import ROOT, Server

FULL: dict[str, Any] = {
    "examples": 100,
    "fuzz_seconds": 900,
    "events": 100_000,
    "clients": 8,
    "batch": 500,
    "kills": 6,
    "trials": ("writing", "writing", "fitting"),
    "policy_rounds": 4,
    "soak_seconds": 600.0,
}
QUICK: dict[str, Any] = {
    "examples": 3,
    "fuzz_seconds": 180,
    "events": 10_000,
    "clients": 4,
    "batch": 250,
    "kills": 2,
    "trials": ("writing", "fitting"),
    "policy_rounds": 2,
    "soak_seconds": 60.0,
}


def load(size: dict[str, Any]) -> dict[str, int]:
    """The exactly-once run's load for a size: clients, batch, kills."""
    return {k: size[k] for k in ("clients", "batch", "kills")}


def part(name: str, work: Path, run: Callable[[str, Path], Any]) -> Any:
    folder = work / name
    folder.mkdir()
    print(f"reliability: {name}", file=sys.stderr, flush=True)
    with throwaway_database(PG_SERVER, f"nbo_rel_{name}") as url:
        upgrade(url)
        return run(url, folder)


def main() -> None:
    size = QUICK if "--quick" in sys.argv else FULL
    require_postgresql()
    source = ROOT / "data" / "online_retail_sample.csv.gz" if size is QUICK else data_file()
    events = exactly_once.real_events(source, size["events"])
    # Kept after the run: each part's server log and schemathesis's report, to read what failed.
    work = ROOT / "var" / "reliability" / time.strftime("%Y%m%dT%H%M%S")
    work.mkdir(parents=True)

    def scope_run(url: str, folder: Path) -> dict[str, Any]:
        server = Server(url, folder, NBO_API_KEYS=json.dumps(scopes.keys()))
        server.start()
        try:
            return scopes.run(server.base)
        finally:
            server.stop()

    def outage_run(url: str, folder: Path) -> dict[str, Any]:
        return outage.run(folder)  # on a cluster of its own, not on the shared server

    found = {
        "scopes": part("scopes", work, scope_run),
        "exactly_once": part(
            "exactly_once",
            work,
            lambda url, folder: exactly_once.run(url, folder, events, seed=7, **load(size)),
        ),
        "outage": part("outage", work, outage_run),
        "hot_swap": part("hot_swap", work, hot_swap.run),
        "killed_training": part(
            "killed_training",
            work,
            lambda url, folder: killed_training.run(url, folder, trials=size["trials"]),
        ),
        "erasure": part("erasure", work, erasure.run),
        "policy": part(
            "policy", work, lambda url, folder: policy_load.run(url, folder, rounds=size["policy_rounds"])
        ),
        "soak": part("soak", work, lambda url, folder: soak.run(url, folder, seconds=size["soak_seconds"])),
        "fuzz": part(
            "fuzz",
            work,
            lambda url, folder: fuzz.run(
                url, folder, examples=size["examples"], seconds=size["fuzz_seconds"]
            ),
        ),
    }
    found["fuzz"]["output"] = str(Path(found["fuzz"]["output"]).relative_to(ROOT))
    held = verdicts(found)
    write_results(
        "reliability", {"size": size, "verdicts": held, **found}, markdown(found, size, str(source.name))
    )
    if not all(held.values()):
        raise SystemExit(f"reliability: does not hold: {', '.join(k for k, v in held.items() if not v)}")


if __name__ == "__main__":
    main()
