"""Fixtures for the web side: the app on the test database, API keys of two tenants and an operator,
and a client that records which API routes the tests called (`test_api_zz_routes` checks all were)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from outguard.services import Services
from outguard.web import create_app

# (method, path template) of every API route some test called, across the session.
ROUTES_SEEN: set[tuple[str, str]] = set()


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every API route, from the app's OpenAPI document."""
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def _patterns(app: FastAPI) -> list[tuple[str, re.Pattern[str], str]]:
    # Literal segments win over parameters ("/tabl/remove" over "/tabl/{value}"), as in the router;
    # a parameter spans slashes ({cidr:path}) only when nothing else matched.
    ordered = sorted(api_routes(app), key=lambda mp: (mp[1].count("{"), mp[1]))
    out = []
    for span in ("[^/]+", ".+"):
        for method, path in ordered:
            out.append((method, re.compile(re.sub(r"\\{[^}]+\\}", span, re.escape(path)) + "$"), path))
    return out


@dataclass
class Api:
    """A real HTTP client for the app, with a named key per call."""

    app: FastAPI
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def _record(self, method: str, path: str) -> None:
        bare = path.split("?", 1)[0]
        for m, pattern, template in _patterns(self.app):
            if m == method.upper() and pattern.match(bare):
                ROUTES_SEEN.add((m, template))
                return

    def call(self, method: str, path: str, key: str | None = "operator", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        self._record(method, path)
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, key: str | None = "operator", **kw: Any) -> Any:
        return self.call("GET", path, key, **kw)

    def post(self, path: str, key: str | None = "operator", **kw: Any) -> Any:
        return self.call("POST", path, key, **kw)

    def patch(self, path: str, key: str | None = "operator", **kw: Any) -> Any:
        return self.call("PATCH", path, key, **kw)

    def put(self, path: str, key: str | None = "operator", **kw: Any) -> Any:
        return self.call("PUT", path, key, **kw)

    def delete(self, path: str, key: str | None = "operator", **kw: Any) -> Any:
        return self.call("DELETE", path, key, **kw)


def error(response: Any, status: int) -> str:
    """Assert the one error format and status; return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


@pytest.fixture
def app(db, settings) -> FastAPI:
    return create_app(settings, db)


@pytest.fixture
def api(app: FastAPI, svc: Services) -> Api:
    """Tenants acme and globex (domain, connector, one block entry each) and keys: operator, acme, globex."""
    client = TestClient(app)
    keys = {"operator": svc.apikeys.create(operator=True, label="test operator")["key"]}
    for i, name in enumerate(("acme", "globex"), 1):
        svc.tenants.add(name)
        svc.domains.add(name, f"{name}.example", verified=True)
        svc.connectors.add(name, "office", ips=[f"192.0.2.{i}"])
        svc.tabl.add(name, [f"bad@{name}-target.example"], notes=f"{name} note")
        keys[name] = svc.apikeys.create(tenant=name, label=f"{name} admin")["key"]
    return Api(app, client, keys)
