"""Every API route is called by some test (this module runs after the other test_api_* modules)."""

from __future__ import annotations

import pytest

from tests.web.conftest import ROUTES_SEEN, api_routes


def test_every_api_route_is_tested(app) -> None:
    if len(ROUTES_SEEN) < 10:
        pytest.skip("only a part of the web tests ran")
    untested = sorted(api_routes(app) - ROUTES_SEEN)
    assert untested == [], f"API routes no test calls: {untested}"
