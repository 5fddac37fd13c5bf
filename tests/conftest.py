"""Shared fixtures: AWS on moto (in-process), with the stack's resources created."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Nothing in the tests may reach a real AWS endpoint or account.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "batchrelay")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "batchrelay")
os.environ.setdefault("POWERTOOLS_DEV", "false")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto in-process with the table, bucket, queues and topic; yields the functions' env."""
    from moto import mock_aws

    from batchrelay_tools.caches import reset_container_caches
    from batchrelay_tools.local.resources import create_resources

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        reset_container_caches()
        env = create_resources(prefix="test")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_container_caches()
        yield env
    reset_container_caches()
