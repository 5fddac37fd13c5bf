"""Mistral's request lines, batch jobs and result lines, as Mistral publishes them, parsed by
the mistralai SDK's own models and by the adapter, so that the adapter (and the simulator,
tested against the same models in tests/integration/providers) cannot settle on a shape
Mistral does not use.

Where the fixtures come from:
- REQUEST_LINES: verbatim from Mistral's batch guide (docs.mistral.ai/capabilities/batch;
  mistralai/platform-docs-public, docs/capabilities/batch.md, "Prepare and upload your batch").
- JOB: Mistral publishes no JSON example of a batch job; this one has the fields of the SDK's
  ``BatchJob`` model (mistralai 3.7.0, the API's BatchJobOut) with the guide's values (model
  mistral-small-latest, endpoint /v1/chat/completions, metadata {"job_type": "testing"}).
- Result lines: the envelope is the one ``mistralai.extra.batch`` parses and documents
  ("custom_id/response.body/error on output") and the SDK's example
  examples/mistral/jobs/async_batch_job_chat_completion_inline.py reads
  (``res["response"]["body"]``); the bodies have the fields of the SDK's
  ChatCompletionResponse and EmbeddingResponse, and the error body the shape of Mistral's
  error answers ({"object": "error", "message", "type", "param", "code"}).
"""

from __future__ import annotations

import json

import httpx2
import pytest
from mistralai.client import errors as mistral_errors
from mistralai.client.models import BatchJob, BatchRequest, ChatCompletionResponse, EmbeddingResponse
from mistralai.extra.batch import BatchOutput, BatchRequestError

from batchrelay import registry
from batchrelay.errors import ValidationFailed
from batchrelay.providers.errors import to_provider_error
from batchrelay.providers.mistral_provider import NO_RETRY, MistralProvider, retry_config
from batchrelay.validation.request_rules import job_timeout_hours

provider = MistralProvider(api_key="unused")

REQUEST_LINES = [
    '{"custom_id": "0", "body": {"max_tokens": 100, "messages": [{"role": "user", "content": "What is the best '
    'French cheese?"}]}}',
    '{"custom_id": "1", "body": {"max_tokens": 100, "messages": [{"role": "user", "content": "What is the best '
    'French wine?"}]}}',
]

JOB = {
    "id": "b5ad4bd8-1a95-4c1e-8e8a-3e3a4f0b1c2d",
    "object": "batch",
    "input_files": ["4f5d1c3e-9b0a-4b7e-8f21-6a2f1e0c9d8b"],
    "metadata": {"job_type": "testing"},
    "endpoint": "/v1/chat/completions",
    "model": "mistral-small-latest",
    "agent_id": None,
    "output_file": "c1e7a9f0-2d3b-4c5e-9f8a-1b2c3d4e5f60",
    "error_file": None,
    "errors": [],
    "outputs": None,
    "status": "SUCCESS",
    "created_at": 1730000000,
    "total_requests": 2,
    "completed_requests": 2,
    "succeeded_requests": 2,
    "failed_requests": 0,
    "started_at": 1730000005,
    "completed_at": 1730000100,
}

CHAT_BODY = {
    "id": "cmpl-e5cc70bb28c444948073e77776eb30ef",
    "object": "chat.completion",
    "model": "mistral-small-latest",
    "created": 1730000050,
    "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50},
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Comté.", "tool_calls": None, "prefix": False}}],
}
EMBEDDING_BODY = {
    "id": "embd-aad6fc62b17349b192ef09225058bc45",
    "object": "list",
    "model": "mistral-embed",
    "usage": {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9},
    "data": [{"object": "embedding", "embedding": [-0.016, 0.027, 0.041], "index": 0}],
}


def result_line(custom_id: str, status: int, body: dict, error=None) -> bytes:
    return json.dumps({"id": f"batch-{JOB['id']}-{custom_id}", "custom_id": custom_id,
                       "response": {"status_code": status, "body": body}, "error": error}).encode()


def mistral_error(status: int, message: str, kind: str) -> dict:
    return {"object": "error", "message": message, "type": kind, "param": None, "code": None}


# ---------------------------------------------------------------- request lines


def test_the_published_request_lines_are_what_the_adapter_writes():
    for raw in REQUEST_LINES:
        published = json.loads(raw)
        BatchRequest.model_validate(published)
        # Given the same request as a batchrelay job holds it (its model in the body)
        body = {"model": "mistral-small-latest", **published["body"]}

        line = provider.request_line(published["custom_id"], body, "/v1/chat/completions")

        # Then the line is the published one: the model is the job's, not the line's
        assert line == published
        assert BatchRequest.model_validate(line).body == published["body"]


def test_provider_ids_carry_the_chunk_tag_and_the_users_id_unchanged():
    assert provider.provider_custom_id("order 17/é", "abcdefghij") == "abcdefghij_order 17/é"


