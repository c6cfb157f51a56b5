from __future__ import annotations

import json
import logging
import sys

import pytest
from fastapi.testclient import TestClient

from app.logs import REQUEST_ID, JsonFormatter


def test_the_request_id_is_kept_or_made_and_sent_back(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "shop-42.a"}).headers["x-request-id"] == "shop-42.a"
    )
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 16
    assert int(made, 16) >= 0
    odd = client.get("/healthz", headers={"X-Request-ID": "no spaces {please}"}).headers["x-request-id"]
    assert odd != "no spaces {please}"
    assert len(odd) == 16


def test_each_request_leaves_an_access_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nbo.access"):
        client.get("/v1/products/nope/similar", headers={"X-Request-ID": "r-1"})
    [record] = [r for r in caplog.records if r.name == "nbo.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1"
    assert line["http"]["path"] == "/v1/products/nope/similar"
    assert line["http"]["status"] == 404
    assert line["http"]["ms"] >= 0
    assert line["level"] == "info"


def test_log_lines_are_json_with_the_request_id_and_the_exception() -> None:
    token = REQUEST_ID.set("abc")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("nbo.test").makeRecord(
                "nbo.test", logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info=sys.exc_info()
            )
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "failed x"
    assert line["request_id"] == "abc"
    assert line["logger"] == "nbo.test"
    assert "ValueError: boom" in line["exception"]
