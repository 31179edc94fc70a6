"""The admin services: every management operation, with validation, authorisation and audit.

The CLI and the web API both call these; a rule such as "only an operator unblocks a tenant, and
only with a reason" is written once here.
"""

from __future__ import annotations

from outguard.config import Settings
from outguard.services.abuse import AlertService, DelistingService, RestrictedService
from outguard.services.apikeys import ApiKeyService
from outguard.services.audit import AuditService
from outguard.services.base import Actor
from outguard.services.connectors import ConnectorService
from outguard.services.domains import DomainService
from outguard.services.mailboxes import MailboxService
from outguard.services.reports import ReportService
from outguard.services.reputation import IpExceptionService, ReputationService
from outguard.services.tabl import TablService
from outguard.services.tenants import TenantService
from outguard.services.trace import TraceService
from outguard.store import Database


class Services:
    """All services for one actor."""

    def __init__(self, db: Database, settings: Settings, actor: Actor) -> None:
        args = (db, settings, actor)
        self.actor = actor
        self.tenants = TenantService(*args)
        self.domains = DomainService(*args)
        self.connectors = ConnectorService(*args)
        self.mailboxes = MailboxService(*args)
        self.tabl = TablService(*args)
        self.reputation = ReputationService(*args)
        self.ip_exceptions = IpExceptionService(*args)
        self.apikeys = ApiKeyService(*args)
        self.audit = AuditService(*args)
        self.trace = TraceService(*args)
        self.restricted = RestrictedService(*args)
        self.delisting = DelistingService(*args)
        self.alerts = AlertService(*args)
        self.reports = ReportService(*args)


__all__ = ["Actor", "Services"]
