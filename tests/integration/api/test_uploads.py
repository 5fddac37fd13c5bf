"""Large inputs: POST /v1/uploads, PUT the JSONL, then POST /v1/jobs with the upload_id."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import boto3
import pytest

from tests.support.api_client import ApiClient, chat_request, stored_state


def _put_upload(aws, url: str, payload: bytes) -> None:
    # The client PUTs to the presigned URL; in-process moto stores the same object.
    key = urlparse(url).path.split(f"/{aws['BUCKET_NAME']}/", 1)[1]
    boto3.client("s3").put_object(Bucket=aws["BUCKET_NAME"], Key=key, Body=payload)


def _jsonl(lines: list) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)


def _upload_job(api: ApiClient, aws, payload: bytes, **extra):
    upload = api.call("POST", "/v1/uploads", {})
    assert upload.status == 201
    assert upload.body["upload_id"].startswith("upl_") and upload.body["method"] == "PUT"
    _put_upload(aws, upload.body["url"], payload)
    body = {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload.body["upload_id"], **extra}
    return api.call("POST", "/v1/jobs", body)


def test_upload_job_of_many_requests(api, aws):
    payload = _jsonl([chat_request(f"id-{i}") for i in range(3000)])
    answer = _upload_job(api, aws, payload)
    assert answer.status == 202, answer.body
    assert answer.body["request_count"] == 3000


def test_upload_accepts_openai_batch_lines_and_blank_trailing_lines(api, aws):
    lines = [{"method": "POST", "url": "/v1/chat/completions", **chat_request("a")}, chat_request("b")]
    answer = _upload_job(api, aws, _jsonl(lines) + b"\n\n")
    assert answer.status == 202 and answer.body["request_count"] == 2


BAD_LINES = [
    ("not json", [chat_request("a"), b"{oops"], 2, "upload"),
    ("not an object", [chat_request("a"), chat_request("b"), [1, 2]], 3, "upload"),
    ("missing custom_id", [{"body": {"model": "m", "messages": []}}], 1, "custom_id"),
    ("body not object", [chat_request("a"), {"custom_id": "b", "body": 3}], 2, "body"),
    ("unknown key", [{**chat_request("a"), "colour": "red"}], 1, "upload"),
    ("other endpoint", [{**chat_request("a"), "url": "/v1/embeddings"}], 1, "url"),
    ("duplicate id far apart", [chat_request(f"x{i}") for i in range(500)] + [chat_request("x7")], 501, "custom_id"),
]


@pytest.mark.parametrize(("case", "lines", "line", "field"), BAD_LINES, ids=[c[0] for c in BAD_LINES])
def test_bad_upload_is_rejected_with_the_first_bad_line_and_nothing_kept(api, aws, case, lines, line, field):
    upload = api.call("POST", "/v1/uploads", {}).body
    _put_upload(aws, upload["url"], _jsonl(lines))
    before = stored_state(aws)
    answer = api.call(
        "POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload["upload_id"]}
    )
    assert answer.status == 400, answer.body
    assert answer.body["error"]["line"] == line
    assert answer.body["error"]["field"] == field
    assert stored_state(aws) == before


def test_empty_upload_is_rejected(api, aws):
    answer = _upload_job(api, aws, b"\n")
    assert answer.status == 400 and answer.body["error"]["field"] == "upload_id"


def test_upload_not_yet_put_is_404(api):
    upload = api.call("POST", "/v1/uploads", {}).body
    answer = api.call(
        "POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload["upload_id"]}
    )
    assert answer.status == 404 and answer.body["error"]["field"] == "upload_id"


def test_another_tenants_upload_is_404(api, aws):
    upload = api.call("POST", "/v1/uploads", {}).body
    _put_upload(aws, upload["url"], _jsonl([chat_request("a")]))
    other = ApiClient(api_key_id="tenant-b")
    answer = other.call(
        "POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload["upload_id"]}
    )
    assert answer.status == 404


def test_upload_url_is_short_lived(api):
    upload = api.call("POST", "/v1/uploads", {}).body
    assert "X-Amz-Expires=900" in upload["url"]


def test_a_line_without_end_is_refused_before_it_is_read_whole(api, aws, monkeypatch):
    from batchrelay import constants

    monkeypatch.setattr(constants, "MAX_REQUEST_LINE_BYTES", 1000)
    payload = _jsonl([chat_request("a")]) + b"x" * 5000  # a second line that never ends
    answer = _upload_job(api, aws, payload)
    assert answer.status == 400
    assert answer.body["error"]["line"] == 2 and "longer than 1000 bytes" in answer.body["error"]["message"]
