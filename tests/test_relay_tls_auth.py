"""STARTTLS, SMTP AUTH and certificate connectors, end to end: how a connection is attributed.

Clients that must not match the IP connector (127.0.0.1) connect from 127.0.0.2, so only a login
or a client certificate can attribute them (ARCHITECTURE.md: certificate → AUTH → IP).
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.certs import TestCA
from tests.support.mail import Gateway, NextHop, RawClient

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

PASSWORD = "correct horse battery staple"
BODY = b"From: app@acme.example\r\nTo: bob@example.org\r\nSubject: Invoice 42\r\n\r\nPlease pay.\r\n"
FOREIGN = b"From: app@other.example\r\nTo: bob@example.org\r\nSubject: Newsletter\r\n\r\nHello.\r\n"


def _tls_context(cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client context that accepts the gateway's self-signed certificate, optionally with our own."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert and key:
        ctx.load_cert_chain(cert, key)
    return ctx


def _starttls(s: smtplib.SMTP, ctx: ssl.SSLContext | None = None) -> None:
    s.ehlo("client.acme.example")
    code, reply = s.starttls(context=ctx or _tls_context())
    assert code == 220, reply
    s.ehlo("client.acme.example")


def _auth_plain(s: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return s.docmd("AUTH", f"PLAIN {blob}")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def cert_gateway(acme_gateway: Gateway, tmp_path: Path) -> tuple[Gateway, TestCA]:
    """acme's gateway trusting a test CA for client certificates, with a certificate connector for
    mail.acme.example, and an unregistered-domain allowance of 1."""
    ca = TestCA.create(tmp_path / "ca", "Acme Test CA")
    acme_gateway.env["OUTGUARD_SMTP__CLIENT_CA"] = str(ca.pem)
    acme_gateway.env["OUTGUARD_POLICY__UNREGISTERED_ALLOWANCE"] = "1"
    acme_gateway.cli("connector", "add", "acme", "certs", "--cert-domain", "mail.acme.example")
    return acme_gateway.start(), ca


@pytest.fixture
def mailbox_gateway(acme_gateway: Gateway) -> Gateway:
    """acme's gateway with the mailbox app@acme.example (an SMTP AUTH login)."""
    acme_gateway.cli("mailbox", "add", "acme", "app@acme.example", "--password-stdin", input=PASSWORD + "\n")
    return acme_gateway.start()


