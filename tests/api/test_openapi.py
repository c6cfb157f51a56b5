"""The OpenAPI document says what nbo answers: its own error body, the bearer key, a schema for
every 2xx answer that has a body."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.api.responses import (
    AudienceOut,
    ModelList,
    ModelVersionOut,
    OffersOut,
    ProfileOut,
    Ready,
    SegmentsOut,
    SimilarOut,
    TrainingStarted,
)
from tests.api.helpers import ingest, shop_events, train, wait_serving

ERROR = {"$ref": "#/components/schemas/Error"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_v1_operation_documents_its_errors_in_nbos_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    v1 = [(m, p, op) for m, p, op in operations(spec) if p.startswith("/v1/")]
    assert len(v1) >= 14
    for method, path, op in v1:
        assert op["security"] == [{"bearer": []}], (method, path)
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        assert {"401", "403", "429", "503"} <= set(errors), (method, path)
        for code, response in errors.items():
            assert response["content"]["application/json"]["schema"] == ERROR, (method, path, code)
    purchases = spec["paths"]["/v1/events/purchases"]["post"]["requestBody"]["content"]["application/json"]
    row, bad_row = purchases["schema"]["properties"]["events"]["items"]["anyOf"]
    assert spec["components"]["schemas"][row["$ref"].rsplit("/", 1)[1]]["properties"]["quantity"]
    assert bad_row["type"] == "object"  # a bad row is reported, not a bad request
    activate = spec["paths"]["/v1/models/{version}/activate"]["post"]["responses"]
    assert {"404", "409"} <= set(activate)


def test_every_2xx_answer_with_a_body_has_a_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for method, path, op in operations(spec):
        for code, response in op["responses"].items():
            if code.startswith("2") and code != "204" and path != "/metrics":
                assert response["content"]["application/json"]["schema"], (method, path, code)
    offers = spec["paths"]["/v1/customers/{customer_id}/offers"]["get"]["responses"]["200"]
    assert offers["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OffersOut"}


def test_a_real_error_has_the_documented_shape(client: TestClient) -> None:
    required = client.get("/openapi.json").json()["components"]["schemas"]["Error"]
    r = client.get("/v1/customers/c1/offers", params={"limit": 0})
    assert r.status_code == 422
    body = r.json()
    assert set(required["required"]) <= set(body)
    assert set(required["properties"]["error"]["required"]) <= set(body["error"])
    assert "limit" in body["error"]["message"]


def test_real_answers_match_the_documented_models(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events())
    version = train(client)["version"]
    wait_serving(client, version)
    OffersOut.model_validate(client.get("/v1/customers/c1/offers").json())
    OffersOut.model_validate(client.get("/v1/customers/someone-new/offers").json())
    SimilarOut.model_validate(client.get("/v1/products/k0-1/similar").json())
    ProfileOut.model_validate(client.get("/v1/customers/c1/profile").json())
    SegmentsOut.model_validate(client.get("/v1/segments").json())
    audience = AudienceOut.model_validate(client.get("/v1/customers", params={"limit": 5}).json())
    assert len(audience.customers) == 5
    ModelVersionOut.model_validate(client.get(f"/v1/models/{version}").json())
    ModelList.model_validate(client.get("/v1/models").json())
    ModelVersionOut.model_validate(client.post(f"/v1/models/{version}/activate").json())
    Ready.model_validate(client.get("/readyz").json())
    r = client.post("/v1/models", json={})
    assert r.status_code == 202
    TrainingStarted.model_validate(r.json())
