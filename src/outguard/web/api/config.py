"""A tenant's configuration: accepted domains, connectors, mailboxes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from outguard.web.api.schemas import ConnectorCreate, DomainCreate, MailboxCreate, Password
from outguard.web.deps import ServicesDep
from outguard.web.paging import PagingDep, page

router = APIRouter()


@router.get("/tenants/{name}/domains", tags=["domains"])
def list_domains(svc: ServicesDep, name: str, paging: PagingDep) -> dict[str, Any]:
    """Accepted domains, each with the DNS TXT record that verifies it."""
    return page(svc.domains.list(name), paging)


@router.post("/tenants/{name}/domains", status_code=201, tags=["domains"])
def add_domain(svc: ServicesDep, name: str, body: DomainCreate) -> dict[str, Any]:
    """Add an accepted domain; publish its `txt_record`, then call verify."""
    return svc.domains.add(name, body.domain, verified=body.verified)


@router.post("/tenants/{name}/domains/{domain}/verify", tags=["domains"])
def verify_domain(svc: ServicesDep, name: str, domain: str) -> dict[str, Any]:
    """Look the verification TXT record up in DNS (404 with what was seen when it is missing)."""
    return svc.domains.verify(name, domain)


@router.delete("/tenants/{name}/domains/{domain}", status_code=204, tags=["domains"])
def remove_domain(svc: ServicesDep, name: str, domain: str) -> Response:
    svc.domains.remove(name, domain)
    return Response(status_code=204)


@router.get("/tenants/{name}/connectors", tags=["connectors"])
def list_connectors(svc: ServicesDep, name: str, paging: PagingDep) -> dict[str, Any]:
    return page(svc.connectors.list(name), paging)


@router.post("/tenants/{name}/connectors", status_code=201, tags=["connectors"])
def add_connector(svc: ServicesDep, name: str, body: ConnectorCreate) -> dict[str, Any]:
    """An IP connector (`ips`: IPv4 CIDRs) or a certificate connector (`cert_domain`)."""
    return svc.connectors.add(name, body.name, ips=body.ips, cert_domain=body.cert_domain)


@router.delete("/tenants/{name}/connectors/{connector}", status_code=204, tags=["connectors"])
def remove_connector(svc: ServicesDep, name: str, connector: str) -> Response:
    svc.connectors.remove(name, connector)
    return Response(status_code=204)


@router.get("/tenants/{name}/mailboxes", tags=["mailboxes"])
def list_mailboxes(svc: ServicesDep, name: str, paging: PagingDep) -> dict[str, Any]:
    """SMTP AUTH logins of the tenant (never their passwords)."""
    return page(svc.mailboxes.list(name), paging)


@router.post("/tenants/{name}/mailboxes", status_code=201, tags=["mailboxes"])
def add_mailbox(svc: ServicesDep, name: str, body: MailboxCreate) -> dict[str, Any]:
    return svc.mailboxes.add(name, body.address, body.password)


@router.put("/tenants/{name}/mailboxes/{address}/password", status_code=204, tags=["mailboxes"])
def set_mailbox_password(svc: ServicesDep, name: str, address: str, body: Password) -> Response:
    svc.mailboxes.set_password(name, address, body.password)
    return Response(status_code=204)


@router.delete("/tenants/{name}/mailboxes/{address}", status_code=204, tags=["mailboxes"])
def remove_mailbox(svc: ServicesDep, name: str, address: str) -> Response:
    svc.mailboxes.remove(name, address)
    return Response(status_code=204)
