"""The Rspamd classifier against a real Rspamd (started by the test, see tests/support/rspamd.py):
GTUBE, ordinary mail, bulk mail, the envelope headers reaching Rspamd, the settings id, and the fail
modes when Rspamd is unreachable, silent or answers an error."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from outguard.config import SpamSettings
from outguard.spam import BULK, CLASSIFIER_UNAVAILABLE, GENERAL_FILTER, MessageInfo, Verdict
from outguard.spam.builtin import GTUBE
from outguard.spam.rspamd import BULK_SYMBOLS, RspamdClassifier
from tests.conftest import service_unavailable
from tests.support.mail import free_port
from tests.support.rspamd import ENVELOPE_ECHO_LUA, RspamdProcess, RspamdUnavailable
from tests.test_spam_builtin import NEWSLETTER_HEADERS, PLAIN_BUSINESS, message

pytestmark = pytest.mark.slow

SETTINGS_ID = "outguard-outbound"
# An outbound settings entry, selected by id only: it adds a symbol that proves it was applied.
OUTBOUND_SETTINGS = f"""
outguard_outbound {{
  id = "{SETTINGS_ID}";
  apply {{
    symbols = ["OG_OUTBOUND_SETTINGS"];
  }}
}}
"""
OUTBOUND_SYMBOL_LUA = """
rspamd_config:register_symbol{
  name = 'OG_OUTBOUND_SETTINGS', score = 0.0, group = 'outguard_test',
  description = 'Outguard tests: the outbound settings id was applied',
  callback = function(task) end,
}
"""


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RspamdProcess]:
    process = RspamdProcess(
        tmp_path_factory.mktemp("rspamd"),
        lua=ENVELOPE_ECHO_LUA + OUTBOUND_SYMBOL_LUA,
        settings=OUTBOUND_SETTINGS,
    )
    try:
        process.start()
    except RspamdUnavailable as e:
        service_unavailable("rspamd", e)
    yield process
    process.stop()


@pytest.fixture
async def make(rspamd: RspamdProcess) -> AsyncIterator[Callable[..., RspamdClassifier]]:
    """`make(**spam_settings)`: a started classifier pointed at the test's Rspamd."""
    made: list[RspamdClassifier] = []

    def build(**overrides: Any) -> RspamdClassifier:
        fields = {"classifier": "rspamd", "rspamd_url": rspamd.url, "rspamd_timeout": timedelta(seconds=10)}
        classifier = RspamdClassifier(SpamSettings(**{**fields, **overrides}))
        made.append(classifier)
        return classifier

    yield build
    for c in made:
        await c.close()


def info(
    content: bytes,
    sender: str = "alice.martin@acme.example",
    recipients: tuple[str, ...] = ("bob.stone@partner.example",),
    auth_user: str | None = "alice.martin@acme.example",
    tenant: str = "acme",
) -> MessageInfo:
    return MessageInfo(
        content=content,
        sender=sender,
        recipients=recipients,
        client_ip="192.0.2.10",
        helo="mail.acme.example",
        tenant=tenant,
        auth_user=auth_user,
        queue_id="4F1A2B3C5D",
    )


def envelope(reply: dict[str, Any]) -> list[str]:
    return reply["symbols"]["OG_ENVELOPE"]["options"]


async def test_gtube_is_spam_via_rspamd(make: Callable[..., RspamdClassifier]) -> None:
    verdict = await make().classify(info(message(text=f"Test\n\n{GTUBE}\n")))
    assert verdict.spam and verdict.error is None
    assert "GTUBE" in verdict.tests
    assert verdict.classifier == "rspamd"
    assert verdict.score >= 15.0  # Rspamd scores GTUBE at its reject threshold
    assert verdict.detection == GENERAL_FILTER


async def test_business_message_is_not_spam_via_rspamd(make: Callable[..., RspamdClassifier]) -> None:
    verdict = await make().classify(info(message()))
    assert not verdict.spam and verdict.error is None
    assert verdict.score < 4.0  # below Rspamd's greylist threshold: nothing suspicious at all
    assert verdict.bulk_level == 0 and not verdict.bulk
    assert verdict.detection is None
    assert "MIME_GOOD" in verdict.tests  # Rspamd really parsed it


async def test_envelope_headers_reach_rspamd(make: Callable[..., RspamdClassifier]) -> None:
    classifier = make()
    msg = info(message(), recipients=("bob.stone@partner.example", "carol@partner.example"))
    reply = await classifier.scan(msg)
    assert envelope(reply) == [
        "from=alice.martin@acme.example",
        "rcpt=bob.stone@partner.example",
        "rcpt=carol@partner.example",
        "ip=192.0.2.10",
        "helo=mail.acme.example",
        "user=alice.martin@acme.example",
        "qid=4F1A2B3C5D",
    ]
    # Rspamd's own rules compare the envelope with the headers: they saw the same envelope.
    verdict = await classifier.classify(msg)
    assert {"FROM_EQ_ENVFROM", "TO_MATCH_ENVRCPT_ALL", "OG_ENVELOPE"} <= set(verdict.tests)
    other = await classifier.classify(
        info(message(), sender="bounces+x7@mailer.acme.example", recipients=("carol@partner.example",))
    )
    assert "FROM_NEQ_ENVFROM" in other.tests and "FROM_EQ_ENVFROM" not in other.tests
    assert "TO_MATCH_ENVRCPT_ALL" not in other.tests


