"""The report aggregations over a known trace, seeded row by row (spam verdicts included, which the
relay on this branch does not produce yet). `test_reports_agree_with_trace.py` sends real mail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outguard.errors import InvalidValue, NotFound
from outguard.services import Services
from outguard.util import utcnow
from tests.web.tracedata import add_message


@pytest.fixture
def tenants(svc: Services, db, settings) -> dict[str, Services]:
    ids = {}
    for name in ("acme", "globex"):
        svc.tenants.add(name)
        svc.domains.add(name, f"{name}.example", verified=True)
        svc.connectors.add(name, "office", ips=["192.0.2.1" if name == "acme" else "192.0.2.2"])
        ids[name] = svc.apikeys.authenticate(svc.apikeys.create(tenant=name)["key"])
    return {n: Services(db, settings, a) for n, a in ids.items()} | {"operator": svc}


@pytest.fixture
def mix(db, tenants: dict[str, Services]) -> dict[str, str]:
    """The known mix of the module docstring; returns queue ids by name."""
    acme = (tenants["acme"].actor.tenant_id, "acme")
    globex = (tenants["globex"].actor.tenant_id, "globex")
    office = {"connector": "office", "via": "ip", "client_ip": "192.0.2.1"}
    q = {}
    q["delivered"] = add_message(
        db,
        tenant=acme,
        recipients=(("bob@example.org", "Delivered", "2.0.0"), ("carol@example.net", "Delivered", "2.0.0")),
        tls="TLSv1.3",
        **office,
    )
    q["tabl"] = add_message(
        db,
        tenant=acme,
        refused_stage="DATA",
        code="5.7.703",
        recipients=tuple((f"r{i}@blocked.example", "Failed", "5.7.703") for i in range(3)),
        **office,
    )
    q["unregistered_refused"] = add_message(
        db,
        tenant=acme,
        sender="x@unreg.example",
        unregistered=True,
        refused_stage="MAIL",
        code="5.7.750",
        **office,
    )
    q["unattributed"] = add_message(
        db, tenant=None, refused_stage="MAIL", code="5.7.64", client_ip="198.51.100.9"
    )
    q["remote_failure"] = add_message(
        db, tenant=acme, recipients=(("nobody@example.org", "Failed", "5.1.1"),), **office
    )
    q["spam"] = add_message(
        db,
        tenant=acme,
        sender="mallory@acme.example",
        spam=True,
        spam_score=12.5,
        classifier="builtin",
        spam_tests=["URL_SHORTENER", "MONEY_WORDS"],
        recipients=(("victim@example.org", "FilteredAsSpam", None),),
        **office,
    )
    q["bulk"] = add_message(
        db,
        tenant=acme,
        sender="news@acme.example",
        spam=False,
        bulk_level=8,
        classifier="builtin",
        recipients=(("a@example.org", "Delivered", "2.0.0"), ("b@example.org", "Delivered", "2.0.0")),
        **office,
    )
    q["unregistered_accepted"] = add_message(
        db,
        tenant=acme,
        sender="y@other.example",
        unregistered=True,
        recipients=(("bob@example.org", "Delivered", "2.0.0"),),
        **office,
    )
    q["per_recipient_tabl"] = add_message(
        db,
        tenant=acme,
        recipients=(("ok@example.org", "Delivered", "2.0.0"), ("evil@bad.example", "Failed", "5.7.703", 0)),
        via="auth",
        auth_user="alice@acme.example",
    )
    q["old"] = add_message(
        db,
        tenant=acme,
        ago=timedelta(days=2),
        recipients=(("bob@example.org", "Delivered", "2.0.0"),),
        **office,
    )
    q["ancient"] = add_message(
        db,
        tenant=acme,
        ago=timedelta(days=40),
        recipients=(("bob@example.org", "Delivered", "2.0.0"),),
        **office,
    )
    q["ndr"] = add_message(
        db, tenant=acme, sender="", via="ndr", recipients=(("alice@acme.example", "Delivered", "2.0.0"),)
    )
    q["globex"] = add_message(
        db,
        tenant=globex,
        sender="g@globex.example",
        recipients=tuple((f"g{i}@example.com", "Delivered", "2.0.0") for i in range(5)),
        connector="office",
        via="ip",
    )
    return q


def _today(report: dict) -> dict:
    return report["rows"][-1]


def test_mailflow_counts_every_trace_row_in_its_category(tenants, mix) -> None:
    report = tenants["acme"].reports.mailflow()
    assert report["tenant"] == "acme" and report["days"] == 7 and len(report["rows"]) == 7
    assert report["rows"][-1]["date"] == utcnow().date().isoformat()
    assert _today(report) == {
        "date": utcnow().date().isoformat(),
        "total": 13,
        "good": 4,  # 2 delivered + 1 unregistered but allowed + 1 per-recipient survivor
        "spam": 1,
        "bulk": 2,
        "edge_blocked": 1,  # 5.7.750 at MAIL FROM counts as one row
        "tabl_blocked": 4,  # 3 (whole message) + 1 (per recipient)
        "refused_other": 0,
        "failed": 1,
    }
    two_days_ago = report["rows"][-3]
    assert two_days_ago["good"] == 1 and two_days_ago["total"] == 1
    assert report["totals"]["total"] == 14  # the 40-day-old message is outside the default window
    assert tenants["acme"].reports.mailflow(days=90)["totals"]["total"] == 15


def test_operator_sees_all_tenants_and_unattributed_mail(tenants, mix) -> None:
    op = tenants["operator"].reports
    every = _today(op.mailflow())
    assert every["edge_blocked"] == 2 and every["good"] == 4 + 5 and every["total"] == 13 + 5 + 1
    assert _today(op.mailflow(tenant="globex"))["total"] == 5
    assert op.mailflow(tenant="acme")["rows"] == tenants["acme"].reports.mailflow()["rows"]


def test_tenant_never_aggregates_another_tenants_trace(tenants, mix) -> None:
    acme = tenants["acme"].reports
    for name in ("mailflow", "spam", "top-senders", "connectors", "non-accepted-domains"):
        with pytest.raises(NotFound):
            acme.report(name, tenant="globex")
        assert "globex" not in str(acme.report(name))
    assert all(r["code"] != "5.7.64" for r in acme.refusals())
    with pytest.raises(NotFound):
        acme.headroom("globex")


def test_spam_report_by_detection(tenants, mix) -> None:
    report = tenants["acme"].reports.spam()
    assert report["totals"] == {"spam": 1, "bulk": 2}
    today = report["series"][-1]
    assert today["spam"] == 1 and today["bulk"] == 2 and today["builtin"] == 1 and today["rspamd"] == 0
    assert {(r["detection"], r["messages"]) for r in report["rows"]} == {
        ("builtin:URL_SHORTENER", 1),
        ("builtin:MONEY_WORDS", 1),
        ("bulk:BCL 8", 2),
    }


def test_top_senders_recipient_domains_and_spam_senders(tenants, mix) -> None:
    report = tenants["acme"].reports.top_senders()
    senders = {r["value"]: r["messages"] for r in report["senders"]}
    assert senders == {
        "alice@acme.example": 2 + 3 + 1 + 2 + 1,  # delivered, tabl, failure, per-recipient, old
        "x@unreg.example": 1,
        "mallory@acme.example": 1,
        "news@acme.example": 2,
        "y@other.example": 1,
    }
    assert report["senders"][0] == {
        "section": "sender",
        "rank": 1,
        "value": "alice@acme.example",
        "messages": 9,
    }
    domains = {r["value"]: r["messages"] for r in report["recipient_domains"]}
    assert domains == {"example.org": 8, "example.net": 1, "blocked.example": 3, "bad.example": 1}
    assert [(r["value"], r["messages"]) for r in report["spam_senders"]] == [("mallory@acme.example", 1)]


def test_connector_report_tls_and_unregistered(tenants, mix) -> None:
    report = tenants["acme"].reports.connectors()
    today = [r for r in report["rows"] if r["date"] == utcnow().date().isoformat()]
    office = next(r for r in today if r["connector"] == "office")
    assert office["messages"] == 2 + 3 + 1 + 1 + 1 + 2 + 1
    assert office["tls_1_3"] == 2 and office["tls"] == 2 and office["no_tls"] == office["messages"] - 2
    assert office["unregistered"] == 2
    assert office["created_by"] == "cli:" + tenants["operator"].actor.name.split(":", 1)[1]
    assert office["configured"] is True and office["unusual"] is False
    auth = next(r for r in today if r["connector"] == "(SMTP AUTH)")
    assert auth["messages"] == 2 and auth["configured"] is None


def test_new_connector_with_sudden_volume_is_unusual(db, tenants) -> None:
    acme = (tenants["acme"].actor.tenant_id, "acme")
    tenants["operator"].connectors.add("acme", "new-relay", ips=["192.0.2.77"])
    for days_ago in range(1, 7):  # a steady 3 a day from the old connector
        for _ in range(3):
            add_message(
                db,
                tenant=acme,
                ago=timedelta(days=days_ago),
                connector="office",
                via="ip",
                recipients=(("bob@example.org", "Delivered", "2.0.0"),),
            )
    add_message(
        db,
        tenant=acme,
        connector="new-relay",
        via="ip",
        recipients=tuple((f"r{i}@example.org", "Delivered", "2.0.0") for i in range(120)),
    )
    report = tenants["acme"].reports.connectors()
    flagged = {c["connector"]: c["unusual"] for c in report["connectors"]}
    assert flagged == {"office": False, "new-relay": True}
    assert "10x" in report["rule"]


def test_non_accepted_domain_report_is_the_evidence_for_5_7_750(tenants, mix) -> None:
    report = tenants["acme"].reports.non_accepted_domains()
    rows = {r["sender_domain"]: r for r in report["rows"]}
    assert set(rows) == {"unreg.example", "other.example"}
    assert rows["unreg.example"]["messages"] == 1 and rows["unreg.example"]["refused"] == 1
    assert rows["unreg.example"]["sample_queue_ids"] == [mix["unregistered_refused"]]
    assert rows["other.example"]["messages"] == 1 and rows["other.example"]["refused"] == 0
    assert rows["other.example"]["connector"] == "office"
    assert report["totals"] == {"messages": 2, "refused": 1}


def test_refusals_by_code_for_the_dashboard(tenants, mix) -> None:
    got = {r["code"]: r["count"] for r in tenants["acme"].reports.refusals()}
    assert got == {"5.7.703": 4, "5.7.750": 1}
    op = {r["code"]: r for r in tenants["operator"].reports.refusals()}
    assert op["5.7.64"]["count"] == 1 and op["5.7.64"]["anchor"] == "5-7-64"


def test_headroom_against_thresholds(tenants, mix, settings) -> None:
    h = tenants["acme"].reports.headroom("acme")
    # Accepted messages of the last 24 h: delivered, failure, spam, bulk, unregistered, per-recipient.
    assert h["spam"]["messages"] == 6 and h["spam"]["spam"] == 1 and h["spam"]["bulk"] == 1
    assert h["spam"]["spam_ratio"] == settings.abuse.spam_ratio and h["spam"]["over_threshold"] is False
    assert h["unregistered"] == {"window_seconds": 86400, "messages": 1, "allowance": 100, "remaining": 99}
    tenants["operator"].tenants.set("acme", limits={"unregistered_allowance": 1, "spam_min_messages": 2})
    h = tenants["acme"].reports.headroom("acme")
    assert h["unregistered"]["remaining"] == 0 and h["spam"]["spam_min_messages"] == 2
    assert h["spam"]["share"] == round(2 / 6, 4) and h["spam"]["over_threshold"] is True


def test_days_are_checked(tenants) -> None:
    for bad in (0, 91):
        with pytest.raises(InvalidValue, match="between 1 and 90"):
            tenants["acme"].reports.mailflow(days=bad)
    with pytest.raises(InvalidValue, match="expected one of"):
        tenants["acme"].reports.report("nope")
