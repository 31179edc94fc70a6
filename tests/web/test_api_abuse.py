"""IP exceptions and the low-reputation list, restricted senders, delisting requests, alerts."""

from __future__ import annotations

from tests.web.conftest import Api, error


def test_ip_exceptions_are_granted_by_operators_only(api: Api) -> None:
    body = {"cidr": "203.0.113.0/28", "reason": "trial customer's office, checked by phone"}
    assert "only an operator" in error(
        api.post("/api/v1/tenants/acme/ip-exceptions", key="acme", json=body), 403
    )
    r = api.post("/api/v1/tenants/acme/ip-exceptions", json={**body, "expires": "2026-12-31"})
    assert r.status_code == 201 and r.json()["cidr"] == "203.0.113.0/28"
    error(api.post("/api/v1/tenants/acme/ip-exceptions", json=body), 409)
    assert [e["cidr"] for e in api.get("/api/v1/tenants/acme/ip-exceptions", key="acme").json()["items"]] == [
        "203.0.113.0/28"
    ]
    every = api.get("/api/v1/ip-exceptions").json()["items"]
    assert [(e["tenant"], e["cidr"]) for e in every] == [("acme", "203.0.113.0/28")]
    error(api.delete("/api/v1/tenants/acme/ip-exceptions/203.0.113.0/28", key="acme"), 403)
    assert api.delete("/api/v1/tenants/acme/ip-exceptions/203.0.113.0/28").status_code == 204
    error(api.delete("/api/v1/tenants/acme/ip-exceptions/203.0.113.0/28"), 404)


def test_low_reputation_list_is_operator_only(api: Api) -> None:
    body = {"cidr": "198.51.100.0/24", "reason": "botnet range seen in our logs"}
    error(api.post("/api/v1/reputation", key="acme", json=body), 403)
    assert api.post("/api/v1/reputation", json=body).status_code == 201
    assert [r["cidr"] for r in api.get("/api/v1/reputation").json()["items"]] == ["198.51.100.0/24"]
    error(api.get("/api/v1/reputation", key="acme"), 403)
    assert api.delete("/api/v1/reputation/198.51.100.0/24").status_code == 204
    error(api.delete("/api/v1/reputation/198.51.100.0/24"), 404)


def test_restricted_senders_are_released_by_the_tenant_admin(api: Api, svc) -> None:
    svc.restricted.restrict(
        "acme",
        "alice@acme.example",
        limit="per_day",
        count=1001,
        threshold=1000,
        action="block-until-released",
        until=None,
    )
    rows = api.get("/api/v1/tenants/acme/restricted", key="acme").json()["items"]
    assert [(r["address"], r["active"]) for r in rows] == [("alice@acme.example", True)]
    r = api.post(
        "/api/v1/tenants/acme/restricted/alice@acme.example/release",
        key="acme",
        json={"reason": "password reset, MFA on"},
    )
    assert r.status_code == 200 and r.json()["items"][0]["released_by"].startswith("apikey:")
    assert api.get("/api/v1/tenants/acme/restricted", key="acme").json()["items"] == []
    assert (
        len(api.get("/api/v1/tenants/acme/restricted?include_released=true", key="acme").json()["items"]) == 1
    )
    error(
        api.post(
            "/api/v1/tenants/acme/restricted/alice@acme.example/release", key="acme", json={"reason": "again"}
        ),
        404,
    )


def test_delisting_request_filed_by_tenant_and_decided_by_operator(api: Api) -> None:
    explanation = {"explanation": "compromised printer relay removed; passwords reset"}
    assert "not blocked" in error(
        api.post("/api/v1/tenants/acme/delisting-requests", key="acme", json=explanation), 409
    )
    api.post("/api/v1/tenants/acme/block", json={"reason": "outbound spam from a printer relay"})
    d = api.post("/api/v1/tenants/acme/delisting-requests", key="acme", json=explanation).json()
    assert d["status"] == "open" and d["code"] == "5.7.705"
    error(api.post("/api/v1/tenants/acme/delisting-requests", key="acme", json=explanation), 409)
    assert [x["id"] for x in api.get("/api/v1/delisting-requests?status=open").json()["items"]] == [d["id"]]
    error(
        api.post(
            f"/api/v1/delisting-requests/{d['id']}/accept", key="acme", json={"response": "I approve myself"}
        ),
        403,
    )
    error(api.post(f"/api/v1/delisting-requests/{d['id']}/accept", json={"response": "no"}), 422)
    r = api.post(
        f"/api/v1/delisting-requests/{d['id']}/accept", json={"response": "relay removed, verified by logs"}
    )
    assert r.json()["status"] == "accepted"
    assert api.get("/api/v1/tenants/acme").json()["status"] == "active"
    error(
        api.post(
            f"/api/v1/delisting-requests/{d['id']}/reject", json={"response": "too late, already decided"}
        ),
        409,
    )
    api.post("/api/v1/tenants/acme/block", json={"reason": "spam again from the same relay"})
    d2 = api.post("/api/v1/tenants/acme/delisting-requests", key="acme", json=explanation).json()
    r = api.post(
        f"/api/v1/delisting-requests/{d2['id']}/reject", json={"response": "relay still open, see trace"}
    )
    assert r.json()["status"] == "rejected" and api.get("/api/v1/tenants/acme").json()["status"] == "blocked"
    error(api.post("/api/v1/delisting-requests/9999/reject", json={"response": "does not exist anyway"}), 404)


def test_alerts(api: Api, svc) -> None:
    svc.alerts.raise_alert(
        "acme", "tenant-threshold-warning", "acme is at 80% of its spam threshold", severity="medium"
    )
    svc.alerts.raise_alert("globex", "tenant-blocked", "globex blocked")
    assert [a["kind"] for a in api.get("/api/v1/alerts", key="acme").json()["items"]] == [
        "tenant-threshold-warning"
    ]
    assert len(api.get("/api/v1/alerts").json()["items"]) == 2
    page = api.get("/api/v1/alerts?limit=1").json()
    assert len(page["items"]) == 1 and page["next_offset"] == 1
