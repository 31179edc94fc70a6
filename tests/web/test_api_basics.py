"""Authentication, the one error format, the OpenAPI document, health, metrics, security headers."""

from __future__ import annotations

from tests.web.conftest import Api, api_routes, error


def test_missing_and_invalid_keys_are_401_with_a_bearer_challenge(api: Api) -> None:
    r = api.get("/api/v1/tenants", key=None)
    assert "missing API key" in error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid API key" in error(api.get("/api/v1/tenants", key="not-a-key"), 401)
    assert "invalid or revoked" in error(api.get("/api/v1/tenants", key="og_" + "x" * 43), 401)
    r = api.get("/api/v1/tenants", key=None, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_revoked_key_stops_working(api: Api) -> None:
    prefix = api.keys["acme"][:10]
    assert api.get("/api/v1/tenants", key="acme").status_code == 200
    assert api.delete(f"/api/v1/apikeys/{prefix}", key="acme").status_code == 204
    assert "revoked" in error(api.get("/api/v1/tenants", key="acme"), 401)


def test_errors_are_json_with_status_and_message(api: Api) -> None:
    assert error(api.get("/api/v1/nothing-here"), 404) == "no such page or route: GET /api/v1/nothing-here"
    assert "not allowed" in error(api.call("PUT", "/api/v1/tenants"), 405)
    msg = error(
        api.post("/api/v1/tenants", content=b"{not json", headers={"Content-Type": "application/json"}), 400
    )
    assert msg.startswith("malformed JSON body")
    msg = error(api.post("/api/v1/tenants", json={"name": "x", "colour": "red"}), 422)
    assert "colour" in msg
    assert "query parameter 'days'" in error(api.get("/api/v1/reports/mailflow?days=91"), 422)
    assert "invalid tenant name" in error(api.post("/api/v1/tenants", json={"name": "Bad Name!"}), 422)
    assert "already exists" in error(api.post("/api/v1/tenants", json={"name": "acme"}), 409)
    assert "only an operator" in error(api.post("/api/v1/tenants", key="acme", json={"name": "x"}), 403)


def test_openapi_document_lists_every_route_with_bearer_auth(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["apiKey"]["description"],
    }
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == api_routes(api.app) and len(documented) >= 40
    for ops in doc["paths"].values():  # every route needs a key
        for op in ops.values():
            assert op.get("security") == [{"apiKey": []}], op
    for path in ("/api/v1/tenants", "/api/v1/tenants/{name}", "/api/v1/tenants/{name}/tabl", "/api/v1/trace",
                 "/api/v1/reports/{report}", "/api/v1/ndr/explain"):  # fmt: skip
        assert path in doc["paths"], path  # CONTRACT.md


def test_whoami(api: Api) -> None:
    assert api.get("/api/v1/whoami").json()["role"] == "operator"
    me = api.get("/api/v1/whoami", key="acme").json()
    assert me["role"] == "tenant" and me["tenant"] == "acme" and me["actor"].startswith("apikey:og_")


def test_healthz_and_metrics_need_no_key(api: Api) -> None:
    h = api.client.get("/healthz")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    m = api.client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    for name in ("outguard_messages_total", "outguard_delivery_attempts_total", "outguard_delivery_attempt_seconds",
                 "outguard_delivery_latency_seconds", "outguard_policy_decision_seconds", "outguard_queue_depth"):  # fmt: skip
        assert f"# TYPE {name.removesuffix('_total')}" in m.text, name


def test_security_headers_on_api_and_pages(api: Api) -> None:
    for path in ("/api/v1/reports", "/signin", "/codes"):
        r = api.get(path)
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "same-origin"  # never leaves the portal
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        csp = r.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp


def test_code_catalogue(api: Api) -> None:
    items = api.get("/api/v1/codes").json()["items"]
    assert {"5.7.703", "5.7.705", "5.7.708", "5.7.750", "5.7.64", "5.1.8"} <= {c["code"] for c in items}
    c = api.get("/api/v1/codes/5-7-750").json()
    assert c["code"] == "5.7.750" and c["report"] == "non-accepted-domains" and c["admin_fix"]
    assert api.get("/api/v1/codes/5.7.703").json()["anchor"] == "5-7-703"
    assert "no status code" in error(api.get("/api/v1/codes/9.9.9"), 404)
    error(api.get("/api/v1/codes", key=None), 401)
