"""API keys and the audit log."""

from __future__ import annotations

from tests.web.conftest import Api, error


def test_api_keys(api: Api) -> None:
    r = api.post("/api/v1/apikeys", key="acme", json={"tenant": "acme", "label": "ci"})
    assert r.status_code == 201 and r.json()["key"].startswith("og_") and r.json()["tenant"] == "acme"
    new_key = r.json()["key"]
    assert api.get("/api/v1/whoami", key=new_key).json()["tenant"] == "acme"
    error(api.post("/api/v1/apikeys", key="acme", json={"operator": True}), 403)
    error(api.post("/api/v1/apikeys", json={"operator": True, "tenant": "acme"}), 422)
    listed = api.get("/api/v1/apikeys", key="acme").json()["items"]
    assert {k["tenant"] for k in listed} == {"acme"} and all("key" not in k for k in listed)
    assert len(api.get("/api/v1/apikeys").json()["items"]) == 4
    assert api.delete(f"/api/v1/apikeys/{new_key[:10]}", key="acme").status_code == 204
    error(api.get("/api/v1/whoami", key=new_key), 401)
    error(api.delete(f"/api/v1/apikeys/{api.keys['operator'][:10]}", key="acme"), 404)


def test_audit_log(api: Api) -> None:
    api.post("/api/v1/tenants/acme/tabl", key="acme", json={"values": ["z@z.example"]})
    rows = api.get("/api/v1/audit?tenant=acme&action=tabl", key="acme").json()["items"]
    assert rows[0]["action"] == "tabl.block.add" and rows[0]["target"] == "z@z.example"
    assert rows[0]["actor"] == "apikey:" + api.keys["acme"][:10]
    page = api.get("/api/v1/audit?limit=2").json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    assert api.get("/api/v1/audit?limit=2&offset=2").json()["items"][0] != page["items"][0]
