"""The job API through API Gateway proxy events: create, read, list, cancel, results."""

from __future__ import annotations

import json

import boto3
import orjson
import pytest

from batchrelay import registry
from batchrelay.models.job import JobStatus
from tests.support.api_client import ApiClient, chat_request, openai_job, stored_state


def _jobs_messages(env) -> list[dict]:
    sqs = boto3.client("sqs")
    out = sqs.receive_message(QueueUrl=env["JOBS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def test_create_job_stores_input_job_and_queues_one_message(api, aws):
    # Given a valid inline job
    # When it is posted
    answer = api.call("POST", "/v1/jobs", openai_job(3, metadata={"team": "search"}))
    # Then it is accepted and queued
    assert answer.status == 202
    job = answer.body
    assert job["status"] == "queued" and job["request_count"] == 3 and job["metadata"] == {"team": "search"}
    assert job["id"].startswith("job_")
    # And its input is in S3, one line per request
    key = f"inputs/tenant-a/{job['id']}/input.jsonl"
    lines = boto3.client("s3").get_object(Bucket=aws["BUCKET_NAME"], Key=key)["Body"].read().splitlines()
    assert [json.loads(line)["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    # And exactly one message names it
    assert _jobs_messages(aws) == [{"kind": "job", "job_id": job["id"]}]


def test_get_job_shows_counts_and_chunks(api):
    job = api.call("POST", "/v1/jobs", openai_job(2)).body
    answer = api.call("GET", f"/v1/jobs/{job['id']}")
    assert answer.status == 200
    assert answer.body["counts"] == {
        "total": 2, "succeeded": 0, "errored": 0, "expired": 0, "cancelled": 0, "pending": 2,
    }
    assert answer.body["chunks"] == [] and answer.body["results"] is None


def test_idempotency_key_returns_the_same_job(api, aws):
    first = api.call("POST", "/v1/jobs", openai_job(2), headers={"Idempotency-Key": "abc"})
    again = api.call("POST", "/v1/jobs", openai_job(2), headers={"Idempotency-Key": "abc"})
    assert first.status == again.status == 202
    assert again.body["id"] == first.body["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    listed = api.call("GET", "/v1/jobs").body["data"]
    assert [j["id"] for j in listed] == [first.body["id"]]


def test_idempotency_key_with_a_different_body_is_refused(api):
    api.call("POST", "/v1/jobs", openai_job(2), headers={"Idempotency-Key": "abc"})
    answer = api.call("POST", "/v1/jobs", openai_job(3), headers={"Idempotency-Key": "abc"})
    assert answer.status == 409
    assert answer.body["error"]["code"] == "idempotency_key_reused"
    assert answer.body["error"]["field"] == "Idempotency-Key"


def test_replay_requeues_a_job_whose_message_was_lost(api, aws):
    # Given a job created while its queue message was lost
    job = api.call("POST", "/v1/jobs", openai_job(1), headers={"Idempotency-Key": "k1"}).body
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=aws["JOBS_QUEUE_URL"])
    # When the client retries with the same key
    api.call("POST", "/v1/jobs", openai_job(1), headers={"Idempotency-Key": "k1"})
    # Then the job is queued again (the submitter ignores repeats)
    assert _jobs_messages(aws) == [{"kind": "job", "job_id": job["id"]}]


def test_tenants_never_see_each_others_jobs(api):
    job = api.call("POST", "/v1/jobs", openai_job(1)).body
    other = ApiClient(api_key_id="tenant-b")
    assert other.call("GET", f"/v1/jobs/{job['id']}").status == 404
    assert other.call("POST", f"/v1/jobs/{job['id']}/cancel").status == 404
    assert other.call("GET", f"/v1/jobs/{job['id']}/results").status == 404
    assert other.call("GET", "/v1/jobs").body["data"] == []
    assert api.call("GET", f"/v1/jobs/{job['id']}").status == 200


def test_missing_api_key_is_401(api):
    answer = api.call("GET", "/v1/jobs", api_key_id="")
    assert answer.status == 401
    assert answer.body["error"]["code"] == "unauthenticated"


def test_list_is_newest_first_paginated_and_filtered(api):
    ids = [api.call("POST", "/v1/jobs", openai_job(1)).body["id"] for _ in range(5)]
    page1 = api.call("GET", "/v1/jobs", query={"limit": "2"}).body
    page2 = api.call("GET", "/v1/jobs", query={"limit": "2", "cursor": page1["next_cursor"]}).body
    page3 = api.call("GET", "/v1/jobs", query={"limit": "2", "cursor": page2["next_cursor"]}).body
    seen = [j["id"] for j in page1["data"] + page2["data"] + page3["data"]]
    assert seen == list(reversed(ids))
    api.call("POST", f"/v1/jobs/{ids[0]}/cancel")
    cancelling = api.call("GET", "/v1/jobs", query={"status": "cancelling"}).body["data"]
    assert [j["id"] for j in cancelling] == [ids[0]]
    assert api.call("GET", "/v1/jobs", query={"status": "nope"}).status == 400
    assert api.call("GET", "/v1/jobs", query={"limit": "0"}).status == 400
    assert api.call("GET", "/v1/jobs", query={"cursor": "garbage!"}).status == 400


def test_cancel_marks_cancelling_and_queues_a_cancel(api, aws):
    job = api.call("POST", "/v1/jobs", openai_job(1)).body
    _jobs_messages(aws)  # drain the job message
    answer = api.call("POST", f"/v1/jobs/{job['id']}/cancel")
    assert answer.status == 202 and answer.body["status"] == "cancelling"
    assert {"kind": "cancel", "job_id": job["id"]} in _jobs_messages(aws)


def test_cancel_of_a_final_job_is_409(api):
    from batchrelay.models.job import JobStatus
    from batchrelay.store import job_store

    job = api.call("POST", "/v1/jobs", openai_job(1)).body
    job_store.transition_job(job["id"], JobStatus.QUEUED, JobStatus.FAILED)
    answer = api.call("POST", f"/v1/jobs/{job['id']}/cancel")
    assert answer.status == 409 and answer.body["error"]["code"] == "not_cancellable"


def test_results_are_409_until_final_then_presigned(api, aws):
    from batchrelay.models.job import JobStatus
    from batchrelay.store import job_store

    job = api.call("POST", "/v1/jobs", openai_job(1)).body
    answer = api.call("GET", f"/v1/jobs/{job['id']}/results")
    assert answer.status == 409 and answer.body["error"]["code"] == "job_not_final"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=aws["BUCKET_NAME"], Key=f"results/{job['id']}/results.jsonl", Body=b"{}\n")
    s3.put_object(Bucket=aws["BUCKET_NAME"], Key=f"results/{job['id']}/manifest.json", Body=b"{}")
    job_store.transition_job(job["id"], JobStatus.QUEUED, JobStatus.SUBMITTING)
    job_store.transition_job(job["id"], JobStatus.SUBMITTING, JobStatus.IN_PROGRESS)
    job_store.transition_job(job["id"], JobStatus.IN_PROGRESS, JobStatus.FINALIZING)
    job_store.transition_job(
        job["id"], JobStatus.FINALIZING, JobStatus.COMPLETED,
        results_key=f"results/{job['id']}/results.jsonl", manifest_key=f"results/{job['id']}/manifest.json",
    )
    answer = api.call("GET", f"/v1/jobs/{job['id']}/results")
    assert answer.status == 200
    assert f"results/{job['id']}/results.jsonl" in answer.body["results_url"]
    assert "X-Amz-Signature" in answer.body["manifest_url"]


def test_health_and_unknown_routes(api):
    assert api.call("GET", "/v1/health").body["status"] == "ok"
    answer = api.call("GET", "/v1/nothing-here")
    assert answer.status == 404 and answer.body["error"]["code"] == "route_not_found"


def test_openapi_matches_the_routes(api):
    spec = api.call("GET", "/v1/openapi.json").body
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/results",
                 "/v1/uploads", "/v1/uploads/{upload_id}/parts", "/v1/uploads/{upload_id}/complete", "/v1/health"):
        assert path in paths, path
    create = paths["/v1/jobs"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    props = spec["components"]["schemas"][schema_ref]["properties"]
    assert {"provider", "endpoint", "requests", "upload_id", "webhook_url", "metadata", "chunk_size",
            "max_attempts"} <= set(props)
    assert any(p["name"].lower() == "idempotency-key" for p in create.get("parameters", []))
    assert props["provider"]["enum"] == list(registry.names())

    # Every job status is described, validating first (a job from an upload starts there)
    job_out = spec["components"]["schemas"]["JobOut"]["properties"]
    assert job_out["status"]["enum"][:2] == ["validating", "queued"]
    assert {"failed", "cancelling", "completed_with_errors"} <= set(job_out["status"]["enum"])
    assert "validating" in job_out["status"]["description"] and "validation" in job_out
    listing = next(p for p in paths["/v1/jobs"]["get"]["parameters"] if p["name"] == "status")
    assert "validating" in listing["description"]
    upload_request = spec["components"]["schemas"]["CreateUploadRequest"]["properties"]
    assert {"size", "part_size"} <= set(upload_request)


def test_openapi_is_a_valid_document_with_the_job_event_as_a_webhook(api):
    from openapi_spec_validator import validate

    spec = api.call("GET", "/v1/openapi.json").body
    validate(spec)
    ref = spec["webhooks"]["job-event"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/JobEvent"
    event = spec["components"]["schemas"]["JobEvent"]
    assert {"id", "type", "timestamp", "data"} <= set(event["required"])


def test_the_job_event_schema_is_published_and_describes_the_events_we_send(api):
    import jsonschema

    from batchrelay.models.api import CostOut
    from batchrelay.notifications.events import build_job_event
    from tests.support.jobs import make_job

    # Given the published schema
    answer = api.call("GET", "/v1/schemas/job-event.json")
    assert answer.status == 200
    schema = answer.body
    # When an event is built the way the finalizer builds it
    job = make_job(status=JobStatus.COMPLETED, finished_at="2026-01-01T00:00:00.000Z")
    event = build_job_event(job, results_url="https://x", cost=CostOut(batch="1", synchronous="2", saved="1"))
    # Then it validates against the schema, and a malformed one does not
    jsonschema.validate(orjson.loads(event.model_dump_json()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "x", "type": "job.exploded", "timestamp": "t", "data": {}}, schema)


def test_unexpected_errors_never_leak_a_stack_trace(api, monkeypatch):
    from batchrelay.jobs import job_service

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(job_service, "list_jobs", explode)
    answer = api.call("GET", "/v1/jobs")
    assert answer.status == 500
    assert "secret" not in json.dumps(answer.body) and "Traceback" not in json.dumps(answer.body)
    assert answer.body["error"]["code"] == "internal_error"


@pytest.mark.parametrize(("request_count", "chunk_size"), [(1, 1), (50, 50), (150, 100), (150, 1000)])
def test_chunk_size_and_max_attempts_are_kept(api, request_count, chunk_size):
    job = api.call("POST", "/v1/jobs", openai_job(request_count, chunk_size=chunk_size, max_attempts=2)).body
    from batchrelay.store import job_store

    stored = job_store.get_job(job["id"])
    assert (stored.chunk_size, stored.max_attempts, stored.request_count) == (chunk_size, 2, request_count)


def test_anthropic_job_is_accepted(api):
    body = {
        "provider": "anthropic",
        "endpoint": "/v1/messages",
        "requests": [
            {"custom_id": "a b/c", "body": {"model": "claude-x", "max_tokens": 10, "messages": []}},
        ],
    }
    assert api.call("POST", "/v1/jobs", body).status == 202


@pytest.mark.parametrize(("asked", "kept"), [({}, 24), ({"timeout_hours": 72}, 72)])
def test_a_mistral_job_keeps_its_timeout_hours_and_shows_it(api, asked, kept):
    body = {"provider": "mistral", "endpoint": "/v1/embeddings",
            "requests": [{"custom_id": "a", "body": {"model": "mistral-embed", "input": ["x"]}}], **asked}
    created = api.call("POST", "/v1/jobs", body)
    assert created.status == 202 and created.body["timeout_hours"] == kept
    assert api.call("GET", f"/v1/jobs/{created.body['id']}").body["timeout_hours"] == kept


def test_a_job_of_a_provider_without_a_timeout_setting_shows_none(api):
    assert api.call("POST", "/v1/jobs", openai_job(1)).body["timeout_hours"] is None


def test_chat_request_helper_is_valid(api):
    assert api.call("POST", "/v1/jobs", {**openai_job(0), "requests": [chat_request("x")]}).status == 202


def test_nothing_is_written_before_validation_passes(api, aws):
    before = stored_state(aws)
    bad = openai_job(2)
    bad["requests"][1]["body"] = []
    assert api.call("POST", "/v1/jobs", bad).status == 400
    assert stored_state(aws) == before


def test_a_form_encoded_body_gets_a_clear_415(api):
    # curl -d without a content-type header sends application/x-www-form-urlencoded
    answer = api.call(
        "POST", "/v1/jobs", openai_job(1), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status == 415
    assert answer.body["error"]["field"] == "content-type"
    assert "application/json" in answer.body["error"]["message"]


def test_a_cursor_of_another_shape_or_tenant_is_refused(api):
    import base64

    for forged in ({"pk": "x"}, {}, {"pk": "JOB#j", "sk": "JOB", "gsi1pk": "TENANT#tenant-b", "gsi1sk": "z"}):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        answer = api.call("GET", "/v1/jobs", query={"cursor": cursor})
        assert answer.status == 400 and answer.body["error"]["field"] == "cursor", forged
