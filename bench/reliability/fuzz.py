"""Fuzzing every operation of the OpenAPI document with schemathesis, with an admin key, against a
store holding the shipped sample and a trained version: no 5xx, every response as the document
says (status code, content type, body, headers), schema-invalid input rejected with a 4xx.

Left out: positive_data_acceptance (a schema-valid request may still break a rule JSON Schema cannot
state: a time before 1990, ``from`` after ``to``, two variants of one name, a NUL character)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from bench.reliability.served import ROOT, Server

KEY = "fuzz-admin"
EXCLUDED = ("positive_data_acceptance",)
CONFIG = Path(__file__).with_name("schemathesis.toml")
SAMPLE = ROOT / "data" / "online_retail_sample.csv.gz"


def run(database_url: str, folder: Path, *, examples: int, seconds: float, seed: int = 7) -> dict[str, Any]:
    run_import(SAMPLE, ONLINE_RETAIL, database_url=database_url)
    server = Server(
        database_url,
        folder,
        NBO_API_KEYS=json.dumps({KEY: ["read", "write", "admin"]}),
        NBO_TRAIN_ON_START="true",
    )
    server.start()
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.base}/openapi.json",
                "--header",
                f"Authorization: Bearer {KEY}",
                "--checks",
                "all",
                "--exclude-checks",
                ",".join(EXCLUDED),
                "--max-examples",
                str(examples),
                "--max-time",
                str(int(seconds)),
                "--seed",
                str(seed),
                "--workers",
                "2",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            cwd=folder,
            check=False,
        )
    finally:
        server.stop()
    output = done.stdout + done.stderr
    (folder / "schemathesis.txt").write_text(output)
    failures = {m[0]: int(m[1]) for m in re.findall(r"(ST\d+ [^:\n]+): (\d+)", output)}
    found = []  # each failure: the operation, the check, the answer, how to reproduce it (shortened)
    for operation, block in re.findall(
        r"\n_{3,} (.+?) _{3,}\n(.*?)(?=\n_{3,} |\n={3,} )", output, flags=re.S
    ):
        for check in re.findall(r"- (ST\d+ .+?)\n(.*?)(?=\n- ST|\Z)", block, flags=re.S):
            status = re.search(r"\n\[(\d+)\] [^\n]*:\n\n\s+(.*?)\n", check[1])
            curl = re.search(r"(curl [^\n]+)", check[1])
            found.append(
                {
                    "operation": operation.strip(),
                    "check": check[0].strip(),
                    "answer": f"{status.group(1)} {status.group(2)[:300]}" if status else "",
                    "reproduce": curl.group(1)[:400] if curl else "",
                }
            )
    generated = re.search(r"(\d+) generated", output)
    return {
        "exit_code": done.returncode,
        "examples_per_operation": examples,
        "test_cases": int(generated.group(1)) if generated else 0,
        "seconds": round(time.monotonic() - started, 1),
        "failures": failures,
        "found": found,
        "errors": len(re.findall(r"🚫 .*Error: (\d+)", output)),
        "output": str(folder / "schemathesis.txt"),
    }
