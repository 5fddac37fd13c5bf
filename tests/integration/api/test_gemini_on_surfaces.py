"""Gemini behind the drop-in surfaces (routes on moto): its requests are GenerateContentRequests,
neither OpenAI's batch lines nor Anthropic's Message Batches params, so both surfaces refuse it
with a 400 that says where its jobs go (POST /v1/jobs), and create nothing."""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay import registry
from tests.support.anthropic_surface import validate_answer
from tests.support.api_client import ApiClient
from tests.support.openai_surface import batch_line, jsonl, openai_call, upload_file

PARAMS = {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}


def test_gemini_has_no_drop_in_request_format():
    assert registry.spec("gemini").request_format == ""
    assert "gemini" not in registry.with_request_format("openai") + registry.with_request_format("anthropic")


def test_the_openai_surface_refuses_gemini_by_header_and_by_metadata(aws):
    file = upload_file(jsonl([batch_line(f"r{i}") for i in range(2)]))
    body = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    for headers, metadata, param in (
        ({c.PROVIDER_HEADER: "gemini"}, None, c.PROVIDER_HEADER),
        (None, {c.PROVIDER_METADATA_KEY: "gemini"}, f"metadata.{c.PROVIDER_METADATA_KEY}"),
    ):
        answer = openai_call("POST", "/batches", {**body, **({"metadata": metadata} if metadata else {})},
                             headers=headers)
        assert answer.status == 400, answer.body
        error = answer.body["error"]
        assert error["code"] == "invalid_provider" and error["param"] == param
        assert "'gemini'" in error["message"] and "POST /v1/jobs" in error["message"]
    assert openai_call("GET", "/batches").body["data"] == []
    assert ApiClient().call("GET", "/v1/jobs").body["data"] == []


def test_the_anthropic_surface_refuses_gemini(aws):
    path = "/messages/batches"
    answer = ApiClient().call("POST", c.ANTHROPIC_PREFIX + path,
                              {"requests": [{"custom_id": "a", "params": PARAMS}]},
                              headers={c.PROVIDER_HEADER: "gemini"})
    validate_answer("POST", path, answer.status, answer.body)
    assert answer.status == 400 and answer.body["error"]["type"] == "invalid_request_error"
    assert "'gemini'" in answer.body["error"]["message"] and "POST /v1/jobs" in answer.body["error"]["message"]
    assert ApiClient().call("GET", "/v1/jobs").body["data"] == []
