"""The reliability harness (bench/reliability) at a size CI runs on every change: the scope matrix,
exactly-once ingest through SIGKILLs, erasure under load, and bounded fuzzing.
``python -m bench.reliability`` runs them and the other parts at full size."""

from __future__ import annotations

import json
from pathlib import Path

from bench.reliability import erasure, exactly_once, fuzz, scopes
from bench.reliability.__main__ import QUICK, load
from bench.reliability.report import CHECKS
from bench.reliability.served import ROOT, Server


def test_every_operation_answers_every_scope_as_the_contract_says(fresh_url: str, tmp_path: Path) -> None:
    server = Server(fresh_url, tmp_path, NBO_API_KEYS=json.dumps(scopes.keys()))
    server.start()
    try:
        found = scopes.run(server.base)
    finally:
        server.stop()
    assert found["operations"] >= 30
    assert found["wrong"] == []


def test_ingest_is_exactly_once_through_sigkills(fresh_url: str, tmp_path: Path) -> None:
    events = exactly_once.real_events(ROOT / "data" / "online_retail_sample.csv.gz", QUICK["events"])
    found = exactly_once.run(fresh_url, tmp_path, events, seed=11, **load(QUICK))
    assert found["failures"] == []
    assert found["kills"] == QUICK["kills"]
    assert found["acknowledged"] == len(events)
    assert (found["lost"], found["duplicated"], found["changed"]) == (0, 0, 0)
    assert found["stored"] == len(events)


def test_an_erasure_under_load_leaves_nothing(fresh_url: str, tmp_path: Path) -> None:
    found = erasure.run(fresh_url, tmp_path)
    assert CHECKS["erasure"](found), found
    assert found["rows_mentioning"] > 0  # the race wrote about the same id again after the DELETE


def test_fuzzing_finds_no_failure(fuzz_url: str, tmp_path: Path) -> None:
    found = fuzz.run(fuzz_url, tmp_path, examples=QUICK["examples"], seconds=QUICK["fuzz_seconds"])
    assert found["test_cases"] > 1000, (tmp_path / "schemathesis.txt").read_text()[-3000:]
    assert found["failures"] == {}, (tmp_path / "schemathesis.txt").read_text()[-6000:]
