"""Fixtures of the API tests (helpers: tests/support/api_client.py)."""

from __future__ import annotations

import pytest

from tests.support.api_client import ApiClient


@pytest.fixture
def api(aws) -> ApiClient:
    return ApiClient()
