"""The CLI's HTTP client: retries that cannot duplicate a job, and error values."""

from __future__ import annotations

import httpx
import pytest

from batchrelay_tools.cli.client import ApiClient, ApiError


def test_submit_is_retried_once_with_the_same_idempotency_key():
    # Given an API whose first answer is lost on the way
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) == 1:
            raise httpx.ConnectError("connection reset", request=request)
        return httpx.Response(202, json={"id": "job_1", "status": "queued"})

    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    # When a job is created
    job = client.create_job({"provider": "openai"})
    # Then the retry carried the same key, so the API can answer with the same job
    assert job["id"] == "job_1"
    assert len(seen) == 2 and seen[0] == seen[1]


def test_a_second_failure_is_an_error_value():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "Service Unavailable"})

    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as info:
        client.get_job("job_1")
    assert (info.value.code, info.value.status) == ("unavailable", 503)


def test_writes_that_are_not_idempotent_are_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(502, json={"message": "Internal server error"})

    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError):
        client.add_webhook("https://hook", None, None)
    assert calls == ["/v1/webhook-endpoints"]


def test_the_api_key_header_and_stage_prefix():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == "k"
        return httpx.Response(200, json={"path": request.url.path})

    client = ApiClient("https://api.example/prod/", "k", transport=httpx.MockTransport(handler))
    assert client.request("GET", "/v1/jobs") == {"path": "/prod/v1/jobs"}
