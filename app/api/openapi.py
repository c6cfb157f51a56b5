"""The OpenAPI document as nbo answers: every error in nbo's own body, the bearer key, and which
error each operation can give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from app.api.inputs import FeedbackEvent, PurchaseEvent

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_request"]},
                "message": {"type": "string", "examples": ["limit: Input should be at most 100"]},
            },
            "additionalProperties": True,
        }
    },
    "example": {"error": {"code": "invalid_request", "message": "events[0].quantity: must not be 0"}},
}

WHY = {
    "400": "Malformed JSON",
    "401": "No key, or a key nbo does not know (when keys are configured)",
    "403": "The key lacks the scope this operation needs",
    "404": "Nothing under that id",
    "409": "The version cannot be activated (not ready, or its artifact is invalid)",
    "413": "More items than NBO_MAX_BATCH_EVENTS allows, or a body over NBO_MAX_BODY_BYTES",
    "422": "A parameter or a field breaks the contract; the message names it",
    "429": "Over the key's rate limit (Retry-After says when to come back)",
    "503": "The store does not answer, or no model is loaded yet (Retry-After)",
}

# Errors beyond those every /v1 operation can give, by (method, path).
SPECIFIC = {
    ("get", "/v1/products/{product_id}/similar"): ["404"],
    ("get", "/v1/customers/{customer_id}/profile"): ["404"],
    ("get", "/v1/models/{version}"): ["404"],
    ("post", "/v1/models/{version}/activate"): ["404", "409"],
    ("get", "/v1/products/{product_id}"): ["404"],
    ("get", "/v1/campaigns/{campaign_id}"): ["404"],
    ("get", "/v1/campaigns/{campaign_id}/recipients"): ["404"],
    ("get", "/v1/experiments/{name}"): ["404"],
    ("get", "/v1/experiments/{name}/results"): ["404"],
    ("post", "/v1/experiments/{name}/stop"): ["404"],
}


def _errors(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    codes = ["401", "403", "429", "503"]
    if "requestBody" in operation:
        codes += ["400", "413"]
    if "requestBody" in operation or operation.get("parameters"):
        codes.append("422")
    return sorted(codes + SPECIFIC.get((method, path), []))


# The batches are read row by row: valid rows are stored and each bad one is reported by its index
# (a 422 only when no row is valid), so the document shows what a row must be beside what the
# request may hold: a batch with a bad row in it is not a bad request.
BATCHES: dict[str, type[BaseModel]] = {
    "/v1/events/purchases": PurchaseEvent,
    "/v1/events/feedback": FeedbackEvent,
}


def _type_batches(spec: dict[str, Any], max_events: int) -> None:
    schemas = spec["components"]["schemas"]
    for path, model in BATCHES.items():
        item = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        schemas.update(item.pop("$defs", {}))
        schemas[model.__name__] = item
        body = {
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "maxItems": max_events,
                    "description": (
                        f"each row a {model.__name__}: valid rows are stored, each other object is "
                        "reported in `rejected` by its index; a 422 when no row is valid"
                    ),
                    "items": {
                        "anyOf": [
                            {"$ref": f"#/components/schemas/{model.__name__}"},
                            {"type": "object", "description": "a bad row, reported by its index"},
                        ]
                    },
                }
            },
        }
        request = spec["paths"][path]["post"]["requestBody"]
        request["content"]["application/json"]["schema"] = body


def document(app: FastAPI) -> dict[str, Any]:
    """The schema FastAPI builds, with nbo's error body and security added (built once)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    _type_batches(spec, app.state.settings.max_batch_events)
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key of NBO_API_KEYS"}
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if not path.startswith("/v1/"):
                continue
            operation["security"] = [{"bearer": []}]
            responses.pop("422", None)  # FastAPI's own shape; nbo's replaces it where it applies
            for code in _errors(method, path, operation):
                responses[code] = {"description": WHY[code], "content": error}
    spec["paths"]["/readyz"]["get"]["responses"]["503"] = {
        "description": "Not ready: the store does not answer",
        "content": error,
    }
    app.openapi_schema = spec
    return spec


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
