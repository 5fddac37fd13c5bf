"""Every bad input is a 4xx naming the field (and line), and nothing is stored or queued."""

from __future__ import annotations

import pytest

from tests.support.api_client import chat_request, openai_job, stored_state


def mistral_job():
    return {"provider": "mistral", "endpoint": "/v1/chat/completions",
            "requests": [{"custom_id": "a", "body": {"model": "mistral-small-latest", "messages": []}}]}


def _with_requests(requests):
    return {"provider": "openai", "endpoint": "/v1/chat/completions", "requests": requests}


BAD_JOBS = [
    ("unknown provider", {**openai_job(1), "provider": "acme"}, "provider", None),
    ("unknown endpoint", {**openai_job(1), "endpoint": "/v1/images"}, "endpoint", None),
    ("anthropic endpoint for openai", {**openai_job(1), "endpoint": "/v1/messages"}, "endpoint", None),
    ("no requests", _with_requests([]), "requests", None),
    ("neither requests nor upload", {"provider": "openai", "endpoint": "/v1/chat/completions"}, "requests", None),
    ("both requests and upload", {**openai_job(1), "upload_id": "upl_x"}, "requests", None),
    ("missing custom_id", _with_requests([{"body": {"model": "m", "messages": []}}]), "requests[0].custom_id", 1),
    ("empty custom_id", _with_requests([chat_request("")]), "requests[0].custom_id", 1),
    ("custom_id not a string", _with_requests([{**chat_request("x"), "custom_id": 7}]), "requests[0].custom_id", 1),
    ("custom_id too long", _with_requests([chat_request("x" * 257)]), "requests[0].custom_id", 1),
    ("duplicate custom_id", _with_requests([chat_request("a"), chat_request("b"), chat_request("a")]),
     "requests[2].custom_id", 3),
    ("body not an object", _with_requests([chat_request("a"), {"custom_id": "b", "body": "text"}]),
     "requests[1].body", 2),
    ("body without model", _with_requests([{"custom_id": "a", "body": {"messages": []}}]),
     "requests[0].body.model", 1),
    ("streaming body", _with_requests([{"custom_id": "a", "body": {"model": "m", "messages": [], "stream": True}}]),
     "requests[0].body.stream", 1),
    ("unknown key in request", _with_requests([{**chat_request("a"), "extra": 1}]), "requests[0].extra", 1),
    ("unknown top-level key", {**openai_job(1), "colour": "red"}, "colour", None),
    ("chunk_size zero", {**openai_job(1), "chunk_size": 0}, "chunk_size", None),
    ("max_attempts too high", {**openai_job(1), "max_attempts": 99}, "max_attempts", None),
    ("chunk_size a boolean", {**openai_job(1), "chunk_size": True}, "chunk_size", None),
    ("metadata too many pairs", {**openai_job(1), "metadata": {str(i): "v" for i in range(17)}}, "metadata", None),
    ("metadata value not a string", {**openai_job(1), "metadata": {"a": 1}}, "metadata.a", None),
    ("timeout_hours for a provider without one", {**openai_job(1), "timeout_hours": 24}, "timeout_hours", None),
    ("mistral timeout_hours of a week", {**mistral_job(), "timeout_hours": 168}, "timeout_hours", None),
    ("mistral timeout_hours zero", {**mistral_job(), "timeout_hours": 0}, "timeout_hours", None),
    ("mistral timeout_hours a string", {**mistral_job(), "timeout_hours": "24"}, "timeout_hours", None),
    ("mistral embeddings without input", {**mistral_job(), "endpoint": "/v1/embeddings"},
     "requests[0].body.input", 1),
    ("mistral endpoint it has no batch for", {**mistral_job(), "endpoint": "/v1/responses"}, "endpoint", None),
    ("anthropic without max_tokens", {
        "provider": "anthropic", "endpoint": "/v1/messages",
        "requests": [{"custom_id": "a", "body": {"model": "claude", "messages": []}}],
    }, "requests[0].body.max_tokens", 1),
    ("anthropic max_tokens a boolean", {
        "provider": "anthropic", "endpoint": "/v1/messages",
        "requests": [{"custom_id": "a", "body": {"model": "claude", "max_tokens": True, "messages": []}}],
    }, "requests[0].body.max_tokens", 1),
]


@pytest.mark.parametrize(("case", "body", "field", "line"), BAD_JOBS, ids=[c[0] for c in BAD_JOBS])
def test_bad_job_is_rejected_and_nothing_is_stored(api, aws, case, body, field, line):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", body)
    assert 400 <= answer.status < 500, answer.body
    error = answer.body["error"]
    assert error["field"] == field, error
    assert error.get("line") == line, error
    assert error["message"]
    assert stored_state(aws) == before


def test_body_that_is_not_json_is_400(api, aws):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", "{not json")
    assert answer.status == 400 and answer.body["error"]["field"] == "body"
    assert stored_state(aws) == before


def test_too_many_inline_requests_points_to_uploads(api, aws, monkeypatch):
    from batchrelay import constants

    monkeypatch.setattr(constants, "MAX_INLINE_REQUESTS", 3)
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", openai_job(4))
    assert answer.status == 400 and "uploads" in answer.body["error"]["message"]
    assert stored_state(aws) == before


def test_webhook_url_must_be_https(api, aws):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", openai_job(1, webhook_url="ftp://example.com/hook"))
    assert answer.status == 400 and answer.body["error"]["field"] == "webhook_url"
    assert stored_state(aws) == before


def test_an_inline_body_over_the_limit_is_413_and_points_to_uploads(api, aws, monkeypatch):
    from batchrelay import constants

    monkeypatch.setattr(constants, "MAX_INLINE_BODY_BYTES", 500)
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", openai_job(10))
    assert answer.status == 413
    assert answer.body["error"]["field"] == "requests" and "uploads" in answer.body["error"]["message"]
    assert stored_state(aws) == before
