"""Accepted domains (add, verify through real DNS, remove), connectors, mailboxes."""

from __future__ import annotations

from tests.support.dnsserver import LoopbackDNS
from tests.web.conftest import Api, error


def test_domain_add_shows_txt_record_and_verify_looks_it_up(api: Api, dns_server: LoopbackDNS) -> None:
    d = api.post("/api/v1/tenants/acme/domains", key="acme", json={"domain": "Mail.Acme.Example"}).json()
    assert d["domain"] == "mail.acme.example" and d["verified"] is False
    assert d["txt_record"].startswith('mail.acme.example. IN TXT "outguard-verification=')
    token = d["txt_record"].split('"')[1]
    msg = error(api.post("/api/v1/tenants/acme/domains/mail.acme.example/verify", key="acme"), 404)
    assert "verification record not found" in msg or "does not exist" in msg
    dns_server.add_txt("mail.acme.example", token)
    v = api.post("/api/v1/tenants/acme/domains/mail.acme.example/verify", key="acme").json()
    assert v["verified"] is True and v["verified_by"] == "dns"
    listed = api.get("/api/v1/tenants/acme/domains", key="acme").json()["items"]
    assert [x["domain"] for x in listed] == ["acme.example", "mail.acme.example"]
    assert "attest" in error(
        api.post("/api/v1/tenants/acme/domains", key="acme", json={"domain": "x.example", "verified": True}),
        403,
    )
    assert "already an accepted domain" in error(
        api.post("/api/v1/tenants/acme/domains", key="acme", json={"domain": "globex.example"}), 409
    )
    assert api.delete("/api/v1/tenants/acme/domains/mail.acme.example", key="acme").status_code == 204
    error(api.delete("/api/v1/tenants/acme/domains/mail.acme.example", key="acme"), 404)


def test_connectors(api: Api) -> None:
    c = api.post(
        "/api/v1/tenants/acme/connectors", key="acme", json={"name": "branch", "ips": ["198.51.100.0/28"]}
    )
    assert (
        c.status_code == 201
        and c.json()["ips"] == ["198.51.100.0/28"]
        and c.json()["created_by"].startswith("apikey:")
    )
    assert "host bits" in error(
        api.post(
            "/api/v1/tenants/acme/connectors", key="acme", json={"name": "x", "ips": ["198.51.100.1/28"]}
        ),
        422,
    )
    msg = error(
        api.post("/api/v1/tenants/acme/connectors", key="acme", json={"name": "y", "ips": ["192.0.2.2"]}), 409
    )
    assert "another tenant" in msg and "globex" not in msg
    names = [c["name"] for c in api.get("/api/v1/tenants/acme/connectors", key="acme").json()["items"]]
    assert names == ["branch", "office"]
    assert api.delete("/api/v1/tenants/acme/connectors/branch", key="acme").status_code == 204
    error(api.delete("/api/v1/tenants/acme/connectors/branch", key="acme"), 404)


def test_mailboxes(api: Api) -> None:
    m = api.post(
        "/api/v1/tenants/acme/mailboxes",
        key="acme",
        json={"address": "app@acme.example", "password": "long enough pw"},
    )
    assert m.status_code == 201 and m.json()["address"] == "app@acme.example" and "password" not in m.json()
    error(
        api.post(
            "/api/v1/tenants/acme/mailboxes",
            key="acme",
            json={"address": "b@acme.example", "password": "short"},
        ),
        422,
    )
    assert "not an accepted domain" in error(
        api.post(
            "/api/v1/tenants/acme/mailboxes",
            key="acme",
            json={"address": "a@other.example", "password": "long enough pw"},
        ),
        422,
    )
    assert [x["address"] for x in api.get("/api/v1/tenants/acme/mailboxes", key="acme").json()["items"]] == [
        "app@acme.example"
    ]
    r = api.put(
        "/api/v1/tenants/acme/mailboxes/app@acme.example/password",
        key="acme",
        json={"password": "another long one"},
    )
    assert r.status_code == 204
    assert api.delete("/api/v1/tenants/acme/mailboxes/app@acme.example", key="acme").status_code == 204
    error(
        api.put(
            "/api/v1/tenants/acme/mailboxes/app@acme.example/password",
            key="acme",
            json={"password": "another long one"},
        ),
        404,
    )
