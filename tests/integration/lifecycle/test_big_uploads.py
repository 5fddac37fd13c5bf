"""Issue 13, done when: creating a job costs the `api` function the same few S3 calls whatever
the upload's size (1,000 or 1,000,000 lines); a bad line at line 900,000 fails the job with
that line and nothing reaches the provider; a multipart upload of several parts validates
and runs. On moto with the in-memory FakeProvider; the big file's lines are tiny."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import botocore.client
import pytest

from batchrelay import constants as c
from batchrelay.models.job import JobStatus
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store
from tests.support.api_client import ApiClient
from tests.support.stored_jobs import read_lines
from tests.support.uploads import put_parts, put_upload

JOB = {"provider": "openai", "endpoint": "/v1/chat/completions"}
BAD_LINE = 900_000


def tiny_lines(count: int, *, bad_line: int | None = None) -> bytes:
    lines = [b'{"custom_id":"r%07d","body":{"model":"m","messages":[]}}\n' % i for i in range(1, count + 1)]
    if bad_line is not None:
        lines[bad_line - 1] = b'{"custom_id":"r%07d","body":{"messages":[]}}\n' % bad_line   # no body.model
    return b"".join(lines)


@contextmanager
def s3_calls() -> Iterator[list[str]]:
    """Every S3 operation botocore makes meanwhile (a presigned URL is not one)."""
    made: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation_name, api_params):
        if self.meta.service_model.service_name == "s3":
            made.append(operation_name)
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record
    try:
        yield made
    finally:
        botocore.client.BaseClient._make_api_call = original


def create_from_upload(api: ApiClient, aws, payload: bytes) -> tuple[dict, list[str]]:
    upload = api.call("POST", "/v1/uploads", {}).body
    put_upload(aws["BUCKET_NAME"], upload["url"], payload)
    with s3_calls() as made:
        answer = api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"]})
    assert answer.status == 202, answer.body
    return answer.body, made


@pytest.fixture
def api(aws) -> ApiClient:
    return ApiClient()


@pytest.mark.slow
def test_create_costs_the_same_s3_calls_at_any_size_and_line_900000_fails_the_job(api, aws, fake, driver, monkeypatch):
    # Validation steps of 250,000 requests: the big file takes several
    monkeypatch.setenv(c.ENV_VALIDATION_STEP_REQUESTS, "250000")
    get_settings.cache_clear()

    # Given a job created from an upload of 1,000 lines, which runs to the end
    small, small_calls = create_from_upload(api, aws, tiny_lines(1_000))
    assert small["status"] == "validating"
    job = driver.run_until_final(small["id"])
    assert job.status == JobStatus.COMPLETED and job.request_count == 1_000
    assert len(read_lines(job.results_key)) == 1_000 and fake.calls["create"] == 1

    # When a job is created from an upload of 1,000,000 lines, bad on line 900,000
    big, big_calls = create_from_upload(api, aws, tiny_lines(1_000_000, bad_line=BAD_LINE))

    # Then both creates answered validating after the same S3 calls: one HEAD, no read
    assert big["status"] == "validating"
    assert small_calls == big_calls == ["HeadObject"]

    # And the big job, validated in the background, failed on line 900,000, naming the field
    job = driver.run_until_final(big["id"])
    assert job.status == JobStatus.FAILED
    assert (job.error["line"], job.error["field"]) == (BAD_LINE, "body.model")
    assert job.validation is not None and job.validation.runs == 3   # three good steps before the bad one
    # And nothing of it reached the provider; its one event says it failed
    assert fake.calls["create"] == 1 and chunk_store.list_chunks(big["id"]) == []
    assert [e["type"] for e in driver.published_events()] == ["job.completed", "job.failed"]


def test_a_multipart_upload_of_several_parts_validates_and_runs(api, aws, fake, driver, monkeypatch):
    # Given a file of three 5 MiB parts (the smallest S3 takes), sent to the part URLs, and
    # inputs copied in parts of that size too
    monkeypatch.setattr(c, "INPUT_COPY_PART_BYTES", c.S3_MIN_PART_BYTES)
    payload = b"".join(
        b'{"custom_id":"r%06d","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}}\n'
        % (i, b"x" * 900) for i in range(12_000)
    )
    upload = api.call("POST", "/v1/uploads", {"size": len(payload), "part_size": c.S3_MIN_PART_BYTES}).body
    assert len(upload["parts"]) == 3
    parts = put_parts(aws["BUCKET_NAME"], upload, payload)
    assert api.call("POST", upload["complete_path"], {"parts": parts}).status == 200
    # When a job is created from it and runs
    with s3_calls() as made:
        created = api.call("POST", "/v1/jobs", {**JOB, "upload_id": upload["upload_id"], "chunk_size": 5000})
    assert created.status == 202 and made == ["HeadObject"]
    job = driver.run_until_final(created.body["id"])
    # Then every request ran and has its line
    assert job.status == JobStatus.COMPLETED and job.request_count == 12_000
    assert len(read_lines(job.results_key)) == 12_000 and fake.calls["create"] == 3
