"""Trace search (every filter, paging, CSV), message detail, and the reports as JSON and CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from outguard.model import Tenant
from tests.web.conftest import Api, error
from tests.web.tracedata import add_message


@pytest.fixture
def traced(api: Api, db) -> dict[str, str]:
    with db.session() as s:
        ids = dict(s.execute(select(Tenant.name, Tenant.id)).all())
    acme, globex = (ids["acme"], "acme"), (ids["globex"], "globex")
    q = {
        "delivered": add_message(
            db,
            tenant=acme,
            subject="Quarterly numbers",
            client_ip="192.0.2.1",
            message_id="<q1@acme.example>",
            recipients=(
                ("bob@example.org", "Delivered", "2.0.0"),
                ("carol@example.net", "Delivered", "2.0.0"),
            ),
            rule_misses=["attribution", "tabl"],
        ),
        "blocked": add_message(
            db,
            tenant=acme,
            refused_stage="DATA",
            code="5.7.703",
            detail="Your message can't be delivered because messages to x@blocked.example are blocked",
            recipients=(("x@blocked.example", "Failed", "5.7.703"),),
            rule_hits=[{"rule": "tabl", "code": "5.7.703", "mode": "enforce"}],
        ),
        "old": add_message(
            db, tenant=acme, ago=timedelta(days=5), recipients=(("old@example.org", "Delivered", "2.0.0"),)
        ),
        "globex": add_message(
            db,
            tenant=globex,
            sender="g@globex.example",
            recipients=(("bob@example.org", "Delivered", "2.0.0"),),
        ),
    }
    return q


def rows(api: Api, query: str, key: str = "acme") -> list[dict]:
    r = api.get("/api/v1/trace" + query, key=key)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_trace_search_filters(api: Api, traced: dict[str, str]) -> None:
    everything = rows(api, "")
    assert [r["recipient"] for r in everything] == [
        "x@blocked.example",
        "bob@example.org",
        "carol@example.net",
    ]
    assert {
        "message_id",
        "queue_id",
        "tenant",
        "received",
        "sender",
        "recipient",
        "subject",
        "status",
        "code",
        "detail",
    } <= set(everything[0])
    assert [r["recipient"] for r in rows(api, "?recipient=*@example.org")] == ["bob@example.org"]
    assert "only one * wildcard" in error(api.get("/api/v1/trace?recipient=*@*.org", key="acme"), 422)
    assert len(rows(api, "?sender=alice@acme.example")) == 3
    assert len(rows(api, "?sender=*@acme.example&status=Failed")) == 1
    assert rows(api, "?message_id=q1@acme.example")[0]["queue_id"] == traced["delivered"]
    assert len(rows(api, f"?message_id={traced['blocked']}")) == 1
    assert len(rows(api, "?subject=quarterly")) == 2
    assert len(rows(api, "?client_ip=192.0.2.1")) == 2
    assert rows(api, "?code=5.7.703")[0]["recipient"] == "x@blocked.example"
    assert len(rows(api, "?since=7d")) == 4
    assert rows(api, "?since=7d&until=3d")[0]["recipient"] == "old@example.org"
    assert "90 days" in error(api.get("/api/v1/trace?since=120d", key="acme"), 422)
    error(api.get("/api/v1/trace?status=Bounced", key="acme"), 422)
    assert {r["tenant"] for r in rows(api, "", key="operator")} == {"acme", "globex"}
    assert {r["tenant"] for r in rows(api, "?tenant=globex", key="operator")} == {"globex"}


def test_trace_paging_and_csv(api: Api, traced: dict[str, str]) -> None:
    page = api.get("/api/v1/trace?limit=2", key="acme").json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2 and page["total"] is None
    rest = api.get("/api/v1/trace?limit=2&offset=2", key="acme").json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    csv = api.get("/api/v1/trace?format=csv", key="acme")
    assert (
        csv.headers["content-type"].startswith("text/csv")
        and "attachment" in csv.headers["content-disposition"]
    )
    lines = csv.text.splitlines()
    assert lines[0].startswith("received,queue_id,message_id,tenant,sender,recipient,subject,status,code")
    assert len(lines) == 4 and "globex" not in csv.text


def test_trace_detail_has_every_event_and_rule_decision(api: Api, traced: dict[str, str]) -> None:
    d = api.get(f"/api/v1/trace/{traced['blocked']}", key="acme").json()
    assert d["code"] == "5.7.703" and d["refused_stage"] == "DATA"
    assert d["rule_hits"] == [{"rule": "tabl", "code": "5.7.703", "mode": "enforce"}]
    assert [e["kind"] for e in d["events"]] == ["received", "refused"]
    assert d["events"][1]["code"] == "5.7.703" and d["events"][1]["stage"] == "DATA"
    assert d["recipients"][0]["status"] == "Failed"
    assert "no traced message" in error(api.get("/api/v1/trace/NOPE", key="acme"), 404)


def test_reports_json_and_csv(api: Api, traced: dict[str, str]) -> None:
    names = [r["name"] for r in api.get("/api/v1/reports", key="acme").json()["items"]]
    assert names == ["mailflow", "spam", "top-senders", "connectors", "non-accepted-domains"]
    for name in names:
        r = api.get(f"/api/v1/reports/{name}", key="acme").json()
        assert r["report"] == name and r["tenant"] == "acme" and r["days"] == 7
        csv = api.get(f"/api/v1/reports/{name}?format=csv&days=30", key="acme")
        assert csv.status_code == 200 and csv.text.splitlines()[0] == ",".join(r["columns"])
    today = api.get("/api/v1/reports/mailflow", key="acme").json()["rows"][-1]
    assert today["good"] == 2 and today["tabl_blocked"] == 1 and today["total"] == 3
    every = api.get("/api/v1/reports/mailflow?days=1").json()
    assert every["tenant"] is None and every["rows"][0]["total"] == 4
    assert len(api.get("/api/v1/reports/mailflow?days=90").json()["rows"]) == 90
    error(api.get("/api/v1/reports/bogus", key="acme"), 422)
    error(api.get("/api/v1/reports/mailflow?days=0", key="acme"), 422)
