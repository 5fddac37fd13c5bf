"""Large inputs: POST /v1/uploads, send the JSONL (one PUT, or parts), then POST /v1/jobs with
the upload_id. The job is answered at once, validating; its lines are checked in the
background (tests/integration/lifecycle/test_background_validation.py drives that further)."""

from __future__ import annotations

import boto3
import pytest

from batchrelay import constants as c
from batchrelay.models.job import JobStatus
from batchrelay.store import chunk_store
from tests.support.api_client import ApiClient, chat_request
from tests.support.uploads import jsonl, put_parts, put_upload, upload_job, validated

JOB = {"provider": "openai", "endpoint": "/v1/chat/completions"}


def test_upload_job_of_many_requests(api, aws):
    answer = upload_job(api, aws, jsonl([chat_request(f"id-{i}") for i in range(3000)]))
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "validating" and answer.body["request_count"] == 0
    assert answer.body["validation"] == {"size_bytes": answer.body["validation"]["size_bytes"], "checked_bytes": 0,
                                         "checked_requests": 0, "done": False}
    job = validated(answer)
    assert job.status == JobStatus.SUBMITTING and job.request_count == 3000
    assert job.models == {"gpt-4o-mini": 3000}


def test_upload_accepts_openai_batch_lines_and_blank_trailing_lines(api, aws):
    lines = [{"method": "POST", "url": "/v1/chat/completions", **chat_request("a")}, chat_request("b")]
    job = validated(upload_job(api, aws, jsonl(lines) + b"\n\n"))
    assert job.status == JobStatus.SUBMITTING and job.request_count == 2


def test_a_last_line_without_newline_is_read(api, aws):
    payload = jsonl([chat_request("a"), chat_request("b")]).rstrip(b"\n")
    job = validated(upload_job(api, aws, payload))
    assert job.status == JobStatus.SUBMITTING and job.request_count == 2


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
def test_a_bad_upload_fails_its_job_with_the_first_bad_line_and_nothing_planned(api, aws, case, lines, line, field):
    answer = upload_job(api, aws, jsonl(lines))
    job = validated(answer)
    assert job.status == JobStatus.FAILED
    assert job.error["line"] == line and job.error["field"] == field and job.error["code"] == "invalid_request"
    assert chunk_store.list_chunks(job.job_id) == []
    view = api.call("GET", f"/v1/jobs/{job.job_id}").body
    assert view["status"] == "failed" and view["error"] == job.error
    # It never ran: no results, and the answer says so (not "not final yet")
    results = api.call("GET", f"/v1/jobs/{job.job_id}/results")
    assert results.status == 404 and results.body["error"]["code"] == "no_results"


def test_a_repeated_id_names_both_lines(api, aws):
    job = validated(upload_job(api, aws, jsonl([chat_request("a"), chat_request("b"), chat_request("a")])))
    assert job.error["line"] == 3 and "'a'" in job.error["message"] and "line 1" in job.error["message"]


def test_an_upload_of_blank_lines_fails_its_job(api, aws):
    job = validated(upload_job(api, aws, b"\n\n"))
    assert job.status == JobStatus.FAILED and job.error["field"] == "upload_id"


def test_an_empty_upload_is_refused_at_once(api, aws):
    answer = upload_job(api, aws, b"")
    assert answer.status == 400 and answer.body["error"]["field"] == "upload_id"


def test_an_upload_beyond_the_limit_is_refused_at_once_from_its_size(api, aws, monkeypatch):
    monkeypatch.setattr(c, "MAX_UPLOAD_BYTES", 100)
    answer = upload_job(api, aws, jsonl([chat_request(f"r{i}") for i in range(10)]))
    assert answer.status == 413 and answer.body["error"]["field"] == "upload_id"


def test_more_requests_than_a_job_holds_fail_it_on_the_first_one_beyond(api, aws, monkeypatch):
    monkeypatch.setattr(c, "MAX_JOB_REQUESTS", 3)
    job = validated(upload_job(api, aws, b"\n" + jsonl([chat_request(f"r{i}") for i in range(5)])))
    assert job.status == JobStatus.FAILED and job.error["line"] == 5 and job.error["field"] == "upload"
    assert "at most 3 requests" in job.error["message"]


def test_upload_not_yet_put_is_404(api):
    upload = api.call("POST", "/v1/uploads", {}).body
    answer = api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]})
    assert answer.status == 404 and answer.body["error"]["field"] == "upload_id"


def test_another_tenants_upload_is_404(api, aws):
    upload = api.call("POST", "/v1/uploads", {}).body
    put_upload(aws["BUCKET_NAME"], upload["url"], jsonl([chat_request("a")]))
    other = ApiClient(api_key_id="tenant-b")
    answer = other.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]})
    assert answer.status == 404


def test_upload_url_is_short_lived_and_states_the_single_put_limit(api):
    upload = api.call("POST", "/v1/uploads", {}).body
    assert "X-Amz-Expires=900" in upload["url"] and upload["method"] == "PUT"
    assert upload["max_bytes"] == min(c.S3_MAX_PUT_BYTES, c.MAX_UPLOAD_BYTES)


def test_a_line_without_end_fails_the_job_before_it_is_read_whole(api, aws, monkeypatch):
    monkeypatch.setattr(c, "MAX_REQUEST_LINE_BYTES", 1000)
    payload = jsonl([chat_request("a")]) + b"x" * 5000  # a second line that never ends
    job = validated(upload_job(api, aws, payload))
    assert job.status == JobStatus.FAILED
    assert job.error["line"] == 2 and "longer than 1000 bytes" in job.error["message"]


