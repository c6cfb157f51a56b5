"""Scale: nbo on shops of Online Retail's shape at several multiples of its size, on one machine.

For each multiple (1×, 10×, 30× by default), a seeded shop from bench/shop.py is written as CSV and
taken through what an operator runs, each command a process of its own:
1. ``nbo import`` into a fresh SQLite store: wall time, rows/s and peak RSS; the same file into
   PostgreSQL when ``--postgresql`` is given;
2. ``nbo train`` as of the shop's end: wall time and peak RSS, the artifact's size on disk, and
   ``implicit``'s ALS alone on the version's own confidence matrix (same factors, iterations and
   threads) as the baseline;
3. ``nbo serve`` (one worker): wrk with CONNECTIONS keep-alive connections on offers, similar and
   profiles (a fixed as_of) in turn, ROUNDS rounds each, beside the reference handler of
   bench/reference.py (``implicit``'s ``recommend()`` behind a minimal FastAPI route) on the same
   version; then the server's RSS, offers on two workers, and a campaign to every customer due within
   14 days.
Each figure is the median of its rounds. Run: ``python -m bench.scale [--multiples 1,10,30]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from app.ml import artifact
from app.ml.lines import confidence_matrix
from bench import shop
from bench.campaign import campaign
from bench.common import ROOT, database, free_port, implicit_alone, serving, timed, write_results
from bench.serve import wrk

ROUNDS, DURATION, CONNECTIONS = 3, "8s", 32
SAMPLED = 2000  # customers and products the load cycles through
END = shop.START + timedelta(days=shop.DAYS)
AS_OF = END.isoformat() + "Z"

LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def _tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
        found.append(p)
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total = 0.0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024
    return total


def settle(pid: int, timeout: float = 900.0) -> None:
    """Wait until the server is idle (under 5 % of a core for three seconds running): a worker that
    answers is ready, but another may still be loading the version and would take CPU from the load."""
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        total = 0.0
        for p in _tree(pid):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    quiet, last, deadline = 0, cpu(), time.monotonic() + timeout
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu()
        quiet, last = (quiet + 1 if now - last < 0.05 else 0), now


def raw_als_seconds(folder: Path) -> float:
    """``implicit``'s ALS alone on the version's own confidence matrix."""
    model, _ = artifact.load(folder)
    c = model.config
    conf = confidence_matrix(model.customers.sums, len(model.customers.ids), model.n_products, c)
    started = time.perf_counter()
    implicit_alone(conf, c)
    return time.perf_counter() - started


@contextmanager
def reference(models: Path, version: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.reference", "--models", str(models), "--version", version]
    proc = subprocess.Popen([*cmd, "--port", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def script(workdir: Path, name: str, paths: list[str]) -> Path:
    path = workdir / f"{name}.lua"
    path.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    return path


def load(base: str, scripts: dict[str, Path], rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Each route's medians over the rounds (routes in turn within a round)."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in scripts}
    for lua in scripts.values():
        wrk(base, lua, "2s", CONNECTIONS)  # each worker's first requests of each route: not counted
    for _ in range(rounds):
        for name, lua in scripts.items():
            runs[name].append(wrk(base, lua, DURATION, CONNECTIONS))
    return {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}


def bench(multiple: float, workdir: Path, postgresql: bool) -> dict[str, Any]:
    started = time.perf_counter()
    data = shop.generate(multiple)
    figures: dict[str, Any] = {"multiple": multiple, "shape": shop.shape(data)}
    csv = workdir / f"shop-{multiple:g}x.csv"
    shop.write_csv(data, csv)
    n_lines = len(data.product)
    customers = [f"{10000 + c}" for c in sorted(set(data.customer[:: max(n_lines // SAMPLED, 1)].tolist()))]
    products = [f"P{p:06d}" for p in sorted(set(data.product[:: max(n_lines // SAMPLED, 1)].tolist()))]
    del data
    figures["generate_s"] = time.perf_counter() - started
    models = workdir / f"models-{multiple:g}x"
    nbo = [sys.executable, "-m", "app.cli"]
    if postgresql:
        with database("postgresql", workdir) as url:
            done = timed([*nbo, "import", str(csv), "--preset", "online-retail"], {"NBO_DATABASE_URL": url})
            figures["import_postgresql"] = {**done, "rows_per_s": n_lines / done["seconds"]}
    with database("sqlite", workdir) as url:
        env = {"NBO_DATABASE_URL": url, "NBO_MODELS_DIR": str(models), "NBO_SAMPLE_DATA": ""}
        done = timed([*nbo, "import", str(csv), "--preset", "online-retail"], env)
        figures["import_sqlite"] = {**done, "rows_per_s": n_lines / done["seconds"]}
        csv.unlink()
        figures["train"] = timed([*nbo, "train", "--as-of", END.isoformat()], env)
        (folder,) = [p for p in models.iterdir() if not p.name.startswith(".")]
        figures["artifact_mb"] = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        figures["raw_als_s"] = raw_als_seconds(folder)
        scripts = {
            "offers": script(workdir, "offers", [f"/v1/customers/{c}/offers?limit=10" for c in customers]),
            "similar": script(workdir, "similar", [f"/v1/products/{p}/similar?limit=10" for p in products]),
            "profile": script(
                workdir, "profile", [f"/v1/customers/{c}/profile?as_of={AS_OF}" for c in customers]
            ),
        }
        with reference(models, folder.name) as ref:
            figures["reference"] = load(ref, {"offers": scripts["offers"]})
        serve_env = {**env, "NBO_TRAIN_ON_START": "false"}
        with serving(serve_env) as (base, proc):
            for path in (f"/v1/customers/{customers[0]}/offers", f"/v1/customers/{customers[0]}/profile"):
                httpx.get(f"{base}{path}?as_of={AS_OF}", timeout=600)  # the first profile builds the base
            settle(proc.pid)
            figures["serve"] = load(base, scripts)
            figures["server_rss_mb"] = tree_rss_mb(proc.pid)
            figures["campaign"] = {
                k: v
                for k, v in campaign(base, END, dry_run=False).items()
                if k in ("seconds", "status", "recipients", "skipped")
            }
        with serving(serve_env, workers=2) as (base, proc):
            httpx.get(f"{base}/v1/customers/{customers[0]}/offers", timeout=600)
            settle(proc.pid)
            figures["two_workers"] = load(base, {"offers": scripts["offers"]})
    figures["total_s"] = time.perf_counter() - started
    return figures


def report(results: dict[str, Any]) -> str:
    rows = results["multiples"]
    head = "| | " + " | ".join(f"{r['multiple']:g}×" for r in rows) + " |"
    lines = [
        "# Scale\n",
        "Seeded shops of Online Retail's shape (bench/shop.py) at each multiple, on SQLite, one after the "
        f"other in one run; wrk {CONNECTIONS} keep-alive connections, {ROUNDS} rounds of {DURATION} per "
        "route, medians. Command: `python -m bench.scale`.\n",
        head,
        "|---|" + "---:|" * len(rows),
    ]

    def row(name: str, cell: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(r) for r in rows) + " |")

    row("lines", lambda r: f"{r['shape']['lines']:,.0f}")
    row("customers × products", lambda r: f"{r['shape']['customers']:,.0f} × {r['shape']['products']:,.0f}")
    row("top 10 % of products' share of lines", lambda r: f"{r['shape']['top_10pct_share']:.1%}")
    row("lines repeating a customer–product pair", lambda r: f"{r['shape']['repeat_share']:.1%}")
    row("import rows/s, SQLite", lambda r: f"{r['import_sqlite']['rows_per_s']:,.0f}")
    if "import_postgresql" in rows[0]:
        row("import rows/s, PostgreSQL", lambda r: f"{r['import_postgresql']['rows_per_s']:,.0f}")
    row("import peak RSS MB", lambda r: f"{r['import_sqlite']['peak_rss_mb']:,.0f}")
    row("`nbo train` s", lambda r: f"{r['train']['seconds']:.1f}")
    row("ALS alone s", lambda r: f"{r['raw_als_s']:.2f}")
    row("train ÷ ALS alone", lambda r: f"{r['train']['seconds'] / r['raw_als_s']:.1f}×")
    row("training peak RSS MB", lambda r: f"{r['train']['peak_rss_mb']:,.0f}")
    row(
        "bytes per line at the training peak",
        lambda r: f"{r['train']['peak_rss_mb'] * 2**20 / r['shape']['lines']:,.0f}",
    )
    row("artifact MB", lambda r: f"{r['artifact_mb']:,.1f}")
    row("reference offers req/s", lambda r: f"{r['reference']['offers']['rps']:,.0f}")
    for route in ("offers", "similar", "profile"):
        row(f"{route} req/s", lambda r, k=route: f"{r['serve'][k]['rps']:,.0f}")
        row(
            f"{route} p50 / p99 ms",
            lambda r, k=route: f"{r['serve'][k]['p50_ms']:.1f} / {r['serve'][k]['p99_ms']:.1f}",
        )
        row(f"{route} non-2xx", lambda r, k=route: f"{r['serve'][k]['non_2xx']:.0f}")
    row(
        "offers ÷ reference", lambda r: f"{r['serve']['offers']['rps'] / r['reference']['offers']['rps']:.2f}"
    )
    row("server RSS MB after the load", lambda r: f"{r['server_rss_mb']:,.0f}")
    row("offers req/s, two workers", lambda r: f"{r['two_workers']['offers']['rps']:,.0f}")
    row(
        "two workers ÷ one",
        lambda r: f"{r['two_workers']['offers']['rps'] / r['serve']['offers']['rps']:.2f}",
    )
    row("campaign (due within 14 days) s", lambda r: f"{r['campaign']['seconds']:.1f}")
    lines.append("")
    lines += verdicts(rows)
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Each target of the largest multiple, against 1× of the same run."""
    one, big = rows[0], rows[-1]
    if len(rows) < 2:
        return []
    name = f"{big['multiple']:g}×"

    def ratio(route: str) -> float:
        return float(big["serve"][route]["rps"] / one["serve"][route]["rps"])

    offers, reference = big["serve"]["offers"]["rps"], big["reference"]["offers"]["rps"]
    train = big["train"]["seconds"] / big["raw_als_s"]
    two = big["two_workers"]["offers"]["rps"] / offers
    checks = [
        (f"offers at {name} ≥ 0.8× 1×'s throughput", f"{ratio('offers'):.2f}×", ratio("offers") >= 0.8),
        (
            f"offers at {name} ≥ 0.6 of the reference handler",
            f"{offers / reference:.2f}",
            offers / reference >= 0.6,
        ),
        (f"profiles at {name} ≥ 0.5× 1×'s", f"{ratio('profile'):.2f}×", ratio("profile") >= 0.5),
        (f"similar at {name} ≥ 0.5× 1×'s", f"{ratio('similar'):.2f}×", ratio("similar") >= 0.5),
        (f"`nbo train` at {name} ≤ 3× ALS alone", f"{train:.1f}×", train <= 3.0),
        (
            f"training at {name} within 8 GB",
            f"{big['train']['peak_rss_mb'] / 1024:.2f} GB",
            big["train"]["peak_rss_mb"] <= 8192,
        ),
        (f"two workers ≥ 1.6× one worker's offers at {name}", f"{two:.2f}×", two >= 1.6),
    ]
    if "import_postgresql" in big:
        rate = big["import_postgresql"]["rows_per_s"]
        checks.append((f"import into PostgreSQL ≥ 50k rows/s at {name}", f"{rate:,.0f}", rate >= 50_000))
    out = ["| target | measured | verdict |", "|---|---:|---|"]
    out += [f"| {text} | {value} | {'met' if ok else 'not met'} |" for text, value, ok in checks]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiples", default="1,10,30")
    parser.add_argument("--postgresql", action="store_true", help="also import each shop into PostgreSQL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    results: dict[str, Any] = {"multiples": []}
    (ROOT / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        for multiple in (float(m) for m in args.multiples.split(",")):
            results["multiples"].append(bench(multiple, Path(tmp), args.postgresql))
            sys.stderr.write(f"{multiple:g}× done in {results['multiples'][-1]['total_s']:.0f} s\n")
    write_results("scale", results, report(results))


if __name__ == "__main__":
    main()
