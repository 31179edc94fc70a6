"""Tenants: list, create, show, change, block and unblock (operators only, with a reason), headroom."""

from __future__ import annotations

from tests.web.conftest import Api, error


def test_operator_lists_and_creates_tenants(api: Api) -> None:
    page = api.get("/api/v1/tenants").json()
    assert [t["name"] for t in page["items"]] == ["acme", "globex"] and page["total"] == 2
    r = api.post(
        "/api/v1/tenants", json={"name": "initech", "trial": True, "subscription_expires": "2030-01-31"}
    )
    assert r.status_code == 201
    assert r.json()["licensed"] is False and r.json()["subscription_expires"] == "2030-01-31"
    page = api.get("/api/v1/tenants?limit=2&offset=1").json()
    assert [t["name"] for t in page["items"]] == ["globex", "initech"] and page["next_offset"] is None
    assert api.get("/api/v1/tenants?limit=1").json()["next_offset"] == 1
    error(api.get("/api/v1/tenants?limit=0"), 422)


def test_show_tenant_has_contract_fields(api: Api) -> None:
    t = api.get("/api/v1/tenants/acme").json()
    assert {"name", "licensed", "status", "block", "subscription_expires"} <= set(t)
    assert t["status"] == "active" and t["block"] is None
    assert t["counts"] == {"accepted_domains": 1, "connectors": 1, "mailboxes": 0, "block_entries": 1}
    assert "unknown tenant 'nope'" in error(api.get("/api/v1/tenants/nope"), 404)


def test_change_tenant(api: Api) -> None:
    t = api.patch("/api/v1/tenants/acme", key="acme", json={"tabl_mode": "per-recipient"}).json()
    assert t["tabl_mode"] == "per-recipient"
    assert "only an operator" in error(
        api.patch("/api/v1/tenants/acme", key="acme", json={"licensed": False}), 403
    )
    t = api.patch(
        "/api/v1/tenants/acme", json={"licensed": False, "limits": {"unregistered_allowance": 5}}
    ).json()
    assert t["licensed"] is False and t["limits"] == {"unregistered_allowance": 5}
    error(api.patch("/api/v1/tenants/acme", json={"tabl_mode": "sometimes"}), 422)


def test_block_and_unblock_need_an_operator_and_a_reason(api: Api) -> None:
    assert "only an operator" in error(
        api.post("/api/v1/tenants/acme/block", key="acme", json={"reason": "x" * 20}), 403
    )
    assert "written reason" in error(api.post("/api/v1/tenants/acme/block", json={"reason": "short"}), 422)
    t = api.post("/api/v1/tenants/acme/block", json={"reason": "spam run from a compromised server"}).json()
    assert t["status"] == "blocked" and t["block"]["code"] == "5.7.705"
    error(api.post("/api/v1/tenants/acme/block", json={"reason": "spam run from a compromised server"}), 409)
    assert api.get("/api/v1/tenants?status=blocked").json()["items"][0]["name"] == "acme"
    shown = api.get("/api/v1/tenants/acme", key="acme").json()
    assert (
        shown["block"]["admin_fix"]
        and shown["block"]["text"] == "Access denied, tenant has exceeded threshold"
    )
    assert "only an operator" in error(
        api.post("/api/v1/tenants/acme/unblock", key="acme", json={"reason": "we fixed it all, promise"}), 403
    )
    assert "written reason" in error(api.post("/api/v1/tenants/acme/unblock", json={"reason": ""}), 422)
    t = api.post("/api/v1/tenants/acme/unblock", json={"reason": "server patched, passwords reset"}).json()
    assert t["status"] == "active"
    audit = api.get("/api/v1/audit?action=tenant.unblock").json()["items"]
    assert audit[0]["reason"] == "server patched, passwords reset"


def test_headroom(api: Api) -> None:
    h = api.get("/api/v1/tenants/acme/headroom", key="acme").json()
    assert h["tenant"] == "acme" and h["source"] == "trace"
    assert h["spam"]["messages"] == 0 and h["unregistered"]["allowance"] == 100