# ---------------------------------------------------------------- batch jobs


def test_a_finished_job_becomes_a_completed_batch_with_its_files():
    info = provider._info(BatchJob.model_validate(JOB))
    assert (info.state, info.end_reason, info.provider_status) == ("ended", "completed", "SUCCESS")
    assert (info.total, info.completed, info.failed) == (2, 2, 0)
    assert info.metadata == {"job_type": "testing"}
    assert info.created_at == 1730000000.0 and info.ended_at == 1730000100.0
    assert info.extra["output_file"] == JOB["output_file"] and info.extra["error_file"] is None
    assert info.extra["input_files"] == JOB["input_files"] and info.extra["model"] == "mistral-small-latest"


@pytest.mark.parametrize(("status", "state", "end_reason"), [
    ("QUEUED", "running", None),
    ("RUNNING", "running", None),
    ("CANCELLATION_REQUESTED", "running", None),
    ("SUCCESS", "ended", "completed"),
    ("FAILED", "ended", "failed"),
    ("TIMEOUT_EXCEEDED", "ended", "expired"),
    ("CANCELLED", "ended", "cancelled"),
    ("SOMETHING_NEW", "running", None),     # unknown: checked again rather than collected early
])
def test_every_status_maps_onto_the_lifecycle(status, state, end_reason):
    running = status in ("QUEUED", "RUNNING", "CANCELLATION_REQUESTED", "SOMETHING_NEW")
    job = {**JOB, "status": status, "completed_at": None if running else JOB["completed_at"]}
    info = provider._info(BatchJob.model_validate(job))
    assert (info.state, info.end_reason) == (state, end_reason)
    assert info.ended_at is None if running else info.ended_at == 1730000100.0


def test_a_failed_job_reports_its_errors_and_counts_move_while_running():
    failed = provider._info(BatchJob.model_validate({**JOB, "status": "FAILED", "output_file": None,
                                                     "errors": [{"message": "Invalid line 3", "count": 2}]}))
    assert failed.errors == [{"code": "batch_error", "message": "Invalid line 3", "count": 2}]
    assert not failed.capacity_exhausted
    running = provider._info(BatchJob.model_validate({**JOB, "status": "RUNNING", "completed_requests": 1,
                                                      "succeeded_requests": 0, "failed_requests": 1}))
    assert (running.completed, running.failed, running.errors) == (1, 1, [])


def test_a_job_without_metadata_has_none():
    info = provider._info(BatchJob.model_validate({k: v for k, v in JOB.items() if k != "metadata"}))
    assert info.metadata == {}
    assert provider.prove_ownership(info, tag="x", metadata={"batchrelay_job": "j"}) is False


# ---------------------------------------------------------------- result lines


def test_a_chat_result_line_is_a_success_with_usage_and_model():
    line = result_line("tag0000000_0", 200, CHAT_BODY)
    sdk = BatchOutput.from_jsonl_bytes(line, ChatCompletionResponse)
    assert list(sdk.responses) == ["tag0000000_0"] and not sdk.request_errors and not sdk.response_errors

    result = provider.parse_result_line("output", line)

    assert (result.custom_id, result.outcome, result.retryable) == ("tag0000000_0", "succeeded", False)
    assert result.response == CHAT_BODY and result.model == "mistral-small-latest"
    assert result.usage == {"input_tokens": 16, "output_tokens": 34, "total_tokens": 50}


def test_an_embeddings_result_line_counts_prompt_tokens_only():
    line = result_line("e", 200, EMBEDDING_BODY)
    assert "e" in BatchOutput.from_jsonl_bytes(line, EmbeddingResponse).responses
    result = provider.parse_result_line("output", line)
    assert result.usage == {"input_tokens": 9, "output_tokens": 0, "total_tokens": 9}
    assert result.model == "mistral-embed"


@pytest.mark.parametrize(("status", "kind", "retryable"), [
    (400, "invalid_request_error", False), (422, "invalid_request_error", False), (404, "not_found", False),
    (429, "rate_limit_exceeded", True), (500, "internal_server_error", True), (503, "service_unavailable", True),
])
def test_an_error_line_is_classified_by_its_status(status, kind, retryable):
    line = result_line("x", status, mistral_error(status, "boom", kind))
    sdk = BatchOutput.from_jsonl_bytes(line, ChatCompletionResponse)
    assert [e.status_code for e in sdk.request_errors] == [status]

    result = provider.parse_result_line("errors", line)

    assert (result.outcome, result.retryable) == ("errored", retryable)
    assert result.error == {"code": kind, "type": kind, "message": "boom", "status_code": status}


