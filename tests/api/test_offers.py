from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import AS_OF, PERSONAL, ingest, shop_events, train, wait_serving


def offers(client: TestClient, customer: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/customers/{customer}/offers", params=params)
    assert r.status_code == 200, r.text
    body = dict(r.json())
    assert set(body) >= {"recommendation_id", "customer_id", "model_version", "strategy", "offers"}
    products = [o["product_id"] for o in body["offers"]]
    assert len(products) == len(set(products))
    return body


def test_ingest_train_offer_end_to_end(committed_client: TestClient) -> None:
    client = committed_client
    assert offers(client, "c0")["model_version"] is None  # before training: store popularity
    ingest(client, shop_events())
    version = train(client)
    assert version["active"] is True
    assert version["metrics"]["gate"]["passed"] is True
    assert {"evaluation", "fingerprint", "checksum", "config"} <= set(version["metrics"])
    wait_serving(client, version["version"])

    body = offers(client, "c0", limit=5)
    assert body["strategy"] == "personalized"
    assert len(body["offers"]) == 5
    assert all(o["product_id"].startswith("k0-") for o in body["offers"][:3])  # its own cluster first
    assert all(isinstance(o["score"], float) and o["reason"]["type"] for o in body["offers"])
    assert body["offers"][0]["reason"]["because"]

    # exclude_purchased leaves out everything ever bought; the list is filled with every other product
    bought = {e["product_id"] for e in shop_events() if e["customer_id"] == "c0"}
    excluded = offers(client, "c0", limit=30, exclude_purchased="true")
    assert len(excluded["offers"]) == 24 - len(bought)
    assert not bought & {o["product_id"] for o in excluded["offers"]}

    # a prospect is never a 404
    prospect = offers(client, "someone-new", limit=3)
    assert prospect["strategy"].startswith("popular")
    assert len(prospect["offers"]) == 3

    # complementary products: fitted with the version when its blend weighs them (this small shop's
    # robust blend does), else computed when asked from what serving prepared as it loaded it
    served = client.app.state.serving.current.model  # type: ignore[attr-defined]
    assert served.neighbours.nnz > 0 or served._on_demand is not None
    r = client.get("/v1/products/k1-0/similar", params={"limit": 4})
    assert r.status_code == 200
    sim = r.json()
    assert sim["model_version"] == version["version"]
    assert len(sim["items"]) == 4
    assert all(i["product_id"].startswith("k1-") for i in sim["items"][:3])
    assert client.get("/v1/products/nope/similar").status_code == 404

    listed = client.get("/v1/models").json()["models"]
    assert [m["version"] for m in listed] == [version["version"]]


def test_rules_inactive_fold_in_and_as_of(committed_client: TestClient) -> None:
    client = committed_client
    client.app.state.trainer.config = PERSONAL  # type: ignore[attr-defined]
    ingest(client, shop_events())
    version = train(client, as_of="2011-12-01T00:00:00Z")
    wait_serving(client, version["version"])

    top = offers(client, "c0", limit=3)["offers"][0]["product_id"]
    r = client.put("/v1/products", json={"products": [{"product_id": top, "active": False}]})
    assert r.status_code == 200
    for params in ({"limit": 100}, {"limit": 100, "exclude_purchased": "true"}):
        assert top not in {o["product_id"] for o in offers(client, "c0", **params)["offers"]}
    assert top not in {o["product_id"] for o in offers(client, "new-prospect", limit=100)["offers"]}

    # fold-in: a prospect's first purchase, a second ago, makes its offers personal
    assert offers(client, "newbie", limit=3)["strategy"] == "popular"
    ingest(
        client,
        [
            {
                "event_id": "newbie-1",
                "customer_id": "newbie",
                "product_id": "k2-1",
                "quantity": 1,
                "unit_price": 3.0,
                "occurred_at": "2011-12-05T10:00:00Z",
            }
        ],
    )
    after = offers(client, "newbie", limit=3, exclude_purchased="true")
    assert after["strategy"] == "personalized"
    assert all(o["product_id"].startswith("k2-") for o in after["offers"])

    # as_of: history after it is ignored
    before = offers(client, "newbie", limit=3, as_of="2011-12-05T09:00:00Z")
    assert before["strategy"] == "popular"

    # a trained customer: the version holds their history, the store what they bought since
    c3_before = offers(client, "c3", limit=30, exclude_purchased="true")["offers"]
    foreign = next(o["product_id"] for o in c3_before if not o["product_id"].startswith("k0-"))
    ingest(
        client,
        [
            {
                "event_id": "c3-late",
                "customer_id": "c3",
                "product_id": foreign,
                "quantity": 1,
                "unit_price": 2.0,
                "occurred_at": "2011-12-06T10:00:00Z",
            }
        ],
    )
    c3_after = offers(client, "c3", limit=30, exclude_purchased="true")["offers"]
    assert foreign not in {o["product_id"] for o in c3_after}
    # ... and a moment before the version's as_of reads their whole history from the store instead
    earlier = offers(client, "c3", limit=30, exclude_purchased="true", as_of="2011-11-20T00:00:00Z")
    assert earlier["strategy"].startswith("personalized")
    assert foreign in {o["product_id"] for o in earlier["offers"]}  # not bought yet at that moment


def test_rollback_corruption_and_swap_without_failures(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events())
    first = train(client, as_of="2011-11-01T00:00:00Z")
    second = train(client, as_of="2011-12-01T00:00:00Z")
    assert second["active"] is True
    wait_serving(client, second["version"])

    # requests keep flowing while versions are swapped back and forth
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> int:
        n = 0
        while not stop.is_set():
            r = client.get("/v1/customers/c1/offers", params={"limit": 5})
            if r.status_code != 200 or len(r.json()["offers"]) != 5:
                failures.append(r.text)
            n += 1
        return n

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hammer) for _ in range(4)]
        try:
            for target in (first, second, first):
                r = client.post(f"/v1/models/{target['version']}/activate")
                assert r.status_code == 200, r.text
                assert r.json()["active"] is True
                wait_serving(client, target["version"])
        finally:  # a failed step must not leave the hammers running (the pool would wait forever)
            stop.set()
        served = sum(f.result() for f in futures)
    assert served > 20
    assert failures == []

    # only one version is active; the rollback took
    models = client.get("/v1/models").json()["models"]
    assert [m["version"] for m in models if m["active"]] == [first["version"]]

    # a corrupted artifact is refused and the loaded version keeps serving
    models_dir = client.app.state.serving.models_dir  # type: ignore[attr-defined]
    npz = models_dir / second["version"] / "arrays.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    r = client.post(f"/v1/models/{second['version']}/activate")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "artifact_invalid"
    assert offers(client, "c1")["model_version"] == first["version"]

    assert client.post("/v1/models/nope/activate").status_code == 404
    assert client.get("/v1/models/nope").status_code == 404


