"""Jobs from uploads validate in the background, in steps, behind the `jobs` queue: durable
progress (a step that dies is redone, the rest is not), repeats and lost messages, duplicate
ids across steps, a bad line failing the job with one event and nothing sent, a cancel while
validating. On moto with the in-memory FakeProvider."""

from __future__ import annotations

import time
from collections import Counter

import boto3
import pytest

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.lifecycle.poller import run_poll
from batchrelay.models.job import JobStatus
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store
from tests.support.api_client import ApiClient
from tests.support.stored_jobs import chat_requests, read_lines
from tests.support.uploads import jsonl, upload_job


@pytest.fixture
def small_steps(monkeypatch):
    """Steps of 50 requests: a few hundred lines make several steps."""
    monkeypatch.setenv(c.ENV_VALIDATION_STEP_REQUESTS, "50")
    get_settings.cache_clear()


@pytest.fixture
def api(aws) -> ApiClient:
    return ApiClient()


def _objects(aws, prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=aws["BUCKET_NAME"], Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_an_upload_validates_in_steps_and_runs_to_the_end(api, aws, fake, driver, small_steps):
    # Given an upload of 230 requests (with blank lines) and steps of 50 requests
    requests = chat_requests(230)
    payload = jsonl(requests[:100]) + b"\n" + jsonl(requests[100:])
    # When a job is created from it, it answers at once, validating
    created = upload_job(api, aws, payload, chunk_size=100)
    assert created.status == 202 and created.body["status"] == "validating"
    # Then the lifecycle validates it in steps and runs it to the end
    job = driver.run_until_final(created.body["id"])
    assert job.status == JobStatus.COMPLETED and job.request_count == 230
    lines = read_lines(job.results_key)
    assert Counter(line["custom_id"] for line in lines) == Counter(r["custom_id"] for r in requests)
    # one copy step, five line steps, two duplicate-check steps (groups of 50 ids), the acceptance
    assert job.validation is not None and job.validation.runs == 5 and job.validation.step == 9
    assert job.validation.done and job.validation.offset == len(payload) and job.validation.lines == 231
    assert len(_objects(aws, f"inputs/tenant-a/{job.job_id}/validation/")) == 5
    assert [e["type"] for e in driver.published_events()] == ["job.completed"]


def test_every_message_twice_changes_nothing(api, aws, fake, clock, monkeypatch, small_steps):
    from tests.support.driver import Driver

    monkeypatch.setenv("CREATION_LEASE_SECONDS", "0")
    get_settings.cache_clear()
    twice = Driver(aws, clock, duplicate=True)
    requests = chat_requests(120)
    job = twice.run_until_final(upload_job(api, aws, jsonl(requests)).body["id"])
    assert job.status == JobStatus.COMPLETED and job.request_count == 120
    assert len(read_lines(job.results_key)) == 120
    assert len(twice.published_events()) == 1


def test_a_step_that_dies_is_redone_and_the_steps_before_it_are_not(api, aws, fake, driver, small_steps, monkeypatch):
    # Given steps that count the lines they check, and a third line step that dies once
    from batchrelay.lifecycle import input_validation

    checked: Counter[int] = Counter()
    real = input_validation.check_upload_line

    def check(raw, line, **kwargs):
        checked[line] += 1
        if line == 125 and checked[line] == 1:
            raise RuntimeError("the function timed out")
        return real(raw, line, **kwargs)

    monkeypatch.setattr(input_validation, "check_upload_line", check)
    requests = chat_requests(200)
    # When the job validates
    job = driver.run_until_final(upload_job(api, aws, jsonl(requests)).body["id"])
    # Then it completes; the dead step's lines were checked again, no other line was
    assert job.status == JobStatus.COMPLETED and job.request_count == 200
    assert driver.failures[c.JOBS_QUEUE] == 1
    assert {line for line, times in checked.items() if times > 1} == set(range(101, 126))
    assert set(checked) == set(range(1, 201))


def test_a_lost_validate_message_is_sent_again_by_the_poller(api, aws, fake, driver, small_steps):
    # Given a job whose `validate` message was lost after two steps
    created = upload_job(api, aws, jsonl(chat_requests(150)))
    job_id = created.body["id"]
    from batchrelay.lifecycle.input_validation import validate_input

    validate_input(job_id)
    validate_input(job_id)
    clients.sqs().purge_queue(QueueUrl=aws["JOBS_QUEUE_URL"])
    assert driver.drain(c.JOBS_QUEUE) == 0
    assert job_store.get_job(job_id).validation.step == 2
    # When the poller runs before the resend time, nothing is sent; after it, once
    assert run_poll(now=time.time(), deadline=time.time() + 30)["resent"] == 0
    later = time.time() + c.VALIDATING_JOB_RESEND_SECONDS + 1
    assert run_poll(now=later, deadline=time.time() + 30)["resent"] == 1
    assert run_poll(now=later, deadline=time.time() + 30)["resent"] == 0
    # Then validation resumes where it was and the job runs to the end, out of the safety net
    job = driver.run_until_final(job_id)
    assert job.status == JobStatus.COMPLETED and job.request_count == 150
    assert run_poll(now=later + 10 * c.VALIDATING_JOB_RESEND_SECONDS, deadline=time.time() + 30)["resent"] == 0


def test_a_bad_line_fails_the_job_with_one_event_and_nothing_sent(api, aws, fake, driver, small_steps):
    # Given an upload whose line 180 has no body.model (after three good steps)
    requests = chat_requests(200)
    del requests[179]["body"]["model"]
    created = upload_job(api, aws, jsonl(requests))
    # When it validates
    job = driver.run_until_final(created.body["id"])
    # Then the job failed with the line and the field, and no provider saw anything
    assert job.status == JobStatus.FAILED
    assert job.error == {"code": "invalid_request", "message": "body.model must be a non-empty string",
                         "field": "body.model", "line": 180}
    assert fake.calls["create"] == 0 and chunk_store.list_chunks(job.job_id) == []
    assert _objects(aws, f"chunks/{job.job_id}/") == [] and _objects(aws, f"results/{job.job_id}/") == []
    assert job.results_key is None and job.manifest_key is None and job.event_published
    # And exactly one job.failed event says why, with no results links
    events = driver.published_events()
    assert [e["type"] for e in events] == ["job.failed"]
    assert events[0]["id"] == f"evt_{job.job_id}_failed"
    assert events[0]["data"]["error"] == job.error and events[0]["data"]["results_url"] is None
    # And the API shows it failed, with no results to fetch
    view = api.call("GET", f"/v1/jobs/{job.job_id}").body
    assert view["status"] == "failed" and view["error"]["line"] == 180 and view["progress"] == 1.0
    assert api.call("GET", f"/v1/jobs/{job.job_id}/results").body["error"]["code"] == "no_results"


def test_a_repeated_id_across_steps_fails_the_job_on_the_first_repeat(api, aws, fake, driver, small_steps):
    # Given ids repeated far apart: line 170 repeats line 20, line 140 repeats line 130
    requests = chat_requests(200)
    requests[169]["custom_id"] = requests[19]["custom_id"]
    requests[139]["custom_id"] = requests[129]["custom_id"]
    job = driver.run_until_final(upload_job(api, aws, jsonl(requests)).body["id"])
    assert job.status == JobStatus.FAILED and job.error["field"] == "custom_id"
    assert job.error["line"] == 140 and "(line 130)" in job.error["message"]
    assert fake.calls["create"] == 0


def test_ids_that_share_a_hash_are_not_duplicates(api, aws, fake, driver, small_steps, monkeypatch):
    from batchrelay.validation import duplicate_ids

    monkeypatch.setattr(duplicate_ids, "id_hash", lambda custom_id: hash(custom_id) % 7)
    job = driver.run_until_final(upload_job(api, aws, jsonl(chat_requests(120))).body["id"])
    assert job.status == JobStatus.COMPLETED and job.request_count == 120


def test_a_job_cancelled_while_validating_ends_cancelled_without_running(api, aws, fake, driver, small_steps):
    # Given a job two steps into its validation
    created = upload_job(api, aws, jsonl(chat_requests(300)))
    job_id = created.body["id"]
    from batchrelay.lifecycle.input_validation import validate_input

    validate_input(job_id)
    validate_input(job_id)
    # When it is cancelled
    answer = api.call("POST", f"/v1/jobs/{job_id}/cancel")
    assert answer.status == 202 and answer.body["status"] == "cancelling"
    job = driver.run_until_final(job_id)
    # Then it ends cancelled, nothing planned or sent, one event, no results
    assert job.status == JobStatus.CANCELLED and job.results_key is None
    assert fake.calls["create"] == 0 and chunk_store.list_chunks(job_id) == []
    assert [e["type"] for e in driver.published_events()] == ["job.cancelled"]
    assert api.call("GET", f"/v1/jobs/{job_id}/results").status == 404


def test_a_large_upload_is_copied_in_parts(api, aws, fake, driver, monkeypatch):
    # Given copies in parts of S3's minimum part size, and an upload of more than two parts
    monkeypatch.setattr(c, "INPUT_COPY_PART_BYTES", c.S3_MIN_PART_BYTES)
    requests = chat_requests(11_000)
    for request in requests:
        request["body"]["messages"][0]["content"] = "x" * 900
    payload = jsonl(requests)
    assert len(payload) > 2 * c.S3_MIN_PART_BYTES
    # When the job runs
    job = driver.run_until_final(upload_job(api, aws, payload, chunk_size=5000).body["id"])
    # Then its input is the upload, byte for byte, and every request has its line
    assert job.status == JobStatus.COMPLETED and job.request_count == 11_000
    body = boto3.client("s3").get_object(Bucket=aws["BUCKET_NAME"], Key=job.input_key)["Body"].read()
    assert body == payload
    assert len(read_lines(job.results_key)) == 11_000


def test_jobs_are_listed_and_filtered_as_validating(api, aws, fake):
    created = upload_job(api, aws, jsonl(chat_requests(3)))
    listed = api.call("GET", "/v1/jobs", query={"status": "validating"}).body["data"]
    assert [job["id"] for job in listed] == [created.body["id"]]
    assert api.call("GET", "/v1/jobs", query={"status": "queued"}).body["data"] == []


def test_a_step_ends_at_its_byte_budget_even_among_blank_lines(api, aws, fake, driver, monkeypatch):
    # Given steps of 1,000 bytes and an upload with 5,000 blank lines between two requests
    monkeypatch.setenv(c.ENV_VALIDATION_STEP_BYTES, "1000")
    get_settings.cache_clear()
    requests = chat_requests(2)
    payload = jsonl(requests[:1]) + b"\n" * 5_000 + jsonl(requests[1:])
    job = driver.run_until_final(upload_job(api, aws, payload).body["id"])
    # Then the blank lines took several steps, and the second request is on line 5,002
    assert job.status == JobStatus.COMPLETED and job.request_count == 2
    assert job.validation is not None and job.validation.lines == 5_002 and job.validation.step > 6
