"""Reading the gateway's DSNs the way the rest of the world does: the `email` package, Sisimai, flufl.bounce.

Sisimai is the Perl library (Debian `libsisimai-perl`), driven through `perl -MSisimai`; flufl.bounce
is a dev dependency. Both are independent of Outguard's own code, so they check the NDR format.
"""

from __future__ import annotations

import email
import email.policy
import functools
import json
import shutil
import subprocess
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from flufl.bounce import all_failures


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


@functools.cache
def _sisimai_version() -> str | None:
    if shutil.which("perl") is None:
        return None
    done = subprocess.run(
        ["perl", "-MSisimai", "-e", "print Sisimai->version"], capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip() if done.returncode == 0 else None


def sisimai(data: bytes, tmp: Path) -> list[dict[str, Any]]:
    """Sisimai's reading of one bounce message: `Sisimai->dump` as JSON (one object per recipient)."""
    from tests.conftest import service_unavailable

    if _sisimai_version() is None:
        service_unavailable("libsisimai-perl", "perl -MSisimai fails (apt-get install libsisimai-perl)")
    path = tmp / "bounce.eml"
    path.write_bytes(data)
    done = subprocess.run(
        ["perl", "-MSisimai", "-e", "print Sisimai->dump($ARGV[0])", str(path)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout or b"[]")


def flufl_failures(data: bytes) -> tuple[set[str], set[str]]:
    """flufl.bounce's reading: (temporary, permanent) failure addresses."""
    temporary, permanent = all_failures(email.message_from_bytes(data))
    return {a.decode() for a in temporary}, {a.decode() for a in permanent}


def dsn_fields(report: Message) -> tuple[Message, list[Message]]:
    """The per-message block and the per-recipient blocks of a report's message/delivery-status part."""
    [status] = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"]
    blocks = status.get_payload()
    assert isinstance(blocks, list)
    return blocks[0], blocks[1:]
