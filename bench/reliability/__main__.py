"""``python -m bench.reliability``: every part at full size on PostgreSQL (a throwaway database
each), written to bench/results/reliability.md; ``--quick`` runs them at the size tests/stress/
uses. Needs the full Online Retail file for the exactly-once run (the sample with --quick)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from app.db import throwaway_database
from app.migrate import upgrade
from bench.common import PG_SERVER, data_file, require_postgresql, write_results
from bench.reliability import exactly_once, fuzz, scopes
from bench.reliability.served import ROOT, Server

FULL = {"examples": 100, "fuzz_seconds": 900, "events": 100_000, "clients": 8, "batch": 500, "kills": 6}
QUICK = {"examples": 3, "fuzz_seconds": 180, "events": 10_000, "clients": 4, "batch": 250, "kills": 2}


def load(size: dict[str, Any]) -> dict[str, int]:
    """The exactly-once run's load for a size: clients, batch, kills."""
    return {k: size[k] for k in ("clients", "batch", "kills")}


def part(name: str, work: Path, run: Any) -> Any:
    folder = work / name
    folder.mkdir()
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

    found = {
        "scopes": part("scopes", work, scope_run),
        "exactly_once": part(
            "exactly_once",
            work,
            lambda url, folder: exactly_once.run(url, folder, events, seed=7, **load(size)),
        ),
        "fuzz": part(
            "fuzz",
            work,
            lambda url, folder: fuzz.run(
                url, folder, examples=size["examples"], seconds=size["fuzz_seconds"]
            ),
        ),
    }
    found["fuzz"]["output"] = str(Path(found["fuzz"]["output"]).relative_to(ROOT))
    write_results("reliability", {"size": size, **found}, markdown(found, size, str(source.name)))


def markdown(found: dict[str, Any], size: dict[str, Any], source: str) -> str:
    s, e, f = found["scopes"], found["exactly_once"], found["fuzz"]
    verdict = {True: "holds", False: "**fails**"}
    lines = [
        "# Reliability: fuzzing, crashes, scopes",
        "",
        "`python -m bench.reliability` (`--quick`: the size CI runs in tests/stress/). Real `nbo serve`",
        "processes on loopback, each part on a throwaway PostgreSQL database.",
        "",
        "| property | measured | verdict |",
        "|---|---|---|",
        f"| every operation × every scope, no key, a wrong key, a key in the query string | "
        f"{s['operations']} operations, {s['requests']} requests, {len(s['wrong'])} answers not as the "
        f"contract says | {verdict[not s['wrong']]} |",
        f"| exactly-once ingest: {e['events']:,} real purchase events ({source}), {e['clients']} clients, "
        f"each batch sent 1–3 times with timeouts from 50 ms, {e['kills']} SIGKILLs | "
        f"{e['acknowledged']:,} acknowledged, {e['stored']:,} stored: {e['lost']} lost, {e['duplicated']} "
        f"duplicated, {e['changed']} changed; {e['seconds']} s, restart ≤ {e['restart_seconds_max']} s | "
        f"{verdict[e['lost'] == e['duplicated'] == e['changed'] == 0 and not e['failures']]} |",
        f"| schemathesis, every operation, admin key, ≤ {f['examples_per_operation']} examples each "
        f"within {size['fuzz_seconds']} s | "
        f"{f['test_cases']:,} test cases in {f['seconds']} s: failures {f['failures'] or 'none'}; "
        f"schemathesis's own runtime errors {f['errors']} | {verdict[not f['failures']]} |",
        "",
        "Requests of the exactly-once run, by outcome: "
        + ", ".join(f"{k} {v:,}" for k, v in e["requests"].items())
        + " (refused: the server was down; timeout: the client gave up).",
    ]
    lines += ["", f"Server logs and schemathesis's report of this run: `{f['output'].rsplit('/', 2)[0]}/`."]
    if f["found"]:
        lines += ["", "What the fuzzing found (open):", ""]
        lines += [f"- `{x['operation']}`: {x['check']}: {x['answer']}" for x in f["found"]]
    if s["wrong"]:
        lines += ["", "Scope answers not as the contract says:", *[f"- {w}" for w in s["wrong"]]]
    lines += [
        "",
        "Left out of the fuzzing's checks: `positive_data_acceptance` (rules JSON Schema cannot state",
        "reject schema-valid requests: times before 1990 or after 2200, `from` after `to`, two variants",
        "of one name, NUL characters). Not yet in the harness: the database outage, hot swap under",
        "load (bench/serve.md measures activations under load), killed training, erasure under load,",
        "the contact policy under load, the soak.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
