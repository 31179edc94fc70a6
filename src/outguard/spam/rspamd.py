"""Rspamd as the classifier, over its HTTP protocol: `POST {rspamd_url}/checkv2`.

The request (Rspamd "protocol" page): the raw message as the body, the envelope in headers —
`From` (the envelope sender, `<>` for the null sender), one `Rcpt` per recipient, `IP`, `Helo`,
`Queue-Id`, and `User`. Outguard scans only attributed mail, so every message is outbound: `User`
names the SMTP AUTH user, or else the tenant (attributed by certificate or IP connector), which
makes Rspamd apply its outbound behaviour (no SPF, DMARC, greylisting or client RBLs; Rspamd's
"Scanning outbound mail"). `[spam] rspamd_settings_id` is sent as `Settings-ID` to select an
outbound ruleset defined in Rspamd.

The reply mapping:

| Rspamd `action`                           | spam  |
|-------------------------------------------|-------|
| `reject`, `add header`, `rewrite subject` | yes   |
| `no action`, `greylist`, `soft reject`    | no    |

Greylisting and soft rejects are temporary deferrals (rate limits, greylisting) that say nothing
about the content. `score` is Rspamd's score; `symbols` become `tests`, strongest score first. The
bulk level is the sum of the points of the bulk-related symbols that fired, capped at 9 (0 when
none did):

| symbol                                   | points | what Rspamd says                          |
|------------------------------------------|-------:|-------------------------------------------|
| DCC_BULK                                 |      5 | DCC saw the body sent in bulk             |
| MAILLIST                                 |      3 | mailing-list software (maillist plugin)   |
| HAS_LIST_UNSUB                           |      3 | a List-Unsubscribe header                 |
| BULK_* (site rules)                      |      3 | a local rule named for bulk mail          |
| PRECEDENCE_BULK                          |      2 | Precedence: bulk                          |
| ENVFROM_VERP                             |      2 | a VERP envelope sender (bulk mailers)     |
| RCPT_COUNT_GT_50                         |      2 | more than 50 visible recipients           |

Network errors, timeouts, HTTP errors and unreadable replies never raise out of `classify`: they
give `failure_verdict` under `[spam] fail`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from outguard.config import SpamSettings
from outguard.spam import MessageInfo, Verdict, detection_of, failure_verdict

log = logging.getLogger(__name__)

SPAM_ACTIONS = frozenset({"reject", "add header", "rewrite subject"})
NOT_SPAM_ACTIONS = frozenset({"no action", "greylist", "soft reject"})
BULK_SYMBOLS: dict[str, int] = {
    "DCC_BULK": 5,
    "MAILLIST": 3,
    "HAS_LIST_UNSUB": 3,
    "PRECEDENCE_BULK": 2,
    "ENVFROM_VERP": 2,
    "RCPT_COUNT_GT_50": 2,
}
BULK_PREFIX = "BULK_"
BULK_PREFIX_POINTS = 3


class RspamdError(Exception):
    """Rspamd could not be asked, or its answer could not be read."""


def _value(text: str) -> bytes:
    # Header values go out as UTF-8 (SMTPUTF8 addresses); line breaks would forge more headers.
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8")


def bulk_level(symbols: Mapping[str, Any]) -> int:
    """The bulk level (0-9) from the bulk-related symbols that fired (table in the module doc)."""
    points = 0
    for name in symbols:
        points += BULK_SYMBOLS.get(name, BULK_PREFIX_POINTS if name.startswith(BULK_PREFIX) else 0)
    return min(9, points)


class RspamdClassifier:
    """Asks Rspamd; one persistent HTTP connection pool per classifier."""

    name = "rspamd"

    def __init__(self, settings: SpamSettings) -> None:
        self.settings = settings
        self.url = f"{settings.rspamd_url.rstrip('/')}/checkv2"
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.rspamd_timeout.total_seconds()),
                headers={"User-Agent": "outguard"},
                trust_env=False,  # a local service: never through an HTTP proxy from the environment
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def request_headers(self, msg: MessageInfo) -> list[tuple[bytes, bytes]]:
        """Rspamd's protocol headers for this message's envelope."""
        headers = [(b"From", _value(msg.sender) if msg.sender else b"<>")]
        headers += [(b"Rcpt", _value(r)) for r in msg.recipients]
        if msg.client_ip:
            headers.append((b"IP", _value(msg.client_ip)))
        if msg.helo:
            headers.append((b"Helo", _value(msg.helo)))
        if msg.queue_id:
            headers.append((b"Queue-Id", _value(msg.queue_id)))
        user = msg.auth_user or msg.tenant
        if user:
            headers.append((b"User", _value(user)))
        if self.settings.rspamd_settings_id:
            headers.append((b"Settings-ID", _value(self.settings.rspamd_settings_id)))
        return headers

    async def scan(self, msg: MessageInfo) -> dict[str, Any]:
        """Rspamd's reply for this message, as parsed JSON; raises RspamdError."""
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            response = await self._client.post(
                self.url, content=msg.content, headers=self.request_headers(msg)
            )
        except httpx.TimeoutException as e:
            raise RspamdError(
                f"rspamd: no answer from {self.url} within "
                f"{self.settings.rspamd_timeout.total_seconds():g}s ({type(e).__name__})"
            ) from e
        except httpx.HTTPError as e:
            raise RspamdError(f"rspamd: cannot reach {self.url}: {type(e).__name__}: {e}") from e
        if response.status_code != 200:
            raise RspamdError(f"rspamd: HTTP {response.status_code} from {self.url}: {response.text[:200]}")
        try:
            reply = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RspamdError(f"rspamd: unreadable reply from {self.url}: {e}") from e
        if not isinstance(reply, dict) or reply.get("action") not in SPAM_ACTIONS | NOT_SPAM_ACTIONS:
            raise RspamdError(f"rspamd: unexpected reply from {self.url}: {str(reply)[:200]}")
        return reply

    async def classify(self, msg: MessageInfo) -> Verdict:
        try:
            return self.verdict(await self.scan(msg))
        except RspamdError as e:
            log.warning("%s (queue id %s; fail %s)", e, msg.queue_id, self.settings.fail)
            return failure_verdict(self.name, self.settings.fail, str(e))
        except Exception as e:  # anything unforeseen in the reply: the fail mode decides as well
            log.exception("rspamd classification failed for %s", msg.queue_id)
            return failure_verdict(self.name, self.settings.fail, f"rspamd: {e!r}")

    def verdict(self, reply: Mapping[str, Any]) -> Verdict:
        """Map a `/checkv2` reply to a verdict (tables in the module docstring)."""
        raw = reply.get("symbols") or {}
        symbols: dict[str, float] = {}
        for name, sym in raw.items():
            score = sym.get("score", 0.0) if isinstance(sym, Mapping) else 0.0
            symbols[str(name)] = float(score or 0.0)
        tests = tuple(sorted(symbols, key=lambda n: (-symbols[n], n)))
        spam = reply["action"] in SPAM_ACTIONS
        level = bulk_level(symbols)
        is_bulk = level >= self.settings.bulk_threshold
        return Verdict(
            spam=spam,
            score=float(reply.get("score") or 0.0),
            bulk_level=level,
            tests=tests,
            classifier=self.name,
            bulk=is_bulk,
            detection=detection_of(spam, is_bulk, symbols.items()),
        )
