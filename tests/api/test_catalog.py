from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.store.tables import Customer, Product
from tests.api.helpers import ingest, shop_events


def test_products_upsert_partial_fields(client: TestClient, session: Session) -> None:
    r = client.put(
        "/v1/products",
        json={"products": [{"product_id": "p1", "name": "Mug", "category": "kitchen", "price": 4.5}]},
    )
    assert r.json() == {"upserted": 1}
    r = client.put(
        "/v1/products", json={"products": [{"product_id": "p1", "active": False}, {"product_id": "p2"}]}
    )
    assert r.json() == {"upserted": 2}
    p1 = session.get(Product, "p1")
    assert p1 is not None
    session.refresh(p1)
    assert (p1.name, p1.category, p1.price, p1.active) == ("Mug", "kitchen", 4.5, False)
    p2 = session.get(Product, "p2")
    assert p2 is not None
    assert p2.active is True


def test_products_validation(client: TestClient) -> None:
    r = client.put(
        "/v1/products", json={"products": [{"product_id": "p1"}, {"product_id": "p2", "price": -1}]}
    )
    assert r.status_code == 422
    assert "products[1].price" in r.json()["error"]["message"]
    r = client.put("/v1/products", json={"products": [{"product_id": "p1", "active": "yes"}]})
    assert r.status_code == 422
    assert "active" in r.json()["error"]["message"]
    r = client.put("/v1/products", json={"products": [{"product_id": f"p{i}"} for i in range(1001)]})
    assert r.status_code == 413


def test_customers_upsert_consent_and_channel(client: TestClient, session: Session) -> None:
    body = {
        "customers": [
            {
                "customer_id": "c1",
                "country": "France",
                "preferred_channel": "email",
                "consent": {"email": True},
            },
        ]
    }
    assert client.put("/v1/customers", json=body).json() == {"upserted": 1}
    body = {"customers": [{"customer_id": "c1", "consent": {"sms": False}}]}
    assert client.put("/v1/customers", json=body).json() == {"upserted": 1}
    c1 = session.get(Customer, "c1")
    assert c1 is not None
    session.refresh(c1)
    assert (c1.country, c1.preferred_channel, c1.consent_email, c1.consent_sms, c1.consent_phone) == (
        "France",
        "email",
        True,
        False,
        None,
    )
    r = client.put("/v1/customers", json={"customers": [{"customer_id": "c2", "preferred_channel": "fax"}]})
    assert r.status_code == 422
    assert "customers[0].preferred_channel" in r.json()["error"]["message"]


def test_the_catalogue_reads_back_and_names_the_offers(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events(customers=10))
    r = client.put(
        "/v1/products",
        json={
            "products": [{"product_id": "k0-1", "name": "Heart lantern", "category": "decor", "price": 3.5}]
        },
    )
    assert r.status_code == 200
    page = client.get("/v1/products", params={"limit": 2}).json()
    assert len(page["products"]) == 2
    assert page["next_after"] == page["products"][-1]["product_id"]
    rest = client.get("/v1/products", params={"after": page["next_after"], "limit": 1000}).json()
    assert rest["next_after"] is None
    assert client.get("/v1/products/k0-1").json() == {
        "product_id": "k0-1",
        "name": "Heart lantern",
        "category": "decor",
        "price": 3.5,
        "active": True,
    }
    assert client.get("/v1/products/none-such").status_code == 404
    offers = client.get("/v1/customers/c1/offers", params={"limit": 50}).json()["offers"]
    named = [o for o in offers if o["product_id"] == "k0-1"]
    assert named
    assert (named[0]["name"], named[0]["category"], named[0]["price"]) == ("Heart lantern", "decor", 3.5)
    assert all("name" not in o for o in offers if o["product_id"] != "k0-1")  # only what it knows
    similar = client.get("/v1/products/k0-2/similar", params={"limit": 50}).json()["items"]
    assert all(i.get("name") == "Heart lantern" for i in similar if i["product_id"] == "k0-1")
