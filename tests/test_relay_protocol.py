"""SMTP protocol edges end to end, over raw sockets where smtplib would tidy the bytes up.

SMTP smuggling (CVE-2023-51764/51765/51766, and aiosmtpd's own test_smtpsmuggling): a body with a
bare-line-ending look-alike of <CRLF>.<CRLF> must stay one message at the gateway and on the way
out. Pipelining (RFC 2920), connection reuse towards the next hop, and a real third-party client.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.support.mail import Gateway, NextHop, RawClient, wait_for

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

BODY = b"From: alice@acme.example\r\nTo: bob@example.org\r\nSubject: Pipelined\r\n\r\nHello Bob.\r\n"


# The look-alikes of the end of data that lenient servers accepted (the SMTP smuggling paper, 2023).
SMUGGLING = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CRLF.CR": b"\r\n.\r",
}


@SQLITE_ONLY
def test_smuggled_end_of_data_stays_one_message(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    for n, (name, fake_end) in enumerate(SMUGGLING.items(), start=1):
        smuggled = (
            b"MAIL FROM:<ceo@acme.example>\r\nRCPT TO:<victim" + str(n).encode() + b"@example.org>\r\n"
            b"DATA\r\nFrom: ceo@acme.example\r\nSubject: smuggled\r\n\r\nPay the invoice.\r\n"
        )
        with RawClient(gw.smtp_port) as c:
            assert c.reply()[0] == 220
            c.send(b"EHLO client.acme.example\r\n")
            assert c.reply()[0] == 250
            c.send(b"MAIL FROM:<alice@acme.example>\r\n")
            c.send(b"RCPT TO:<bob@example.org>\r\n")
            c.send(b"DATA\r\n")
            assert c.replies(3) == [250, 250, 354], name
            subject = f"Subject: carrier {name}\r\n".encode()
            c.send(subject + b"\r\nInnocent text." + fake_end + smuggled + b".\r\nQUIT\r\n")
            # Exactly one message was accepted: no replies to smuggled MAIL/RCPT/DATA commands.
            code, text = c.reply()
            assert code == 250 and "queued as" in text, (name, code, text)
            assert c.reply()[0] == 221, name
            assert c.closed(), name
        [*_, msg] = next_hop.wait(n)
        assert len(next_hop.messages) == n, name
        assert msg.recipients == ["bob@example.org"], name
        assert subject in msg.data, name
        assert b"RCPT TO:<victim" + str(n).encode() in msg.data, name  # the commands are body text
        # The copy relayed onwards has only CRLF line ends, so no lenient server behind the next
        # hop can find an end of data in it either.
        assert msg.data.count(b"\n") == msg.data.count(b"\r\n") == msg.data.count(b"\r"), name


@SQLITE_ONLY
def test_pipelined_commands_and_quit_after_the_data(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    with RawClient(gw.smtp_port) as c:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.acme.example\r\n")
        code, ehlo = c.reply()
        assert code == 250 and "PIPELINING" in ehlo.split("\n")
        # RFC 2920 §3.1: MAIL, RCPT… and DATA in one go; the replies come back in order.
        c.send(
            b"MAIL FROM:<alice@acme.example>\r\nRCPT TO:<bob@example.org>\r\n"
            b"RCPT TO:<carol@example.org>\r\nDATA\r\n"
        )
        assert c.replies(4) == [250, 250, 250, 354]
        # The end of data, the next transaction up to its DATA, all in one write.
        c.send(BODY + b".\r\nMAIL FROM:<alice@acme.example>\r\nRCPT TO:<dave@example.org>\r\nDATA\r\n")
        assert c.replies(4) == [250, 250, 250, 354]
        # And the end of data followed at once by QUIT.
        c.send(BODY.replace(b"Hello Bob", b"Hello Dave") + b".\r\nQUIT\r\n")
        assert c.replies(2) == [250, 221]
        assert c.closed()
    first, second = sorted(next_hop.wait(2), key=lambda m: len(m.recipients), reverse=True)
    assert first.recipients == ["bob@example.org", "carol@example.org"] and first.data.endswith(BODY)
    assert second.recipients == ["dave@example.org"] and second.data.endswith(b"Hello Dave.\r\n")


@SQLITE_ONLY
def test_end_of_data_split_across_packets(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    with RawClient(gw.smtp_port) as c:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.acme.example\r\n")
        assert c.reply()[0] == 250
        c.send(b"MAIL FROM:<alice@acme.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        assert c.replies(3) == [250, 250, 354]
        pieces = [BODY[:-1], b"\n", b".", b"\r", b"\nQU", b"IT\r\n"]  # CRLF . CRLF in four segments
        for piece in pieces:
            c.send(piece)
            time.sleep(0.05)  # separate TCP segments, so the gateway reads the pieces one by one
        assert c.replies(2) == [250, 221]
    [msg] = next_hop.wait(1)
    assert msg.data.endswith(BODY)


@SQLITE_ONLY
def test_messages_in_quick_succession_reuse_the_next_hop_connection(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway.start()
    messages = 5
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        for n in range(1, messages + 1):
            s.sendmail("alice@acme.example", [f"r{n}@example.org"], BODY)
            next_hop.wait(n)
    assert [m.recipients for m in next_hop.messages] == [[f"r{n}@example.org"] for n in range(1, 6)]
    assert next_hop.sessions < messages, f"{next_hop.sessions} connections for {messages} messages"


def _swaks(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import service_unavailable

    swaks = shutil.which("swaks")
    if swaks is None:
        service_unavailable("swaks", "not installed (apt-get install swaks)")
    assert swaks is not None
    return subprocess.run(
        [swaks, "--server", f"127.0.0.1:{gw.smtp_port}", "--helo", "client.acme.example", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@SQLITE_ONLY
def test_swaks_delivers_through_the_gateway(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    done = _swaks(
        gw, "--from", "alice@acme.example", "--to", "bob@example.org", "--header", "Subject: swaks says hi"
    )
    assert done.returncode == 0, done.stdout
    assert "<-  250 2.0.0 Ok: queued as " in done.stdout
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["bob@example.org"] and b"Subject: swaks says hi" in msg.data


@SQLITE_ONLY
def test_swaks_to_a_blocked_recipient_shows_5_7_703(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway
    gw.cli("tabl", "add", "acme", "--block", "blocked@example.org")
    gw.start()
    done = _swaks(gw, "--from", "alice@acme.example", "--to", "blocked@example.org")
    assert done.returncode != 0
    assert (
        "<** 550 5.7.703 Your message can't be delivered because messages to blocked@example.org "
        "are blocked by your organization using Tenant Allow Block List"
    ) in done.stdout
    wait_for(lambda: gw.trace("--code", "5.7.703"), what="the refusal in the trace")
    assert next_hop.messages == []
