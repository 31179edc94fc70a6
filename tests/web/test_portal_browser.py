"""The portal in a real browser: Playwright driving Debian's headless Chromium against a real
`outguard serve` with real mail in its trace. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import smtplib

import pytest

from tests.conftest import REPO, service_unavailable
from tests.support.mail import Gateway, NextHop

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
REPORTS = ("mailflow", "spam", "top-senders", "connectors", "non-accepted-domains")


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        service_unavailable("chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield b
        b.close()


@pytest.fixture
def portal(make_gateway, next_hop: NextHop) -> dict:
    """A gateway with tenant acme (some real mail traced) and tenant globex (blocked), and keys."""
    gw: Gateway = make_gateway()
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    gw.cli("tabl", "add", "acme", "--block", "blocked@bad.example")
    gw.cli("tenant", "add", "globex")
    gw.cli("tenant", "block", "globex", "--reason", "spam burst from an open relay at globex")
    keys = {
        "operator": gw.cli("apikey", "create", "--operator").stdout.strip().splitlines()[-1],
        "acme": gw.cli("apikey", "create", "--tenant", "acme").stdout.strip().splitlines()[-1],
    }
    gw.start()
    for rcpts in (["bob@example.org", "carol@example.net"], ["ok@example.org", "blocked@bad.example"]):
        with gw.smtp() as s:
            s.ehlo("client.test")
            s.mail("alice@acme.example")
            for r in rcpts:
                s.rcpt(r)
            try:
                s.data(b"From: alice@acme.example\r\nSubject: Browser test\r\n\r\nhello\r\n")
            except smtplib.SMTPDataError:
                pass  # the 5.7.703 refusal is part of the mix
    gw.wait_trace(
        lambda rows: len(rows) == 4 and all(r["status"] != "Pending" for r in rows), "--tenant", "acme"
    )
    return {"url": f"http://127.0.0.1:{gw.http_port}", "keys": keys, "gw": gw}


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(browser, portal: dict, who: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(portal["url"] + "/")
    assert page.url.startswith(portal["url"] + "/signin")
    shot(page, "signin")
    page.fill("#api_key", "og_wrong-key")
    page.click("button[type=submit]")
    assert "invalid or revoked API key" in page.inner_text(".notice.error")
    page.fill("#api_key", portal["keys"][who])
    page.click("button[type=submit]")
    page.wait_for_url(portal["url"] + "/")
    cookie = next(c for c in context.cookies() if c["name"] == "outguard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert portal["keys"][who] not in cookie["value"]
    return context, page


def test_tenant_admin_trace_block_list_and_reports(browser, portal: dict) -> None:
    context, page = sign_in(browser, portal, "acme")
    base = portal["url"]
    assert page.inner_text("h1").startswith("acme")
    refusals = page.locator("section:has(h2:text('Recent refusals')) a.code")
    assert refusals.first.inner_text() == "5.7.703"
    shot(page, "dashboard-tenant")

    # Message trace: search, then open a message's detail.
    page.click("nav >> text=Message trace")
    page.fill("input[name=recipient]", "*@bad.example")
    page.click("form.filters button")
    rows = page.locator("table.trace tbody tr")
    assert rows.count() == 1 and "blocked@bad.example" in rows.first.inner_text()
    shot(page, "trace-search")
    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/trace/[A-Za-z0-9]+$"))
    assert "Message" in page.inner_text("h1")
    assert "tabl" in page.inner_text("table.rules") and "received" in page.inner_text("table.events")
    shot(page, "trace-detail")
    page.locator("section.panel.bad a.code").first.click()  # what 5.7.703 means and how to fix it
    page.wait_for_url(base + "/codes/5-7-703")
    assert "What the admin can do" in page.content()
    shot(page, "code-5-7-703")

    # Allow/block list: add an entry, then remove it.
    page.goto(base + "/tenants/acme/tabl")
    page.fill("textarea[name=values]", "evil@spam.example\n*.phish.example")
    page.fill("input[name=notes]", "added in the browser test")
    page.click("#tabl-add button[type=submit]")
    assert "added 2 block entries" in page.inner_text(".notice")
    table = page.locator("#tabl-entries")
    assert "evil@spam.example" in table.inner_text() and "*.phish.example" in table.inner_text()
    shot(page, "tabl-added")
    page.click("button[aria-label='Remove evil@spam.example']")
    assert "removed block entry evil@spam.example" in page.inner_text(".notice")
    assert "evil@spam.example" not in page.locator("#tabl-entries").inner_text()
    shot(page, "tabl-removed")

    # Every report: the chart is drawn (an SVG image with bars), the table is there.
    for name in REPORTS:
        page.goto(f"{base}/reports/{name}?days=7")
        img = page.locator("img#chart")
        img.wait_for()
        page.wait_for_function("document.querySelector('img#chart').complete")
        assert page.evaluate("document.querySelector('img#chart').naturalWidth") > 0, name
        svg = context.request.get(base + img.get_attribute("src")).text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<script" not in svg
        if name in ("mailflow", "top-senders", "connectors"):
            assert re.search(r'class="rect reactive tooltip-trigger"', svg), name  # bars were plotted
        assert page.locator("table.report").count() >= 1
        shot(page, f"report-{name}")

    # The filter form (shared by the report list and every report) reloads the report for its range.
    page.goto(f"{base}/reports/mailflow?days=7")
    page.select_option("form.filters select[name=days]", "30")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/reports/mailflow?*days=30*")
    assert page.locator("form.filters select[name=days]").input_value() == "30"
    assert page.locator("form.filters select[name=tenant]").count() == 0  # only operators choose a tenant

    # A form without the session's CSRF token is refused.
    r = context.request.post(base + "/tenants/acme/tabl/add", form={"values": "x@y.example"})
    assert r.status == 403
    context.close()


def test_operator_unblocks_a_tenant(browser, portal: dict) -> None:
    context, page = sign_in(browser, portal, "operator")
    base = portal["url"]
    assert "Operator dashboard" in page.inner_text("h1")
    shot(page, "dashboard-operator")
    page.click("nav >> text=Blocked")
    section = page.locator("#tenant-globex")
    assert "5.7.705" in section.inner_text() and "open relay" in section.inner_text()
    shot(page, "blocked-tenants")
    section.locator("textarea[name=reason]").fill("relay closed, admin passwords reset, MFA on")
    section.locator("button[type=submit]").click()
    assert "unblocked globex" in page.inner_text(".notice")
    assert page.locator("#tenant-globex").count() == 0
    shot(page, "unblocked")
    page.goto(base + "/audit?action=tenant.unblock")
    assert "relay closed, admin passwords reset, MFA on" in page.inner_text("table")
    shot(page, "audit")
    for path, name in (("/tenants", "tenants"), ("/ip-exceptions", "ip-exceptions"), ("/delisting", "delisting"),
                       ("/tenants/acme/domains", "domains"), ("/tenants/acme/connectors", "connectors"),
                       ("/tenants/acme/mailboxes", "mailboxes"), ("/tenants/acme/restricted", "restricted"),
                       ("/ndr", "ndr")):  # fmt: skip
        page.goto(base + path)
        assert page.locator("h1").count() == 1
        shot(page, f"operator-{name}")
    page.click("button:text('Sign out')")
    page.wait_for_url(re.compile(r".*/signin$"))
    page.goto(base + "/tenants")
    assert "/signin" in page.url
    context.close()
