"""The web side: `/api/v1` (OpenAPI), the admin portal, `/healthz` and `/metrics`."""

from outguard.web.app import create_app

__all__ = ["create_app"]