def test_an_upload_replaced_after_the_job_was_created_fails_it(api, aws):
    upload = api.call("POST", "/v1/uploads", {}).body
    put_upload(aws["BUCKET_NAME"], upload["url"], jsonl([chat_request("a")]))
    answer = api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]})
    put_upload(aws["BUCKET_NAME"], upload["url"], jsonl([chat_request("b"), chat_request("c")]))
    job = validated(answer)
    assert job.status == JobStatus.FAILED and job.error["code"] == "upload_changed"


# --------------------------------------------------------------- multipart


def _multipart(api: ApiClient, size: int, **extra):
    answer = api.call("POST", "/v1/uploads", {"size": size, **extra})
    assert answer.status == 201, answer.body
    return answer.body


def test_a_multipart_upload_gets_a_url_per_part_and_a_complete_call(api, aws):
    upload = _multipart(api, 12 * 1024 * 1024, part_size=5 * 1024 * 1024)
    assert upload["method"] == "multipart" and upload["url"] is None
    assert upload["part_size"] == 5 * 1024 * 1024 and upload["max_bytes"] == c.MAX_UPLOAD_BYTES
    assert [p["part_number"] for p in upload["parts"]] == [1, 2, 3]
    assert all("uploadId=" in p["url"] and f"partNumber={p['part_number']}" in p["url"] for p in upload["parts"])
    assert upload["complete_path"] == f"/v1/uploads/{upload['upload_id']}/complete"


def test_a_multipart_upload_of_the_limit_fits_in_s3s_parts(api, aws):
    upload = _multipart(api, c.MAX_UPLOAD_BYTES)
    assert len(upload["parts"]) <= c.S3_MAX_PARTS
    assert upload["part_size"] * len(upload["parts"]) >= c.MAX_UPLOAD_BYTES


def test_a_multipart_upload_beyond_the_limit_is_413(api):
    answer = api.call("POST", "/v1/uploads", {"size": c.MAX_UPLOAD_BYTES + 1})
    assert answer.status == 413 and answer.body["error"]["field"] == "size"


def test_parts_below_s3s_minimum_are_refused(api):
    answer = api.call("POST", "/v1/uploads", {"size": 10_000_000, "part_size": 1024})
    assert answer.status == 400 and answer.body["error"]["field"] == "part_size"


def test_a_multipart_upload_completes_and_a_job_is_created_from_it(api, aws):
    # Given a file of three parts, sent to the part URLs
    payload = jsonl([chat_request(f"r{i:06d}", text="x" * 900) for i in range(12_000)])
    assert len(payload) > 10 * 1024 * 1024
    upload = _multipart(api, len(payload), part_size=5 * 1024 * 1024)
    parts = put_parts(aws["BUCKET_NAME"], upload, payload)
    # When a job is created before the upload is completed, it is refused
    early = api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]})
    assert early.status == 404 and "complete" in early.body["error"]["message"]
    # When it is completed (and completed again: the repeat answers the same)
    done = api.call("POST", upload["complete_path"], {"parts": parts})
    assert done.status == 200 and done.body == {"upload_id": upload["upload_id"], "status": "complete"}
    assert api.call("POST", upload["complete_path"], {"parts": parts}).status == 200
    # Then the object is the file, and a job from it validates
    key = f"uploads/tenant-a/{upload['upload_id']}.jsonl"
    assert boto3.client("s3").get_object(Bucket=aws["BUCKET_NAME"], Key=key)["Body"].read() == payload
    job = validated(api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]}))
    assert job.status == JobStatus.SUBMITTING and job.request_count == 12_000


def test_complete_wants_every_part_in_order(api, aws):
    upload = _multipart(api, 12 * 1024 * 1024, part_size=5 * 1024 * 1024)
    answer = api.call("POST", upload["complete_path"], {"parts": [{"part_number": 1, "etag": '"x"'}]})
    assert answer.status == 400 and answer.body["error"]["field"] == "parts"


def test_complete_with_wrong_etags_is_400(api, aws):
    upload = _multipart(api, 12 * 1024 * 1024, part_size=5 * 1024 * 1024)
    parts = [{"part_number": n, "etag": '"0123"'} for n in (1, 2, 3)]
    answer = api.call("POST", upload["complete_path"], {"parts": parts})
    assert answer.status == 400 and answer.body["error"]["field"] == "parts"


def test_part_urls_can_be_renewed(api, aws):
    upload = _multipart(api, 12 * 1024 * 1024, part_size=5 * 1024 * 1024)
    renewed = api.call("POST", f"/v1/uploads/{upload['upload_id']}/parts", {"part_numbers": [3, 2]})
    assert renewed.status == 200 and [p["part_number"] for p in renewed.body["parts"]] == [2, 3]
    beyond = api.call("POST", f"/v1/uploads/{upload['upload_id']}/parts", {"part_numbers": [4]})
    assert beyond.status == 400


def test_another_tenants_multipart_upload_cannot_be_completed_or_renewed(api, aws):
    upload = _multipart(api, 12 * 1024 * 1024, part_size=5 * 1024 * 1024)
    other = ApiClient(api_key_id="tenant-b")
    assert other.call("POST", upload["complete_path"], {"parts": [{"part_number": 1, "etag": '"x"'}]}).status == 404
    assert other.call("POST", f"/v1/uploads/{upload['upload_id']}/parts", {"part_numbers": [1]}).status == 404


def test_a_single_put_upload_has_nothing_to_complete(api):
    upload = api.call("POST", "/v1/uploads", {}).body
    answer = api.call("POST", f"/v1/uploads/{upload['upload_id']}/complete",
                      {"parts": [{"part_number": 1, "etag": '"x"'}]})
    assert answer.status == 409 and answer.body["error"]["code"] == "not_multipart"
