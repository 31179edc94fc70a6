"""Reading the audit log (writing it is `ServiceBase.audit`, inside each change's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from outguard.model import AuditEntry
from outguard.services.base import ServiceBase
from outguard.util import isoformat


def audit_view(a: AuditEntry) -> dict[str, Any]:
    return {
        "at": isoformat(a.at),
        "actor": a.actor,
        "tenant": a.tenant_name,
        "action": a.action,
        "target": a.target,
        "reason": a.reason,
        "before": a.before,
        "after": a.after,
    }


class AuditService(ServiceBase):
    def list(
        self,
        *,
        tenant: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(AuditEntry)
            if tenant:
                t = self.tenant(s, tenant)
                q = q.where(AuditEntry.tenant_id == t.id)
            if action:
                q = q.where(AuditEntry.action.like(f"{action}%"))
            if since:
                q = q.where(AuditEntry.at >= since)
            return [audit_view(a) for a in s.scalars(q.order_by(AuditEntry.id.desc()).limit(limit))]