@SQLITE_ONLY
def test_starttls_uses_a_self_signed_certificate_made_in_data_dir(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway.start()
    made = Path(gw.env["OUTGUARD_DATA_DIR"]) / "tls" / "smtp.crt"
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        assert s.has_extn("starttls")
        _starttls(s)
        assert not s.has_extn("starttls")  # RFC 3207 §4.2: not offered again
        served = x509.load_der_x509_certificate(s.sock.getpeercert(binary_form=True))
        assert served == x509.load_pem_x509_certificate(made.read_bytes())
        assert served.subject.rfc4514_string() == "CN=gw.outguard.test"
        assert s.mail("alice@acme.example")[0] == 250
        assert s.rcpt("bob@example.org")[0] == 250
        code, reply = s.data(BODY)
        assert code == 250
    queue_id = reply.decode().rsplit(" ", 1)[1]
    [msg] = next_hop.wait(1)
    assert b"with ESMTPS id " + queue_id.encode() in msg.data
    gw.wait_trace(lambda r: bool(r), "--message-id", queue_id)
    assert gw.detail(queue_id)["tls"].startswith("TLSv1.")


@SQLITE_ONLY
def test_commands_pipelined_behind_starttls_are_discarded(acme_gateway: Gateway) -> None:
    """STARTTLS command injection (CVE-2011-0411): plaintext sent with STARTTLS never runs inside TLS."""
    gw = acme_gateway.start()
    with RawClient(gw.smtp_port) as c:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.acme.example\r\n")
        assert c.reply()[0] == 250
        c.send(b"STARTTLS\r\nMAIL FROM:<alice@acme.example>\r\n")  # a man in the middle's addition
        assert c.reply()[0] == 220
        c.starttls(_tls_context())
        c.send(b"EHLO client.acme.example\r\n")
        code, ehlo = c.reply()
        assert code == 250 and "STARTTLS" not in ehlo  # the EHLO's reply: nothing ran before it
        c.send(b"MAIL FROM:<alice@acme.example>\r\n")
        assert c.reply() == (250, "2.1.0 Ok")  # not "503 nested MAIL": the injected one never ran


@SQLITE_ONLY
def test_auth_is_offered_only_after_starttls(mailbox_gateway: Gateway) -> None:
    gw = mailbox_gateway
    with gw.smtp(source="127.0.0.2") as s:
        s.ehlo("client.acme.example")
        assert not s.has_extn("auth")
        code, reply = _auth_plain(s, "app@acme.example", PASSWORD)
        assert (code, reply.decode()) == (
            538,
            "5.7.11 Encryption required for requested authentication mechanism",
        )
        _starttls(s)
        assert set(s.esmtp_features["auth"].split()) >= {"PLAIN", "LOGIN"}


@SQLITE_ONLY
def test_mailbox_logs_in_with_plain_and_login(mailbox_gateway: Gateway) -> None:
    gw = mailbox_gateway
    ok = (235, b"2.7.0 Authentication successful")
    plain = _b64("\0app@acme.example\0" + PASSWORD)
    logins = {
        "PLAIN with initial response": [f"AUTH PLAIN {plain}"],
        "PLAIN after a challenge": ["AUTH PLAIN", plain],
        "LOGIN": ["AUTH LOGIN", _b64("app@acme.example"), _b64(PASSWORD)],
        "LOGIN with initial response": [f"AUTH LOGIN {_b64('app@acme.example')}", _b64(PASSWORD)],
        "LOGIN, address in another case": ["AUTH LOGIN", _b64("App@ACME.example"), _b64(PASSWORD)],
    }
    for how, lines in logins.items():
        with gw.smtp(source="127.0.0.2") as s:
            _starttls(s)
            replies = [s.docmd(line) for line in lines]
            assert [code for code, _ in replies[:-1]] == [334] * (len(lines) - 1), how
            assert replies[-1] == ok, how
            assert s.docmd("AUTH PLAIN")[0] == 503, how  # already authenticated


@SQLITE_ONLY
def test_wrong_password_gets_535_and_the_third_failure_421(mailbox_gateway: Gateway) -> None:
    gw = mailbox_gateway
    with gw.smtp(source="127.0.0.2") as s:
        _starttls(s)
        code, reply = _auth_plain(s, "app@acme.example", "wrong")
        assert (code, reply.decode()) == (535, "5.7.8 Authentication credentials invalid")
        code, reply = _auth_plain(s, "nobody@acme.example", PASSWORD)  # unknown login: same answer
        assert (code, reply.decode()) == (535, "5.7.8 Authentication credentials invalid")
        code, reply = _auth_plain(s, "app@acme.example", "wrong again")
        assert (code, reply.decode()) == (421, "4.7.0 Too many authentication failures")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.noop()
        s.close()
    # A failed client may come back and log in properly.
    with gw.smtp(source="127.0.0.2") as s:
        _starttls(s)
        assert _auth_plain(s, "app@acme.example", PASSWORD)[0] == 235


def test_logged_in_mailbox_is_attributed_by_auth(mailbox_gateway: Gateway, next_hop: NextHop) -> None:
    gw = mailbox_gateway
    with gw.smtp(source="127.0.0.2") as s:  # 127.0.0.2 matches no IP connector
        _starttls(s)
        code, reply = s.mail("app@acme.example")
        assert (code, reply.decode()) == (550, "5.7.64 TenantAttribution; Relay Access Denied")
        assert _auth_plain(s, "app@acme.example", PASSWORD)[0] == 235
        assert s.mail("app@acme.example")[0] == 250
        assert s.rcpt("bob@example.org")[0] == 250
        code, reply = s.data(BODY)
        assert code == 250
    queue_id = reply.decode().rsplit(" ", 1)[1]
    [msg] = next_hop.wait(1)
    assert msg.sender == "app@acme.example"
    assert b"from client.acme.example ([127.0.0.2])" in msg.data
    assert b"with ESMTPSA id " + queue_id.encode() in msg.data
    gw.wait_trace(lambda r: r and r[0]["status"] == "Delivered", "--message-id", queue_id)
    detail = gw.detail(queue_id)
    assert detail["tenant"] == "acme" and detail["via"] == "auth"
    assert detail["auth_user"] == "app@acme.example" and detail["client_ip"] == "127.0.0.2"
    assert detail["connector"] is None and detail["tls"].startswith("TLSv1.")


@SQLITE_ONLY
def test_logged_in_mailbox_cannot_send_as_a_foreign_domain(mailbox_gateway: Gateway) -> None:
    gw = mailbox_gateway
    with gw.smtp(source="127.0.0.2") as s:
        _starttls(s)
        assert _auth_plain(s, "app@acme.example", PASSWORD)[0] == 235
        code, reply = s.mail("ceo@bank.example")
        assert (code, reply.decode()) == (
            550,
            "5.7.60 Client does not have permissions to send as this sender",
        )
        assert s.mail("billing@acme.example")[0] == 250  # any address of an accepted domain is fine
    rows = gw.wait_trace(lambda r: any(x["code"] == "5.7.60" for x in r), "--sender", "ceo@bank.example")
    assert rows[0]["tenant"] == "acme" and rows[0]["status"] == "Failed"


def test_certificate_connector_attributes_and_is_exempt_from_unregistered_allowance(
    cert_gateway: tuple[Gateway, TestCA], next_hop: NextHop
) -> None:
    gw, ca = cert_gateway
    cert, key = ca.client_cert("mail.acme.example")

    # Over the certificate connector, mail from an unregistered domain is not counted (exempt).
    queue_ids = []
    for _ in range(3):
        with gw.smtp(source="127.0.0.2") as s:  # no IP connector: only the certificate can attribute
            _starttls(s, _tls_context(cert, key))
            assert s.mail("app@other.example")[0] == 250
            assert s.rcpt("bob@example.org")[0] == 250
            code, reply = s.data(FOREIGN)
            assert code == 250, reply
            queue_ids.append(reply.decode().rsplit(" ", 1)[1])
    next_hop.wait(3)
    gw.wait_trace(lambda r: len(r) == 3, "--tenant", "acme")
    detail = gw.detail(queue_ids[-1])
    assert (detail["tenant"], detail["via"], detail["connector"]) == ("acme", "certificate", "certs")
    assert detail["client_ip"] == "127.0.0.2" and detail["unregistered_sender"] is False

    # The same over the IP connector is counted: the allowance (1) is used up by the first message.
    gw.send("app@other.example", ["bob@example.org"], FOREIGN)
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        code, reply = s.mail("app@other.example")
        assert (code, reply.decode()) == (550, "5.7.750 Client blocked from sending from unregistered domain")


def _unverifiable_cert(ca: TestCA, tmp_path: Path, which: str) -> tuple[Path, Path]:
    """A certificate for mail.acme.example that the gateway cannot verify."""
    if which == "foreign CA":
        return TestCA.create(tmp_path / "other", "Someone Else's CA").client_cert("mail.acme.example")
    return ca.client_cert("mail.acme.example", expired=True)


@SQLITE_ONLY
@pytest.mark.parametrize("which", ["foreign CA", "expired"])
def test_unverifiable_client_certificate_is_not_attributed(
    cert_gateway: tuple[Gateway, TestCA], tmp_path: Path, which: str
) -> None:
    gw, ca = cert_gateway
    cert, key = _unverifiable_cert(ca, tmp_path, which)
    with gw.smtp(source="127.0.0.2") as s:
        try:
            _starttls(s, _tls_context(cert, key))
            reply = s.mail("alice@acme.example")
        except (smtplib.SMTPServerDisconnected, ssl.SSLError):
            reply = None  # today the gateway refuses the TLS session (see the xfail below)
        # Either way the certificate names never reach attribution.
        assert reply in (None, (550, b"5.7.64 TenantAttribution; Relay Access Denied"))
    with gw.smtp() as s:  # and the gateway goes on serving
        s.ehlo("client.acme.example")
        assert s.mail("alice@acme.example")[0] == 250


@SQLITE_ONLY
@pytest.mark.xfail(
    strict=True,
    reason="Python's ssl has no verify callback: a requested (CERT_OPTIONAL) client certificate that "
    "fails verification aborts the TLS handshake, so a tenant server presenting some other "
    "certificate loses TLS altogether; accepting it untrusted needs another TLS layer (design change)",
)
def test_client_with_unverifiable_certificate_still_gets_tls_and_ip_attribution(
    cert_gateway: tuple[Gateway, TestCA], tmp_path: Path
) -> None:
    gw, ca = cert_gateway
    cert, key = _unverifiable_cert(ca, tmp_path, "foreign CA")
    with gw.smtp() as s:  # 127.0.0.1: the IP connector
        _starttls(s, _tls_context(cert, key))
        assert s.mail("alice@acme.example")[0] == 250


@SQLITE_ONLY
def test_without_certificate_connectors_any_client_certificate_gets_tls(
    acme_gateway: Gateway, tmp_path: Path
) -> None:
    # No tenant uses certificate connectors: the gateway asks for no client certificate, so a tenant
    # server that presents its own (here one no CA vouches for) still gets TLS and IP attribution.
    gw = acme_gateway.start()
    cert, key = TestCA.create(tmp_path / "own", "Tenant's Own CA").client_cert("mail.acme.example")
    with gw.smtp() as s:
        _starttls(s, _tls_context(cert, key))
        assert s.mail("alice@acme.example")[0] == 250
