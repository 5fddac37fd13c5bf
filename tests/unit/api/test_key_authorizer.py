"""The Lambda authorizer: the key of the route family's header, found, handed to API Gateway."""

from __future__ import annotations

import pytest

from batchrelay.api.key_authorizer import UNKNOWN_PRINCIPAL, authorize, presented_key, stage_resources
from batchrelay.aws.api_keys import ApiKey, KeyDirectory

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/openai/v1/batches"


def event(path: str, headers: dict[str, str]) -> dict:
    return {"type": "REQUEST", "methodArn": ARN, "path": path, "headers": headers}


def directory(*keys: ApiKey) -> KeyDirectory:
    return KeyDirectory(load=lambda: iter(keys))


def test_each_route_family_reads_its_own_header():
    assert presented_key(event("/v1/jobs", {"X-API-Key": " k1 "})) == "k1"
    assert presented_key(event("/anthropic/v1/messages/batches", {"x-api-key": "k1"})) == "k1"
    # The anthropic SDK sends x-api-key up to 0.x and Authorization: Bearer from 2.x: either, x-api-key first
    assert presented_key(event("/anthropic/v1/messages/batches", {"Authorization": "Bearer k2"})) == "k2"
    assert presented_key(event("/anthropic/v1/messages/batches", {"x-api-key": "k1", "Authorization": "Bearer k2"})) \
        == "k1"
    assert presented_key(event("/openai/v1/files", {"authorization": "Bearer k1"})) == "k1"
    assert presented_key(event("/openai/v1/files", {"Authorization": "bearer   k1"})) == "k1"
    # Not the other family's header, not a token of another scheme, nothing outside the families
    assert presented_key(event("/openai/v1/files", {"x-api-key": "k1"})) is None
    assert presented_key(event("/v1/jobs", {"Authorization": "Bearer k1"})) is None
    assert presented_key(event("/openai/v1/files", {"Authorization": "Basic k1"})) is None
    assert presented_key(event("/openai/v1/files", {"Authorization": "Bearer "})) is None
    assert presented_key(event("/v2/jobs", {"x-api-key": "k1"})) is None


def test_a_known_key_is_returned_as_the_usage_identifier_with_its_id_as_principal():
    answer = authorize(event("/openai/v1/batches", {"Authorization": "Bearer value-1"}),
                       directory(ApiKey("id1", "value-1", True)))
    assert answer["principalId"] == "id1" and answer["context"] == {"tenantId": "id1"}
    assert answer["usageIdentifierKey"] == "value-1"
    # The policy allows the whole stage: API Gateway caches it for every route of the family
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"}
    assert stage_resources(ARN) == statement["Resource"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer value-2"}])
def test_unknown_disabled_or_missing_keys_are_denied_without_failing(headers):
    # A Deny, not an exception: a wrong key is no failed invocation (the function's errors alarm)
    keys = directory(ApiKey("id1", "value-1", True), ApiKey("id2", "value-2", False))
    answer = authorize(event("/openai/v1/batches", headers), keys)
    assert answer["principalId"] == UNKNOWN_PRINCIPAL and "usageIdentifierKey" not in answer
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Resource"] == stage_resources(ARN)


def test_the_directory_reads_keys_once_a_minute_and_again_for_an_unknown_one_at_most_every_few_seconds():
    now = [0.0]
    keys = [ApiKey("id1", "v1", True)]
    found = KeyDirectory(load=lambda: iter(list(keys)), ttl_seconds=60, miss_refresh_seconds=5, clock=lambda: now[0])
    assert found.find("v1").key_id == "id1" and found.loads == 1
    keys.append(ApiKey("id2", "v2", True))                 # a key created meanwhile
    now[0] = 2.0
    assert found.find("v2") is None and found.loads == 1   # not yet: a miss reads again only every 5 s
    now[0] = 6.0
    assert found.find("v2").key_id == "id2" and found.loads == 2
    assert found.find("nope") is None and found.loads == 2  # misses cannot hammer the API
    now[0] = 70.0
    assert found.find("v1") is not None and found.loads == 3   # a minute on: read again
