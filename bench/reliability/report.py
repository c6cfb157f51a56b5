"""bench/results/reliability.md from the harness's findings: one row per property, with its verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.reliability.erasure import PAIR

PAIR_B = PAIR[1]

VERDICT = {True: "holds", False: "**fails**"}


def killed_training_held(k: dict[str, Any]) -> bool:
    lease = k["lease_seconds"] + k["claim_poll_seconds"]
    return (
        k["answers_from_other_versions"] == 0
        and set(k["outcomes"]) == {"200"}
        and all(
            not t["exited_before_the_kill"]
            and t["killed_version_status"] == "failed"
            and not t["killed_version_on_disk"]
            and not t["partial_left"]
            and t["next_job_status"] == "ready"
            and t["next_job_started_s"] <= lease
            for t in k["trials"]
        )
    )


def erasure_held(r: dict[str, Any]) -> bool:
    return (
        r["erased_status"] == 204
        and r["race_failed"] == 0
        and not r["rows_left_from_before"]
        and not r["rows_mentioning_after_retrain"]
        and not r["files_holding_the_id"]
        and r["similar_with_the_pair_after_delete"] == 0
        and PAIR_B in r["similar_before"]
        and PAIR_B not in r["similar_at_once"]
        and set(r["rollback_statuses"].values()) <= {200, 409}  # 200: the active one, still active
        and set(r["rollback_statuses_after_retrain"].values()) == {409}
    )


# Whether each property held, from its part's figures alone.
CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "scopes": lambda s: not s["wrong"],
    "exactly_once": lambda e: e["lost"] == e["duplicated"] == e["changed"] == 0 and not e["failures"],
    "fuzz": lambda f: not f["failures"],
    "outage": lambda o: (
        o["not_retryable_during"] == 0
        and o["acknowledged_lost"] == o["duplicated"] == 0
        and o["same_process"]
        and o["ready_after"] == 200
        and all(v is not None for v in o["recovery_seconds"].values())
    ),
    "hot_swap": lambda h: (
        h["non_2xx"] == h["other_versions"] == h["stale_after_activation"] == 0
        and not h["activations_failed"]
    ),
    "killed_training": killed_training_held,
    "erasure": erasure_held,
    "policy": lambda p: p["sends_beyond_a_cap"] == 0 and not p["campaigns_failed"],
    "soak": lambda m: m["errors"] == 0 and m["rss_growth"] <= 0.10,
}


def verdicts(found: dict[str, Any]) -> dict[str, bool]:
    return {name: check(found[name]) for name, check in CHECKS.items()}


def markdown(found: dict[str, Any], size: dict[str, Any], source: str) -> str:
    s, e, f = found["scopes"], found["exactly_once"], found["fuzz"]
    o, h, k = found["outage"], found["hot_swap"], found["killed_training"]
    r, p, m = found["erasure"], found["policy"], found["soak"]
    v = {name: VERDICT[held] for name, held in verdicts(found).items()}
    trials = ", ".join(f"{t['moment']} {t['next_job_started_s']} s" for t in k["trials"])
    rows = [
        (
            "every operation × every scope, no key, a wrong key, a key in the query string",
            f"{s['operations']} operations, {s['requests']} requests, {len(s['wrong'])} answers not as the "
            "contract says",
            v["scopes"],
        ),
        (
            f"exactly-once ingest: {e['events']:,} real purchase events ({source}), {e['clients']} clients, "
            f"each batch sent 1–3 times with timeouts from 50 ms, {e['kills']} SIGKILLs",
            f"{e['acknowledged']:,} acknowledged, {e['stored']:,} stored: {e['lost']} lost, "
            f"{e['duplicated']} duplicated, {e['changed']} changed; {e['seconds']} s, restart ≤ "
            f"{e['restart_seconds_max']} s",
            v["exactly_once"],
        ),
        (
            f"schemathesis, every operation, admin key, ≤ {f['examples_per_operation']} examples each "
            f"within {size['fuzz_seconds']} s",
            f"{f['test_cases']:,} test cases in {f['seconds']} s: failures {f['failures'] or 'none'}; "
            f"schemathesis's own runtime errors {f['errors']}",
            v["fuzz"],
        ),
        (
            f"database outage: the harness's own PostgreSQL stopped (immediate) for {o['outage_seconds']} s "
            "under offers, profiles and ingest (6 clients)",
            f"during: {fmt(o['during'])}; not a retryable 503: {o['not_retryable_during']}; /readyz "
            f"{o['ready_during']} then {o['ready_after']}; {o['acknowledged_writes']:,} writes acknowledged, "
            f"{o['acknowledged_lost']} lost; the cluster took {o.get('startup_seconds')} s to start (answers "
            f"then not judged), back to 200s after {fmt(o['recovery_seconds'], ' s')}; "
            f"same process: {o['same_process']}",
            v["outage"],
        ),
        (
            f"hot swap: {h['activations']} activations during offers (4 clients)",
            f"{h['requests']:,} answers, {h['non_2xx']} non-2xx, {h['other_versions']} from another version, "
            f"{h['stale_after_activation']} from the old one after an activation returned; p99 "
            f"{h['swapping'].get('p99')} ms swapping, {h['quiet'].get('p99')} ms without; activation ≤ "
            f"{h['activation_ms_max']} ms",
            v["hot_swap"],
        ),
        (
            f"killed training: `nbo train` SIGKILLed {len(k['trials'])} times (mid-write of the artifact, "
            f"mid-fit), lease {k['lease_seconds']:g} s",
            f"{k['requests']:,} offers answers: {fmt(k['outcomes'])}, {k['answers_from_other_versions']} "
            f"from a version not activated; killed versions failed, none on disk, no partial folder "
            f"left; next job started after {trials}",
            v["killed_training"],
        ),
        (
            "erasure under offers, profiles, /similar and ingest for the customer (4 clients), then a "
            "rollback tried",
            f"DELETE {r['erased_status']} in {r['delete_seconds']} s; race {fmt(r['race'])}; rows left from "
            f"before it {len(r['rows_left_from_before'])}; their co-purchase gone from /similar at once: "
            f"{PAIR_B not in r['similar_at_once']}; rollback {fmt_counts(r['rollback_statuses'])}, after "
            f"the retrain {fmt_counts(r['rollback_statuses_after_retrain'])}; erased again and retrained: "
            f"{len(r['rows_mentioning_after_retrain'])} rows, {len(r['files_holding_the_id'])} files hold "
            "the id",
            v["erasure"],
        ),
        (
            f"contact policy: {p['processes']} processes running campaigns at once ({p['campaigns']} in "
            f"all) and impressions, {p['customers']} customers, caps {fmt(p['caps'])} per 7 days",
            f"{p['contacts']:,} contacts, {p['campaign_sends']:,} sends; sends when a cap was reached: "
            f"{p['sends_beyond_a_cap']} (impressions the shop made beyond one: "
            f"{p['impressions_beyond_a_cap']})",
            v["policy"],
        ),
        (
            f"soak: {m['seconds'] / 60:g} min of offers (90 %) and ingest (10 %) at {m['rate']} req/s "
            f"(80 % of the {m['unpaced_requests_per_s']} unpaced)",
            f"{m['requests_per_s']} req/s, {m['errors']} errors; offers p50/p95/p99 {m['offers'].get('p50')}/"
            f"{m['offers'].get('p95')}/{m['offers'].get('p99')} ms, ingest p99 {m['ingest'].get('p99')} ms; "
            f"RSS {m['rss_mb_start']} → {m['rss_mb_end']} MB ({m['rss_growth']:+.1%})",
            v["soak"],
        ),
    ]
    lines = [
        "# Reliability: fuzzing, crashes, outages, erasure, load",
        "",
        "`python -m bench.reliability` (`--quick`: shorter; tests/stress/ runs the scopes, exactly-once,",
        "fuzzing and erasure parts at that size in CI). Real `nbo serve` processes on loopback, each part",
        "on a throwaway PostgreSQL database (the outage on a cluster of its own).",
        "",
        "| property | measured | verdict |",
        "|---|---|---|",
        *[f"| {what} | {measured} | {verdict} |" for what, measured, verdict in rows],
        "",
        "Requests of the exactly-once run, by outcome: "
        + ", ".join(f"{k} {v:,}" for k, v in e["requests"].items())
        + " (refused: the server was down; timeout: the client gave up).",
        "",
        f"Server logs and schemathesis's report of this run: `{f['output'].rsplit('/', 2)[0]}/`.",
    ]
    if f["found"]:
        lines += ["", "What the fuzzing found (open):", ""]
        lines += [f"- `{x['operation']}`: {x['check']}: {x['answer']}" for x in f["found"]]
    if s["wrong"]:
        lines += ["", "Scope answers not as the contract says:", *[f"- {w}" for w in s["wrong"]]]
    lines += [
        "",
        "Left out of the fuzzing's checks: `positive_data_acceptance` (rules JSON Schema cannot state",
        "reject schema-valid requests: times before 1990 or after 2200, `from` after `to`, two variants",
        "of one name, NUL characters).",
    ]
    return "\n".join(lines) + "\n"


def fmt(counts: dict[str, Any], unit: str = "") -> str:
    return ", ".join(f"{k} {v}{unit}" for k, v in counts.items())


def fmt_counts(statuses: dict[str, int]) -> str:
    """Statuses of several requests: how many of each."""
    found: dict[int, int] = {}
    for status in statuses.values():
        found[status] = found.get(status, 0) + 1
    return ", ".join(f"{n}× {status}" for status, n in sorted(found.items()))
