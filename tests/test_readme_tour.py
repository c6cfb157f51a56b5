"""The README's API tour, run as written against ``nbo demo`` (the shipped sample, trained on first
run): every command runs, none answers an error, and each answer has the keys and the values the
README prints after it ("…" stands for what varies)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx

from app.config import Settings
from tests.server import ROOT, nbo_serve

MARK = "@@nbo-tour@@"
LITERAL = re.compile(r'"(\w+)":(null|true|false|-?\d+(?:\.\d+)?|"[^"…]*")(?=[,}\]])')


def tour() -> list[tuple[str, str]]:
    """The tour's commands, each with the answer printed after it ("" when none is)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## API tour", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    steps: list[tuple[str, str]] = []
    command: list[str] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if command or (line.strip() and not line.startswith("#")):
            command.append(line)
            joined = "\n".join(command)
            if joined.count("'") % 2 == 0 and not line.endswith("\\"):
                steps.append((joined, ""))
                command = []
        elif line.startswith("# →") and steps:
            expected = [line.removeprefix("# →")]
            while i + 1 < len(lines) and lines[i + 1].startswith("#    "):
                i += 1
                expected.append(lines[i].removeprefix("#"))
            steps[-1] = (steps[-1][0], "".join(part.strip() for part in expected))
        i += 1
    return steps


def run(steps: list[tuple[str, str]], base: str) -> list[str]:
    script = "set -euo pipefail\n" + "".join(
        f"{cmd.replace('localhost:8000', base)}\necho\necho {MARK}\n" for cmd, _ in steps
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(f"{MARK}\n")[: len(steps)]


def test_the_tour_parses() -> None:
    steps = tour()
    assert len(steps) >= 15
    assert sum(bool(expected) for _, expected in steps) >= 6
    assert all(cmd.lstrip().startswith(("curl", "active=")) for cmd, _ in steps)


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    sample = Settings.model_fields["sample_data"].default  # the shipped sample
    assert sample.exists()
    url = f"sqlite:///{tmp_path / 'nbo.db'}"
    env = {"NBO_SAMPLE_DATA": str(sample), "NBO_TRAIN_ON_START": "true", "NBO_API_KEYS": "{}"}
    with nbo_serve(url, tmp_path, command="demo", **env) as served:
        deadline = time.monotonic() + 600
        while httpx.get(f"{served.base}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the demo did not train within 600 s"
            time.sleep(0.5)
        steps = tour()
        answers = run(steps, served.base.removeprefix("http://"))
    assert len(answers) == len(steps)
    for (cmd, expected), answer in zip(steps, answers, strict=True):
        assert '"error":{' not in answer, f"{cmd}\n→ {answer}"
        for key in re.findall(r'"(\w+)":', expected):
            assert f'"{key}":' in answer, f"{cmd}\n→ {answer}\nhas no {key!r}"
        for key, value in LITERAL.findall(expected):
            assert f'"{key}":{value}' in answer, f"{cmd}\n→ {answer}\nREADME says {key}: {value}"
