"""parse_result_line on hand-written lines, as the providers document them."""

from __future__ import annotations

import json

import pytest

from batchrelay.providers.anthropic_provider import AnthropicProvider
from batchrelay.providers.openai_provider import OpenAIProvider

openai_provider = OpenAIProvider(api_key="unused")
anthropic_provider = AnthropicProvider(api_key="unused")


def line(obj) -> bytes:
    return json.dumps(obj).encode()


# ---------------------------------------------------------------- OpenAI
def test_openai_success_with_chat_usage():
    result = openai_provider.parse_result_line("output", line({
        "id": "batch_req_1", "custom_id": "a", "error": None,
        "response": {"status_code": 200, "request_id": "req_1", "body": {
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}}}))
    assert result.outcome == "succeeded" and result.custom_id == "a"
    assert result.usage == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    assert result.model == "gpt-4o-mini" and result.response["id"] == "chatcmpl-1"
    assert result.error is None and not result.retryable


def test_openai_success_with_responses_and_embeddings_usage():
    responses = openai_provider.parse_result_line("output", line({"custom_id": "r", "response": {
        "status_code": 200, "body": {"object": "response", "usage": {"input_tokens": 4, "output_tokens": 6,
                                                                     "total_tokens": 10}}}}))
    assert responses.usage == {"input_tokens": 4, "output_tokens": 6, "total_tokens": 10}
    embeddings = openai_provider.parse_result_line("output", line({"custom_id": "e", "response": {
        "status_code": 200, "body": {"object": "list", "usage": {"prompt_tokens": 7, "total_tokens": 7}}}}))
    assert embeddings.usage == {"input_tokens": 7, "output_tokens": 0, "total_tokens": 7}


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (400, False),
                                                   (404, False)])
def test_openai_http_errors(status, retryable):
    result = openai_provider.parse_result_line("errors", line({"custom_id": "x", "error": None, "response": {
        "status_code": status, "request_id": "req", "body": {"error": {
            "message": "boom", "type": "invalid_request_error", "param": None, "code": "some_code"}}}}))
    assert result.outcome == "errored" and result.retryable is retryable
    assert result.error == {"code": "some_code", "type": "invalid_request_error", "message": "boom",
                            "status_code": status}


@pytest.mark.parametrize(("code", "outcome"), [("batch_expired", "expired"), ("batch_cancelled", "cancelled")])
def test_openai_unfinished_requests(code, outcome):
    result = openai_provider.parse_result_line("errors", line({
        "id": "batch_req_2", "custom_id": "b", "response": None, "error": {"code": code, "message": "not run"}}))
    assert (result.outcome, result.error["code"], result.retryable) == (outcome, code, False)


def test_openai_other_request_level_error():
    result = openai_provider.parse_result_line("errors", line({
        "custom_id": "c", "response": None, "error": {"code": "server_error", "message": "oops"}}))
    assert (result.outcome, result.retryable) == ("errored", True)


def test_openai_raw_carriage_return_inside_a_string():
    raw = b'{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":"x\ry"}}]}}}'
    result = openai_provider.parse_result_line("output", raw)
    assert result.response["choices"][0]["message"]["content"] == "x\ry"


def test_openai_trailing_cr_and_bad_lines():
    assert openai_provider.parse_result_line("output", line({"custom_id": "a", "response": {
        "status_code": 200, "body": {}}}) + b"\r").outcome == "succeeded"
    with pytest.raises(ValueError):
        openai_provider.parse_result_line("output", b'{"no": "custom id"}')
    with pytest.raises(ValueError):
        openai_provider.parse_result_line("output", b"not json")


# ---------------------------------------------------------------- Anthropic
def test_anthropic_success_with_cache_usage():
    result = anthropic_provider.parse_result_line("results", line({"custom_id": "m1", "result": {
        "type": "succeeded", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                      "cache_creation_input_tokens": 0}}}}))
    assert result.outcome == "succeeded" and result.model == "claude-sonnet-4-5"
    assert result.usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 115,
                            "cache_read_input_tokens": 100}


@pytest.mark.parametrize(("error_type", "retryable"), [
    ("api_error", True), ("overloaded_error", True), ("rate_limit_error", True),
    ("invalid_request_error", False), ("permission_error", False)])
def test_anthropic_errored(error_type, retryable):
    result = anthropic_provider.parse_result_line("results", line({"custom_id": "m2", "result": {
        "type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": "why"}}}}))
    assert (result.outcome, result.retryable) == ("errored", retryable)
    assert result.error == {"type": error_type, "code": error_type, "message": "why"}


@pytest.mark.parametrize(("kind", "outcome"), [("expired", "expired"), ("canceled", "cancelled")])
def test_anthropic_not_run(kind, outcome):
    result = anthropic_provider.parse_result_line("results", line({"custom_id": "m3", "result": {"type": kind}}))
    assert (result.outcome, result.retryable, result.usage) == (outcome, False, None)


def test_anthropic_unknown_type_is_rejected():
    with pytest.raises(ValueError):
        anthropic_provider.parse_result_line("results", line({"custom_id": "m4", "result": {"type": "mystery"}}))