async def test_null_sender_and_tenant_as_user(make: Callable[..., RspamdClassifier]) -> None:
    # A bounce relayed by a connector-attributed server: no AUTH user, so the tenant is the user,
    # which makes Rspamd scan it as outbound mail.
    reply = await make().scan(info(message(), sender="", auth_user=None, tenant="acme"))
    assert "from=" in envelope(reply)
    assert "user=acme" in envelope(reply)
    assert "HFILTER_HOSTNAME_UNKNOWN" not in reply["symbols"]  # inbound-only checks are skipped


async def test_settings_id_selects_an_outbound_ruleset(make: Callable[..., RspamdClassifier]) -> None:
    without = await make().classify(info(message()))
    assert "OG_OUTBOUND_SETTINGS" not in without.tests
    with_id = await make(rspamd_settings_id=SETTINGS_ID).classify(info(message()))
    assert "OG_OUTBOUND_SETTINGS" in with_id.tests


async def test_bulk_symbols_give_the_bulk_level(make: Callable[..., RspamdClassifier]) -> None:
    verdict = await make().classify(
        info(message(headers=NEWSLETTER_HEADERS, sender="ACME News <news@acme.example>"))
    )
    fired = set(verdict.tests) & set(BULK_SYMBOLS)
    assert {"HAS_LIST_UNSUB", "MAILLIST", "PRECEDENCE_BULK"} <= fired
    assert verdict.bulk_level == min(9, sum(BULK_SYMBOLS[s] for s in fired)) >= 7
    assert verdict.bulk and not verdict.spam
    assert verdict.detection == BULK


async def test_tests_are_ordered_by_score(make: Callable[..., RspamdClassifier]) -> None:
    classifier = make()
    reply = await classifier.scan(info(message(text=PLAIN_BUSINESS), auth_user=None, tenant=""))
    verdict = classifier.verdict(reply)
    scores = [reply["symbols"][t]["score"] for t in verdict.tests]
    assert scores == sorted(scores, reverse=True)
    assert set(verdict.tests) == set(reply["symbols"])
    assert verdict.score == reply["score"]


def assert_failure(verdict: Verdict, fail: str, why: str) -> None:
    assert verdict.error is not None and why in verdict.error, verdict.error
    assert verdict.spam is (fail == "closed")
    assert verdict.tests == (CLASSIFIER_UNAVAILABLE,)
    assert verdict.classifier == "rspamd" and verdict.bulk_level == 0


@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_unreachable_rspamd_follows_the_fail_mode(fail: str) -> None:
    classifier = RspamdClassifier(SpamSettings(rspamd_url=f"http://127.0.0.1:{free_port()}", fail=fail))
    try:
        assert_failure(await classifier.classify(info(message())), fail, "cannot reach")
    finally:
        await classifier.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_silent_rspamd_times_out_into_the_fail_mode(fail: str, silent_port: int) -> None:
    settings = SpamSettings(
        rspamd_url=f"http://127.0.0.1:{silent_port}", rspamd_timeout=timedelta(milliseconds=200), fail=fail
    )
    classifier = RspamdClassifier(settings)
    try:
        assert_failure(await classifier.classify(info(message())), fail, "no answer")
    finally:
        await classifier.close()


@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_http_error_from_rspamd_follows_the_fail_mode(
    rspamd: RspamdProcess, make: Callable[..., RspamdClassifier], fail: str
) -> None:
    # A wrong path on a real Rspamd: it answers, with an HTTP error instead of a verdict.
    verdict = await make(rspamd_url=f"{rspamd.url}/no/such/path", fail=fail).classify(info(message()))
    assert_failure(verdict, fail, "HTTP 500")
    assert verdict.error is not None and "invalid command" in verdict.error  # Rspamd's own words


async def test_classifier_reconnects_after_rspamd_restarts(tmp_path: Path) -> None:
    process = RspamdProcess(tmp_path / "rspamd")
    try:
        process.start()
    except RspamdUnavailable as e:
        service_unavailable("rspamd", e)
    classifier = RspamdClassifier(SpamSettings(rspamd_url=process.url))
    try:
        await classifier.start()
        assert (await classifier.classify(info(message()))).error is None
        process.stop()
        assert (await classifier.classify(info(message()))).error is not None  # fail open
        process.start()
        assert (await classifier.classify(info(message()))).error is None  # the pool reconnects
    finally:
        await classifier.close()
        process.stop()
