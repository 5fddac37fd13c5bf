"""The authorizer function against API Gateway's API keys (moto): what API Gateway receives."""

from __future__ import annotations

import boto3
import pytest

from tests.support.lambda_events import FakeLambdaContext

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/openai/v1/batches"


@pytest.fixture
def keys(aws):
    apigateway = boto3.client("apigateway")
    enabled = apigateway.create_api_key(name="tenant-a", value="tenant-a-key-0123456789", enabled=True)
    disabled = apigateway.create_api_key(name="tenant-b", value="tenant-b-key-0123456789", enabled=False)
    return enabled, disabled


def _call(path: str, headers: dict[str, str]):
    from handlers.authorizer import handler

    return handler({"type": "REQUEST", "methodArn": ARN, "path": path, "headers": headers}, FakeLambdaContext())


def test_a_bearer_key_and_an_x_api_key_find_the_same_key_and_tenant(keys):
    enabled, _ = keys
    by_bearer = _call("/openai/v1/batches", {"Authorization": "Bearer tenant-a-key-0123456789"})
    by_header = _call("/v1/jobs", {"x-api-key": "tenant-a-key-0123456789"})
    for answer in (by_bearer, by_header):
        assert answer["principalId"] == enabled["id"]
        assert answer["usageIdentifierKey"] == "tenant-a-key-0123456789"


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer tenant-b-key-0123456789"},
                                     {"Authorization": "Bearer unknown-key-0123456789"}, {}])
def test_disabled_and_unknown_keys_are_denied(keys, headers):
    answer = _call("/openai/v1/batches", headers)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "usageIdentifierKey" not in answer
