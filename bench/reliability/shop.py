"""A store holding the shipped sample of real purchases, served by ``nbo serve`` with a trained
version: what the parts that need offers, similar products and erasures run against."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.store.tables import Purchase
from bench.reliability.served import ROOT, Server

SAMPLE = ROOT / "data" / "online_retail_sample.csv.gz"


@dataclass(frozen=True)
class Shop:
    server: Server
    customers: list[str]  # by number of lines, most first
    products: list[str]  # by number of lines, most first
    version: str  # the active version


def stock(database_url: str) -> None:
    run_import(SAMPLE, ONLINE_RETAIL, database_url=database_url)


def open_shop(database_url: str, folder: Path, **env: str) -> Shop:
    """Stocks the store with the sample, starts a server that trains on start, and waits until it
    serves the version."""
    stock(database_url)
    server = Server(database_url, folder, NBO_TRAIN_ON_START="true", **env)
    server.start()
    version = serving(server.base)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            customers, products = (
                [
                    r[0]
                    for r in conn.execute(
                        select(column).group_by(column).order_by(func.count().desc(), column)
                    )
                ]
                for column in (Purchase.customer_id, Purchase.product_id)
            )
    finally:
        engine.dispose()
    return Shop(server, customers, products, version)


def serving(base: str, version: str | None = None, timeout: float = 300.0) -> str:
    """The version the server serves, once it serves one (``version`` when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{base}/readyz", timeout=10)
        model = r.json().get("model") if r.status_code == 200 else None
        if model is not None and (version is None or model == version):
            return str(model)
        time.sleep(0.2)
    raise RuntimeError(f"the server did not serve {version or 'a version'} within {timeout} s")


def trained(base: str, body: dict[str, object] | None = None, timeout: float = 600.0) -> dict[str, object]:
    """POST /v1/models; the version's row once it is no longer training."""
    version = httpx.post(f"{base}/v1/models", json=body or {}, timeout=60).json()["version"]
    deadline = time.monotonic() + timeout
    while (row := httpx.get(f"{base}/v1/models/{version}", timeout=30).json())["status"] == "training":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{version} still training after {timeout} s")
        time.sleep(0.2)
    return dict(row)
