"""Writing trace rows directly, for tests of the aggregations (spam verdicts, old days, volumes
that would take too long to send). End-to-end tests send real mail instead."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from outguard.model import TraceMessage, TraceRecipient
from outguard.store import Database
from outguard.util import utcnow

_ids = itertools.count(1)


def add_message(
    db: Database,
    *,
    tenant: tuple[int, str] | None,
    recipients: tuple[tuple[Any, ...], ...] = (),
    at: datetime | None = None,
    ago: timedelta | None = None,
    attempts: int = 1,
    **fields: Any,
) -> str:
    """One traced message with its recipients: (address, status, code[, attempts]). Returns the queue id.

    Recipients of a message refused during the dialogue (`refused_stage`) have 0 attempts.
    """
    queue_id = f"T{next(_ids):011d}"
    received = at or (utcnow() - (ago or timedelta(minutes=5)))
    with db.session() as s:
        s.add(
            TraceMessage(
                queue_id=queue_id,
                message_id=fields.pop("message_id", f"<{queue_id}@test>"),
                tenant_id=tenant[0] if tenant else None,
                tenant_name=tenant[1] if tenant else None,
                received=received,
                sender=fields.pop("sender", "alice@acme.example"),
                subject=fields.pop("subject", "hello"),
                rule_hits=fields.pop("rule_hits", []),
                rule_misses=fields.pop("rule_misses", []),
                spam_tests=fields.pop("spam_tests", []),
                **fields,
            )
        )
        for address, status, code, *tries in recipients:
            s.add(
                TraceRecipient(
                    queue_id=queue_id,
                    tenant_id=tenant[0] if tenant else None,
                    recipient=address,
                    status=status,
                    code=code,
                    detail=None,
                    attempts=tries[0] if tries else (0 if fields.get("refused_stage") else attempts),
                    updated=received,
                )
            )
        # Like the gateway, no "received" event row: the detail view builds it from the message row.
    return queue_id
