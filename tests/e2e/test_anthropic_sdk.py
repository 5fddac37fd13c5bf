"""The official anthropic SDK, unmodified but for base_url and api_key, against the local stack:
every flow of the drop-in Anthropic surface (``client.messages.batches``).

The client is built with ``_strict_response_validation=True``; every answer of the api function
on the surface is also validated against the SDK's own models, and every results line too
(the SDK only constructs those), in tests/support/anthropic_surface.py.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from batchrelay import constants as c
from batchrelay import registry
from tests.e2e.sdk_stack import TENANT_A_KEY, TENANT_B_KEY, sim_config, start_sdk_stack
from tests.support.anthropic_surface import validate_answer, validate_result_line

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Anthropic's batches hold at most this many requests here: a bigger message batch is split
# into several provider batches and still answers as one.
PROVIDER_BATCH_LIMIT = 1000


@pytest.fixture(scope="module")
def stack():
    limit_env = registry.spec("anthropic").max_requests_env
    saved = os.environ.get(limit_env)
    os.environ[limit_env] = str(PROVIDER_BATCH_LIMIT)
    stack, invoke = start_sdk_stack(c.ANTHROPIC_PREFIX)
    stack.recorded = invoke
    sim_config(stack, failure_rules=[{"pattern": "^bad-", "kind": "permanent"}])
    try:
        yield stack
    finally:
        stack.stop()
        if saved is None:
            os.environ.pop(limit_env, None)
        else:
            os.environ[limit_env] = saved


def _client(stack, key: str = TENANT_A_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.url + "/anthropic", api_key=key, _strict_response_validation=True)


@pytest.fixture
def client(stack) -> Iterator[anthropic.Anthropic]:
    stack.recorded.take()
    with _client(stack) as sdk:
        yield sdk
    for answer in stack.recorded.take():
        validate_answer(answer.method, answer.path, answer.status, answer.body)


def requests(prefix: str, count: int) -> list[dict]:
    return [{"custom_id": f"{prefix}-{i}", "params": {"model": "claude-haiku-4-5", "max_tokens": 32,
                                                      "messages": [{"role": "user", "content": f"say {i}"}]}}
            for i in range(count)]


def wait(client: anthropic.Anthropic, batch_id: str, *, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        assert time.monotonic() < deadline, f"{batch_id} stuck at {batch.processing_status}"
        time.sleep(0.5)


def test_a_message_batch_from_create_to_results_to_delete(stack, client):
    batch = client.messages.batches.create(requests=requests("ok", 5) + requests("bad", 2))
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 7
    assert batch.expires_at > batch.created_at

    batch = wait(client, batch.id)

    counts = batch.request_counts
    assert (counts.succeeded, counts.errored, counts.processing) == (5, 2, 0)
    assert batch.ended_at >= batch.created_at and batch.results_url.startswith(stack.url + "/anthropic/v1/")
    results = {}
    for result in client.messages.batches.results(batch.id):
        validate_result_line(result.model_dump(mode="json", exclude_unset=True))
        results[result.custom_id] = result.result
    assert {cid for cid, r in results.items() if r.type == "succeeded"} == {f"ok-{i}" for i in range(5)}
    assert {cid for cid, r in results.items() if r.type == "errored"} == {"bad-0", "bad-1"}
    assert results["ok-0"].message.content and results["bad-0"].error.error.type == "invalid_request_error"
    # The same batch as a batchrelay job: the full view
    job = httpx.get(f"{stack.url}/v1/jobs/{batch.id}", headers={"x-api-key": TENANT_A_KEY}).json()
    assert job["provider"] == "anthropic" and job["counts"]["succeeded"] == 5

    deleted = client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_results_are_raw_jsonl_in_anthropics_shape_every_line_valid(stack, client):
    batch = wait(client, client.messages.batches.create(requests=requests("raw", 3)).id)
    # What the SDK streams: follow results_url as it does (a redirect to S3), line by line
    response = httpx.get(batch.results_url, headers={"x-api-key": TENANT_A_KEY}, follow_redirects=True)
    lines = [json.loads(line) for line in response.content.splitlines() if line.strip()]
    assert len(lines) == 3
    for line in lines:
        validate_result_line(line)


def test_list_pages_walk_every_batch_newest_first(client):
    created = [client.messages.batches.create(requests=requests(f"list{i}", 1)).id for i in range(3)]
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == created[::-1][:2] and page.has_more is True
    walked = [b.id for b in client.messages.batches.list(limit=2)]   # the SDK pages with after_id
    assert walked[:3] == created[::-1] and len(walked) == len(set(walked))
    newer = client.messages.batches.list(limit=5, before_id=created[0])
    assert [b.id for b in newer.data] == [created[2], created[1]]


def test_a_running_batch_is_canceled(stack, client):
    sim_config(stack, processing_seconds=30)
    try:
        batch = client.messages.batches.create(requests=requests("cancel", 3))
        deadline = time.monotonic() + 60
        while not httpx.get(f"{stack.url}/v1/jobs/{batch.id}", headers={"x-api-key": TENANT_A_KEY}).json()[
                "status"] == "in_progress":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        canceling = client.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at
        batch = wait(client, batch.id)
    finally:
        sim_config(stack, processing_seconds=1.0)
    assert batch.request_counts.canceled == 3
    assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}


def test_more_requests_than_a_provider_batch_holds_are_one_message_batch(stack, client):
    count = 2 * PROVIDER_BATCH_LIMIT + 500
    batch = wait(client, client.messages.batches.create(requests=requests("many", count)).id, timeout=300)
    assert batch.request_counts.succeeded == count
    job = httpx.get(f"{stack.url}/v1/jobs/{batch.id}", headers={"x-api-key": TENANT_A_KEY}).json()
    assert len([ch for ch in job["chunks"] if ch["attempt"] == 1]) == 3
    assert sum(1 for _ in client.messages.batches.results(batch.id)) == count


def test_an_oversized_create_is_413_request_too_large(client):
    big = requests("big", 1)
    big[0]["params"]["messages"][0]["content"] = "x" * (7 * 1024 * 1024)
    with pytest.raises(anthropic.APIStatusError) as refused:
        client.messages.batches.create(requests=big)
    assert refused.value.status_code == 413
    body = refused.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large"
    assert "10 MB" in body["error"]["message"] and "6 MB" in body["error"]["message"]


def test_another_tenants_batch_is_not_found(stack, client):
    batch = client.messages.batches.create(requests=requests("tenant", 1))
    with _client(stack, TENANT_B_KEY) as other:
        for call in (lambda: other.messages.batches.retrieve(batch.id),
                     lambda: other.messages.batches.cancel(batch.id),
                     lambda: other.messages.batches.delete(batch.id)):
            with pytest.raises(anthropic.NotFoundError):
                call()
        assert batch.id not in [b.id for b in other.messages.batches.list()]


def test_a_wrong_key_is_401_in_anthropics_shape(stack, client):
    with _client(stack, "sdk-wrong-key-0123456789abcdef") as wrong, \
            pytest.raises(anthropic.AuthenticationError) as refused:
        wrong.messages.batches.list()
    body = refused.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


def test_the_key_as_x_api_key_works_as_older_sdks_send_it(stack, client):
    batch = client.messages.batches.create(requests=requests("header", 1))
    answer = httpx.get(f"{stack.url}/anthropic/v1/messages/batches/{batch.id}",
                       headers={"x-api-key": TENANT_A_KEY, "anthropic-version": "2023-06-01"})
    assert answer.status_code == 200 and answer.json()["id"] == batch.id
