"""A tenant's own configuration pages: allow/block list, accepted domains, connectors, mailboxes,
restricted users. Tenant admins reach only their own tenant (the services see to that); operators
reach every tenant's."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from outguard.errors import InvalidValue, OutguardError
from outguard.web.api.schemas import MAX_BULK_VALUES
from outguard.web.api.tabl import export_rows
from outguard.web.csvio import csv_response, read_tabl_csv
from outguard.web.portal.auth import FormDep, UserDep, attempt, done
from outguard.web.portal.render import page

router = APIRouter()
_SPLIT = re.compile(r"[\s,;]+")


def _values(text: str) -> list[str]:
    return [v for v in _SPLIT.split(text or "") if v]


TITLES = {
    "tabl": "Allow/block list",
    "domains": "Accepted domains",
    "connectors": "Connectors",
    "mailboxes": "Mailboxes",
    "restricted": "Restricted users",
}


def _tenant_context(request: Request, user: UserDep, name: str, nav: str) -> dict:
    request.state.nav = nav
    return {"tenant": user.svc.tenants.show(name), "title": TITLES[nav], "current": nav}


# Allow/block list --------------------------------------------------------------------------------


@router.get("/tenants/{name}/tabl", include_in_schema=False)
def tabl_page(request: Request, user: UserDep, name: str, expired: bool = False) -> Response:
    ctx = _tenant_context(request, user, name, "tabl")
    rows = user.svc.tabl.list(name, include_expired=expired)
    return page(
        request, "tabl.html", {**ctx, "rows": rows, "expired": expired, "max_values": MAX_BULK_VALUES}
    )


@router.post("/tenants/{name}/tabl/add", include_in_schema=False)
def tabl_add(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    target = f"/tenants/{name}/tabl"
    values = _values(str(form.get("values", "")))
    if len(values) > MAX_BULK_VALUES:
        return done(
            request, target, f"add at most {MAX_BULK_VALUES} values at once (got {len(values)})", "error"
        )
    expiry = str(form.get("expiry", "default"))
    kwargs: dict = {}
    try:
        if expiry == "days":
            kwargs["days"] = int(str(form.get("days") or "0"))
        elif expiry == "date":
            kwargs["expires"] = str(form.get("expires") or "") or None
        elif expiry == "never":
            kwargs["no_expiration"] = True
    except ValueError:
        return done(request, target, f"invalid number of days {form.get('days')!r}", "error")
    action = "allow" if form.get("action") == "allow" else "block"
    return attempt(
        request,
        target,
        f"added {len(values)} {action} entr{'y' if len(values) == 1 else 'ies'}: {', '.join(values)}",
        lambda: user.svc.tabl.add(name, values, action=action, notes=str(form.get("notes", "")), **kwargs),
    )


@router.post("/tenants/{name}/tabl/remove", include_in_schema=False)
def tabl_remove(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    value = str(form.get("value", ""))
    action = "allow" if form.get("action") == "allow" else "block"
    return attempt(
        request,
        f"/tenants/{name}/tabl",
        f"removed {action} entry {value}",
        lambda: user.svc.tabl.remove(name, [value], action=action),
    )


@router.post("/tenants/{name}/tabl/import", include_in_schema=False)
async def tabl_import(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile

    upload = form.get("file")
    action = "allow" if form.get("action") == "allow" else "block"
    target = f"/tenants/{name}/tabl"
    try:
        if not isinstance(upload, UploadFile):
            raise InvalidValue("CSV file", "", "choose a file to import")
        rows = read_tabl_csv(await upload.read())
        added = await run_in_threadpool(user.svc.tabl.import_rows, name, rows, action=action)
    except OutguardError as e:
        return done(request, target, f"nothing imported: {e}", "error")
    return done(request, target, f"imported {len(added)} {action} entries")


@router.get("/tenants/{name}/tabl/export.csv", include_in_schema=False)
def tabl_export(user: UserDep, name: str) -> Response:
    return csv_response(export_rows(user.svc.tabl.list(name)), f"tabl-{name}.csv")


# Accepted domains --------------------------------------------------------------------------------


@router.get("/tenants/{name}/domains", include_in_schema=False)
def domains_page(request: Request, user: UserDep, name: str) -> Response:
    ctx = _tenant_context(request, user, name, "domains")
    return page(request, "domains.html", {**ctx, "rows": user.svc.domains.list(name)})


@router.post("/tenants/{name}/domains/add", include_in_schema=False)
def domains_add(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    domain = str(form.get("domain", ""))
    return attempt(
        request,
        f"/tenants/{name}/domains",
        f"added {domain}: publish its TXT record, then press Verify",
        lambda: user.svc.domains.add(name, domain, verified=form.get("verified") == "on"),
    )


@router.post("/tenants/{name}/domains/verify", include_in_schema=False)
def domains_verify(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    domain = str(form.get("domain", ""))
    return attempt(
        request,
        f"/tenants/{name}/domains",
        f"{domain} is verified",
        lambda: user.svc.domains.verify(name, domain),
    )


@router.post("/tenants/{name}/domains/remove", include_in_schema=False)
def domains_remove(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    domain = str(form.get("domain", ""))
    return attempt(
        request,
        f"/tenants/{name}/domains",
        f"removed {domain}",
        lambda: user.svc.domains.remove(name, domain),
    )


# Connectors --------------------------------------------------------------------------------------


@router.get("/tenants/{name}/connectors", include_in_schema=False)
def connectors_page(request: Request, user: UserDep, name: str) -> Response:
    ctx = _tenant_context(request, user, name, "connectors")
    return page(request, "connectors.html", {**ctx, "rows": user.svc.connectors.list(name)})


@router.post("/tenants/{name}/connectors/add", include_in_schema=False)
def connectors_add(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    label = str(form.get("name", ""))
    ips = _values(str(form.get("ips", "")))
    cert = str(form.get("cert_domain", "")).strip() or None
    return attempt(
        request,
        f"/tenants/{name}/connectors",
        f"added connector {label}",
        lambda: user.svc.connectors.add(name, label, ips=ips or None, cert_domain=cert),
    )


@router.post("/tenants/{name}/connectors/remove", include_in_schema=False)
def connectors_remove(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    label = str(form.get("name", ""))
    return attempt(
        request,
        f"/tenants/{name}/connectors",
        f"removed connector {label}",
        lambda: user.svc.connectors.remove(name, label),
    )


# Mailboxes ---------------------------------------------------------------------------------------


@router.get("/tenants/{name}/mailboxes", include_in_schema=False)
def mailboxes_page(request: Request, user: UserDep, name: str) -> Response:
    ctx = _tenant_context(request, user, name, "mailboxes")
    return page(request, "mailboxes.html", {**ctx, "rows": user.svc.mailboxes.list(name)})


@router.post("/tenants/{name}/mailboxes/add", include_in_schema=False)
def mailboxes_add(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    address = str(form.get("address", ""))
    return attempt(
        request,
        f"/tenants/{name}/mailboxes",
        f"added mailbox {address}",
        lambda: user.svc.mailboxes.add(name, address, str(form.get("password", ""))),
    )


@router.post("/tenants/{name}/mailboxes/remove", include_in_schema=False)
def mailboxes_remove(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    address = str(form.get("address", ""))
    return attempt(
        request,
        f"/tenants/{name}/mailboxes",
        f"removed mailbox {address}",
        lambda: user.svc.mailboxes.remove(name, address),
    )


# Restricted users --------------------------------------------------------------------------------


@router.get("/tenants/{name}/restricted", include_in_schema=False)
def restricted_page(request: Request, user: UserDep, name: str) -> Response:
    ctx = _tenant_context(request, user, name, "restricted")
    rows = user.svc.restricted.list(name, include_released=True)
    return page(request, "restricted.html", {**ctx, "rows": rows})


@router.post("/tenants/{name}/restricted/release", include_in_schema=False)
def restricted_release(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    address = str(form.get("address", ""))
    return attempt(
        request,
        f"/tenants/{name}/restricted",
        f"released {address}",
        lambda: user.svc.restricted.release(name, address, reason=str(form.get("reason", ""))),
    )