def test_an_error_without_an_answer_is_worth_another_batch():
    line = json.dumps({"custom_id": "y", "response": None, "error": {"message": "worker lost", "code": "3000"}})
    assert isinstance(BatchOutput.from_jsonl_bytes(line.encode(), ChatCompletionResponse).results()["y"],
                      BatchRequestError)
    result = provider.parse_result_line("errors", line.encode())
    assert (result.outcome, result.retryable, result.error) == (
        "errored", True, {"code": "3000", "message": "worker lost"})


def test_a_validation_error_body_keeps_its_detail():
    detail = [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]
    result = provider.parse_result_line("errors", result_line("z", 422, {"detail": detail}))
    assert result.error["status_code"] == 422 and "Field required" in result.error["message"]


def test_lines_that_are_not_result_lines_are_refused():
    with pytest.raises(ValueError):
        provider.parse_result_line("output", b'{"response": {}}')
    with pytest.raises(ValueError):
        provider.parse_result_line("output", b"not json")
    raw = b'{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":"x\ry"}}]}}}'
    assert provider.parse_result_line("output", raw).response["choices"][0]["message"]["content"] == "x\ry"


# ---------------------------------------------------------------- the SDK's errors and retries


def _sdk_error(status: int, body: dict | str) -> mistral_errors.SDKError:
    text = body if isinstance(body, str) else json.dumps(body)
    response = httpx2.Response(status, text=text, headers={"content-type": "application/json"},
                               request=httpx2.Request("GET", "https://api.mistral.ai/v1/batch/jobs/x"))
    return mistral_errors.SDKError("API error occurred", response, text)


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (404, False), (409, True),
                                                   (429, True), (500, True), (503, True)])
def test_mistral_sdk_errors_become_provider_errors(status, retryable):
    error = to_provider_error(_sdk_error(status, mistral_error(status, "nope", "some_type")), "mistral")
    assert (error.status_code, error.retryable, error.code) == (status, retryable, "some_type")
    assert "nope" in error.message


def test_no_answer_at_all_is_a_retryable_connection_problem():
    error = to_provider_error(mistral_errors.NoResponseError(), "mistral")
    assert (error.retryable, error.code, error.status_code) == (True, "connection_error", None)
    assert to_provider_error(_sdk_error(502, "<html>bad gateway</html>"), "mistral").code is None


def test_retries_are_a_time_budget_and_none_for_the_create():
    assert NO_RETRY.strategy == "none" and retry_config(0).strategy == "none"
    three = retry_config(3)
    assert three.strategy == "backoff" and three.retry_connection_errors
    assert three.backoff.max_elapsed_time < retry_config(5).backoff.max_elapsed_time


# ---------------------------------------------------------------- what the API accepts


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, None),
    ("/v1/chat/completions", {"messages": []}, "messages"),
    ("/v1/embeddings", {"input": ["a", "b"]}, None),
    ("/v1/embeddings", {"inputs": "a"}, "input"),
    ("/v1/fim/completions", {"prompt": "def f(", "suffix": "return 1"}, None),
    ("/v1/fim/completions", {"suffix": "x"}, "prompt"),
    ("/v1/moderations", {"input": "text"}, None),
    ("/v1/chat/moderations", {"input": [{"role": "user", "content": "hi"}]}, None),
    ("/v1/chat/moderations", {"input": "text"}, "input"),
    ("/v1/ocr", {"document": {"type": "document_url", "document_url": "https://arxiv.org/pdf/2201.04234"}}, None),
    ("/v1/ocr", {"document": "https://x"}, "document"),
    ("/v1/classifications", {"input": "text"}, None),
    ("/v1/chat/classifications", {"input": {"messages": []}}, None),
    ("/v1/conversations", {"inputs": "hello"}, None),
    ("/v1/audio/transcriptions", {"file_url": "https://x/a.mp3"}, None),
    ("/v1/audio/transcriptions", {"language": "fr"}, "file_url"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True}, "stream"),
])
def test_each_endpoint_requires_what_mistrals_request_model_requires(endpoint, body, field):
    broken = registry.mistral_body({"model": "mistral-small-latest", **body}, endpoint)
    assert (broken[0] if broken else None) == field


def test_the_registry_declares_the_sdks_batch_endpoints():
    from typing import get_args

    from mistralai.client.models import APIEndpoint

    declared = set(get_args(get_args(APIEndpoint)[0]))
    assert set(registry.spec("mistral").endpoints) == declared


@pytest.mark.parametrize(("asked", "expected"), [(None, 24), (1, 1), (167, 167)])
def test_timeout_hours_is_a_mistral_job_setting(asked, expected):
    assert job_timeout_hours("mistral", asked) == expected
    assert job_timeout_hours("openai", None) is None


@pytest.mark.parametrize(("provider_name", "asked"), [("mistral", 0), ("mistral", 168), ("openai", 24)])
def test_timeout_hours_outside_the_providers_range_is_refused(provider_name, asked):
    with pytest.raises(ValidationFailed) as refused:
        job_timeout_hours(provider_name, asked)
    assert refused.value.field == "timeout_hours"
