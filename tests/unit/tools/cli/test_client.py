"""The CLI's HTTP client: retries that cannot duplicate a job, and error values."""

from __future__ import annotations

import json

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


def _multipart_api(path_size: int, part_size: int, *, expired_first: bool = False):
    """A stand-in API and S3: hands out part URLs, stores parts, renews URLs, completes."""
    from datetime import UTC, datetime, timedelta

    stored: dict[int, bytes] = {}
    renewals: list[list[int]] = []
    later = (datetime.now(UTC) + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    count = -(-path_size // part_size)

    def parts(numbers, tag):
        return [{"part_number": n, "url": f"http://s3/upl/{n}?{tag}"} for n in numbers]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "s3":
            number = int(request.url.path.rsplit("/", 1)[1])
            if expired_first and "fresh" not in str(request.url):
                return httpx.Response(403, text="<Code>AccessDenied</Code><Message>Request has expired</Message>")
            stored[number] = request.read()
            return httpx.Response(200, headers={"ETag": f'"etag-{number}"'})
        if request.url.path == "/v1/uploads":
            return httpx.Response(201, json={"upload_id": "upl_1", "method": "multipart", "part_size": part_size,
                                             "parts": parts(range(1, count + 1), "old"), "expires_at": later,
                                             "complete_path": "/v1/uploads/upl_1/complete"})
        if request.url.path == "/v1/uploads/upl_1/parts":
            numbers = json.loads(request.content)["part_numbers"]
            renewals.append(numbers)
            return httpx.Response(200, json={"upload_id": "upl_1", "parts": parts(numbers, "fresh"),
                                             "expires_at": later})
        raise AssertionError(request.url)

    return handler, stored, renewals


def test_a_file_is_sent_in_parts_and_the_etags_come_back_in_order(tmp_path):
    data = bytes(range(256)) * 100   # 25,600 bytes
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    handler, stored, renewals = _multipart_api(len(data), 10_000)
    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    upload = client.create_upload(size=len(data), part_size=10_000)
    seen = []
    parts = client.put_parts(upload, path, progress=seen.append)
    assert parts == [{"part_number": n, "etag": f'"etag-{n}"'} for n in (1, 2, 3)]
    assert b"".join(stored[n] for n in (1, 2, 3)) == data and len(stored[3]) == 5_600
    assert sorted(seen) == [1, 2, 3] and renewals == []


def test_an_expired_part_url_is_renewed_and_the_part_sent_again(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"x" * 25_000)
    handler, stored, renewals = _multipart_api(25_000, 10_000, expired_first=True)
    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    parts = client.put_parts(client.create_upload(size=25_000, part_size=10_000), path)
    assert [p["part_number"] for p in parts] == [1, 2, 3] and sum(map(len, stored.values())) == 25_000
    assert renewals and all(set(r) <= {1, 2, 3} for r in renewals)


def test_a_part_s3_refuses_for_good_is_an_error_value(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"x" * 100)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="<Code>InvalidArgument</Code><Message>nope</Message>")

    client = ApiClient("http://api", "k", transport=httpx.MockTransport(handler))
    upload = {"upload_id": "upl_1", "part_size": 100, "parts": [{"part_number": 1, "url": "http://s3/upl/1"}],
              "expires_at": "2999-01-01T00:00:00Z"}
    with pytest.raises(ApiError) as info:
        client.put_parts(upload, path)
    assert info.value.code == "upload_failed" and "InvalidArgument: nope" in info.value.message