def test_offer_parameter_validation(client: TestClient) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"as_of": "yesterday"}):
        r = client.get("/v1/customers/c1/offers", params=params)
        assert r.status_code == 422
        assert next(iter(params)) in r.json()["error"]["message"]
    r = client.get("/v1/customers/" + "x" * 300 + "/offers")
    assert r.status_code == 422
    assert "customer_id" in r.json()["error"]["message"]
    r = client.post("/v1/models", json={"as_of": "2999-01-01T00:00:00Z"})
    assert r.status_code == 422


def test_worse_version_stays_inactive(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events(customers=90))
    good = train(client, as_of="2011-12-01T00:00:00Z")
    assert good["active"] is True
    trainer = client.app.state.trainer  # type: ignore[attr-defined]
    # Popularity alone, no personal signal, as the blend an operator fixed: worse on the same evaluation.
    trainer.config = dataclasses.replace(
        trainer.config, repeat_weight=0.0, cf_weight=0.0, knn_weight=0.0, popular_weight=1.0, blend_trials=0
    )
    worse = train(client, as_of="2011-12-01T00:00:00Z")
    assert worse["status"] == "ready"
    assert worse["active"] is False
    gate = worse["metrics"]["gate"]
    assert gate["passed"] is False
    assert gate["candidate_score"] < gate["active_score"]
    assert "worse" in gate["reason"]
    wait_serving(client, good["version"])


def test_refill_strategy_leads_with_the_refills_the_profile_says_are_due(shop: TestClient) -> None:
    due = shop.get("/v1/customers/refiller/profile", params={"as_of": AS_OF}).json()["due_products"]
    assert [d["product_id"] for d in due] == ["k1-0"]
    body = offers(shop, "refiller", limit=5, strategy="refill", as_of=AS_OF)
    assert body["strategy"].startswith("refill+")
    first, *rest = body["offers"]
    assert first["product_id"] == "k1-0"
    assert first["reason"] == {"type": "refill_due", "because": ["k1-0"]}
    assert len(rest) == 4
    assert all(o["reason"]["type"] != "refill_due" for o in rest)
    # the usual strategy is unchanged, and a prospect gets popular products either way
    assert offers(shop, "refiller", limit=5, as_of=AS_OF)["strategy"].startswith("personalized")
    assert offers(shop, "someone-new", limit=3, strategy="refill")["strategy"].startswith("popular")

    for params in ({"strategy": "refill", "exclude_purchased": "true"}, {"strategy": "cheapest"}):
        r = shop.get("/v1/customers/refiller/offers", params=params)
        assert r.status_code == 422
        assert r.json()["error"]["message"].startswith("strategy")
