"""`/api/v1`: JSON over the same services as the CLI, authenticated with bearer API keys."""

from __future__ import annotations

from fastapi import APIRouter

from outguard.web.api import abuse, access, config, ips, reference, reports, tabl, tenants, trace

router = APIRouter(prefix="/api/v1")
for module in (tenants, config, tabl, ips, abuse, access, trace, reports, reference):
    router.include_router(module.router)

__all__ = ["router"]
