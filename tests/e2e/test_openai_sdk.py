"""The official openai SDK, unmodified but for base_url and api_key, against the local stack:
every flow of the drop-in OpenAI surface, and every answer held to OpenAI's published schema.

The client is built with ``_strict_response_validation=True``: the SDK itself refuses an answer
that does not parse as its models. Every answer of the api function on the surface is also
validated against the schemas of OpenAI's OpenAPI description (tests/support/openai_schema.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from batchrelay import constants as c
from tests.e2e.sdk_stack import TENANT_A_KEY, TENANT_B_KEY, start_sdk_stack
from tests.support.openai_schema import schema_for, validate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FINAL = {"completed", "failed", "expired", "cancelled"}
# The simulator fails every request whose custom_id starts "bad-" (a 400), and 5% of the others
# once (a 500): batchrelay retries those as new batches, so they still succeed.
FAILURES = [{"pattern": "^bad-", "kind": "permanent"},
            {"fraction": 0.05, "kind": "retryable", "first_attempt_only": True}]


@pytest.fixture(scope="module")
def stack():
    stack, invoke = start_sdk_stack(c.OPENAI_PREFIX)
    stack.recorded = invoke
    from tests.e2e.sdk_stack import sim_config

    sim_config(stack, failure_rules=FAILURES)
    try:
        yield stack
    finally:
        stack.stop()


def _client(stack, key: str = TENANT_A_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.url + c.OPENAI_PREFIX, api_key=key, _strict_response_validation=True)


@pytest.fixture
def client(stack) -> Iterator[openai.OpenAI]:
    stack.recorded.take()
    with _client(stack) as sdk:
        yield sdk
    # Then every answer the surface gave in the test is what OpenAI's description says it is
    for answer in stack.recorded.take():
        schema = schema_for(answer.method, answer.path, answer.status)
        if schema is not None:
            validate(schema, answer.body)


def lines(prefix: str, count: int, *, start: int = 0) -> list[dict]:
    return [{"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": "gpt-4o-mini", "max_tokens": 16, "messages": [{"role": "user", "content": f"say {i}"}]}}
            for i in range(start, start + count)]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def wait(client: openai.OpenAI, batch_id: str, *, timeout: float = 120, until=FINAL):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in until:
            return batch
        assert time.monotonic() < deadline, f"{batch_id} stuck at {batch.status}"
        time.sleep(0.5)


def file_lines(client: openai.OpenAI, file_id: str) -> list[dict]:
    return [json.loads(line) for line in client.files.content(file_id).content.splitlines() if line.strip()]


def test_a_file_sent_whole_and_one_sent_in_parts_come_back_byte_for_byte(client):
    small = jsonl(lines("whole", 3))
    created = client.files.create(file=("small.jsonl", small), purpose="batch")
    assert created.purpose == "batch" and created.bytes == len(small) and created.status == "processed"
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == small

    # 4 MiB parts: what reaches the api function base64-encoded stays under Lambda's 6 MB
    big = jsonl(lines("parts", 24_000))
    assert len(big) > 4 * 1024 * 1024
    upload = client.uploads.upload_file_chunked(file=big, filename="big.jsonl", bytes=len(big),
                                                mime_type="text/jsonl", purpose="batch", part_size=4 * 1024 * 1024,
                                                md5=hashlib.md5(big).hexdigest())
    assert upload.status == "completed" and upload.file is not None and upload.file.bytes == len(big)
    assert client.files.content(upload.file.id).content == big
    listed = [f.id for f in client.files.list(purpose="batch")]
    assert listed[:2] == [upload.file.id, created.id]   # newest first
    assert client.files.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)


def test_a_file_over_what_one_request_carries_is_refused_pointing_to_uploads(client):
    with pytest.raises(openai.APIStatusError) as refused:
        client.files.create(file=("huge.jsonl", b"x" * (5 * 1024 * 1024)), purpose="batch")
    assert refused.value.status_code == 413
    error = refused.value.response.json()
    validate("ErrorResponse", error)
    assert "/openai/v1/uploads" in error["error"]["message"]


def test_a_batch_runs_to_completed_with_an_output_file_and_a_job_underneath(stack, client):
    records = lines("ok", 40)
    file = client.files.create(file=("in.jsonl", jsonl(records)), purpose="batch")
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"team": "search"})
    assert batch.status == "validating" and batch.request_counts.total == 0

    batch = wait(client, batch.id)

    assert batch.status == "completed" and batch.error_file_id is None and batch.errors is None
    assert batch.request_counts.total == batch.request_counts.completed == 40 and batch.request_counts.failed == 0
    assert batch.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    assert batch.usage.total_tokens > 0 and batch.metadata == {"team": "search"}
    output = file_lines(client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted(r["custom_id"] for r in records)
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in output)
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"
    # The full view of the same batch, as a batchrelay job
    job = httpx.get(f"{stack.url}/v1/jobs/{batch.id}", headers={"x-api-key": TENANT_A_KEY}).json()
    assert job["status"] == "completed" and job["counts"]["succeeded"] == 40 and job["cost"]["saved"]


def test_failures_go_to_the_error_file_and_a_batch_that_only_failed_has_no_output_file(client):
    mixed = client.files.create(file=("m.jsonl", jsonl(lines("ok-mixed", 6) + lines("bad-mixed", 2))),
                                purpose="batch")
    failing = client.files.create(file=("f.jsonl", jsonl(lines("bad-only", 3))), purpose="batch")
    mixed_batch = client.batches.create(input_file_id=mixed.id, endpoint="/v1/chat/completions",
                                        completion_window="24h")
    failing_batch = client.batches.create(input_file_id=failing.id, endpoint="/v1/chat/completions",
                                          completion_window="24h")

    mixed_batch, failing_batch = wait(client, mixed_batch.id), wait(client, failing_batch.id)

    assert mixed_batch.status == "completed"
    assert (mixed_batch.request_counts.completed, mixed_batch.request_counts.failed) == (6, 2)
    assert {line["custom_id"] for line in file_lines(client, mixed_batch.error_file_id)} == {"bad-mixed-0",
                                                                                             "bad-mixed-1"}
    errors = file_lines(client, mixed_batch.error_file_id)
    assert all(line["response"]["status_code"] == 400 and line["response"]["body"]["error"] for line in errors)
    assert len(file_lines(client, mixed_batch.output_file_id)) == 6
    # As at OpenAI: every line failed, so no output file, only the error file
    assert failing_batch.status == "completed" and failing_batch.output_file_id is None
    assert len(file_lines(client, failing_batch.error_file_id)) == 3


def test_a_file_that_fails_validation_fails_the_batch_naming_the_line(client):
    records = lines("val", 4)
    content = jsonl(records[:2]) + b'{"custom_id": "val-x", "method": "POST", "url": "/v1/chat/completions"}\n' \
        + jsonl(records[2:])
    file = client.files.create(file=("bad.jsonl", content), purpose="batch")
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")

    batch = wait(client, batch.id)

    assert batch.status == "failed" and batch.failed_at and batch.output_file_id is None
    (error,) = batch.errors.data
    assert error.line == 3 and error.message and error.code


def test_batches_list_in_pages(client):
    file = client.files.create(file=("l.jsonl", jsonl(lines("list", 1))), purpose="batch")
    created = [client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                     completion_window="24h").id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == created[::-1][:2] and page.has_more is True
    # The SDK's own paging (after = the last id) walks on through every batch, newest first
    walked = [b.id for b in client.batches.list(limit=2)]
    assert walked[:3] == created[::-1] and len(walked) == len(set(walked))


def test_a_running_batch_is_cancelled_and_keeps_what_finished(stack, client):
    from tests.e2e.sdk_stack import sim_config

    sim_config(stack, processing_seconds=30)
    try:
        file = client.files.create(file=("c.jsonl", jsonl(lines("cancel", 5))), purpose="batch")
        batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        wait(client, batch.id, until={"in_progress"}, timeout=60)
        cancelling = client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at
        batch = wait(client, batch.id)
    finally:
        sim_config(stack, processing_seconds=1.0)
    assert batch.status == "cancelled" and batch.cancelled_at
    errors = file_lines(client, batch.error_file_id)
    assert {line["error"]["code"] for line in errors} == {"batch_cancelled"}
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_another_tenants_files_and_batches_are_not_found(stack, client):
    file = client.files.create(file=("t.jsonl", jsonl(lines("tenant", 1))), purpose="batch")
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
    with _client(stack, TENANT_B_KEY) as other:
        for call in (lambda: other.files.retrieve(file.id), lambda: other.files.content(file.id),
                     lambda: other.batches.retrieve(batch.id), lambda: other.batches.cancel(batch.id),
                     lambda: other.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                                  completion_window="24h")):
            with pytest.raises(openai.NotFoundError):
                call()
        assert file.id not in [f.id for f in other.files.list()]


def test_a_wrong_key_is_401_in_openais_shape(stack, client):
    with _client(stack, "sdk-wrong-key-0123456789abcdef") as wrong, pytest.raises(openai.AuthenticationError) as e:
        wrong.batches.list()
    validate("ErrorResponse", e.value.response.json())
    assert e.value.code == "invalid_api_key"


def test_a_provider_that_does_not_exist_is_a_400(client):
    file = client.files.create(file=("p.jsonl", jsonl(lines("prov", 1))), purpose="batch")
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h",
                              extra_headers={c.PROVIDER_HEADER: "no-such-provider"})
    assert refused.value.code == "invalid_provider" and refused.value.param == c.PROVIDER_HEADER


def test_sixty_thousand_requests_in_one_batch(client):
    # More than OpenAI's 50,000 per batch: batchrelay splits it into provider batches
    records = lines("big", 60_000)
    content = jsonl(records)
    upload = client.uploads.upload_file_chunked(file=content, filename="60k.jsonl", bytes=len(content),
                                                mime_type="text/jsonl", purpose="batch", part_size=4 * 1024 * 1024)
    batch = client.batches.create(input_file_id=upload.file.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")

    batch = wait(client, batch.id, timeout=600)

    assert batch.status == "completed" and batch.request_counts.total == 60_000
    assert batch.request_counts.completed == 60_000
    seen = set()
    with client.files.with_streaming_response.content(batch.output_file_id) as response:
        for line in response.iter_lines():
            if line.strip():
                seen.add(json.loads(line)["custom_id"])
    assert len(seen) == 60_000
