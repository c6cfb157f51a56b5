from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.store.tables import Customer, Product


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
