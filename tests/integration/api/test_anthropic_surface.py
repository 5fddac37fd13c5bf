"""The Anthropic surface's routes on moto: Message Batches as Anthropic's API has them, its
error shape, absolute results URLs with the stage, one tenant's batches out of another's reach.
Every answer is validated against the anthropic SDK's own models."""

from __future__ import annotations

import pytest

from batchrelay import constants as c
from batchrelay.models.job import JobStatus, SurfaceFile
from batchrelay.store import job_store
from tests.support.anthropic_surface import validate_answer
from tests.support.api_client import ApiAnswer, ApiClient

PARAMS = {"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
HOST = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}


def call(method: str, path: str, body=None, *, tenant: str = "tenant-a", headers=None, query=None) -> ApiAnswer:
    answer = ApiClient(tenant).call(method, c.ANTHROPIC_PREFIX + path, body, headers={**HOST, **(headers or {})},
                                    query=query)
    validate_answer(method, path, answer.status, answer.body)
    return answer


def create(n: int = 3, **headers) -> dict:
    answer = call("POST", "/messages/batches",
                  {"requests": [{"custom_id": f"r-{i}", "params": PARAMS} for i in range(n)]}, headers=headers)
    assert answer.status == 200, answer.body
    return answer.body


def end(batch_id: str, status: JobStatus = JobStatus.COMPLETED) -> None:
    """The batch as the finalizer leaves it: final, results in Anthropic's shape written."""
    job = job_store.get_job(batch_id)
    job_store.update_job_fields(
        batch_id, status=str(status), finished_at="2030-01-01T00:00:00.000Z",
        counts={"succeeded": job.request_count, "errored": 0, "expired": 0, "cancelled": 0},
        surface_files={"results": SurfaceFile(key=f"results/{batch_id}/anthropic/results.jsonl", bytes=1,
                                              lines=job.request_count).model_dump()},
    )


def test_a_message_batch_is_a_job_in_progress_with_every_request_processing(aws):
    batch = create(3)
    assert batch["type"] == "message_batch" and batch["processing_status"] == "in_progress"
    assert batch["request_counts"] == {"processing": 3, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    assert batch["results_url"] is None and batch["ended_at"] is None and batch["archived_at"] is None
    job = ApiClient().call("GET", f"/v1/jobs/{batch['id']}").body
    assert job["provider"] == "anthropic" and job["endpoint"] == "/v1/messages" and job["request_count"] == 3
    assert call("GET", f"/messages/batches/{batch['id']}").body == batch


def test_an_ended_batch_has_an_absolute_results_url_with_the_stage_that_redirects_to_s3(aws):
    batch = create(2)
    end(batch["id"])
    ended = call("GET", f"/messages/batches/{batch['id']}").body
    assert ended["processing_status"] == "ended" and ended["ended_at"] == "2030-01-01T00:00:00.000Z"
    assert ended["request_counts"]["succeeded"] == 2 and ended["request_counts"]["processing"] == 0
    # The event says the client called /prod/anthropic/v1/...: the stage is in the URL
    assert ended["results_url"] == (
        f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/anthropic/v1/messages/batches/{batch['id']}/results")
    results = call("GET", f"/messages/batches/{batch['id']}/results")
    assert results.status == 307 and f"results/{batch['id']}/anthropic/results.jsonl" in results.headers["Location"]


def test_results_before_the_end_are_not_found(aws):
    batch = create(1)
    answer = call("GET", f"/messages/batches/{batch['id']}/results")
    assert answer.status == 404 and answer.body["error"]["type"] == "not_found_error"


def test_list_newest_first_with_after_id_before_id_and_limit(aws):
    ids = [create(1)["id"] for _ in range(4)]
    ApiClient().call("POST", "/v1/jobs", {"provider": "anthropic", "endpoint": "/v1/messages",
                                          "requests": [{"custom_id": "native", "body": PARAMS}]})
    first = call("GET", "/messages/batches", query={"limit": "2"}).body
    assert [b["id"] for b in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    assert (first["first_id"], first["last_id"]) == (ids[3], ids[2])
    after = call("GET", "/messages/batches", query={"limit": "2", "after_id": first["last_id"]}).body
    assert [b["id"] for b in after["data"]] == [ids[1], ids[0]] and after["has_more"] is False
    before = call("GET", "/messages/batches", query={"limit": "1", "before_id": ids[1]}).body
    assert [b["id"] for b in before["data"]] == [ids[2]] and before["has_more"] is True
    assert call("GET", "/messages/batches", query={"limit": "0"}).status == 400


def test_cancel_is_canceling_then_an_ended_batch_is_answered_as_it_is(aws):
    batch = create(2)
    canceling = call("POST", f"/messages/batches/{batch['id']}/cancel").body
    assert canceling["processing_status"] == "canceling" and canceling["cancel_initiated_at"]
    end(batch["id"], JobStatus.CANCELLED)
    again = call("POST", f"/messages/batches/{batch['id']}/cancel")
    assert again.status == 200 and again.body["processing_status"] == "ended"


def test_only_an_ended_batch_is_deleted_and_then_it_is_gone(aws):
    batch = create(1)
    refused = call("DELETE", f"/messages/batches/{batch['id']}")
    assert refused.status == 409 and refused.body["error"]["type"] == "invalid_request_error"
    end(batch["id"])
    assert call("DELETE", f"/messages/batches/{batch['id']}").body == {"id": batch["id"],
                                                                        "type": "message_batch_deleted"}
    for method, path in (("GET", f"/messages/batches/{batch['id']}"),
                         ("GET", f"/messages/batches/{batch['id']}/results"),
                         ("DELETE", f"/messages/batches/{batch['id']}")):
        assert call(method, path).status == 404
    assert batch["id"] not in [b["id"] for b in call("GET", "/messages/batches").body["data"]]


def test_bad_requests_get_anthropics_error_shape_naming_the_request(aws):
    cases = [
        ({"requests": []}, "requests"),
        ({"requests": [{"custom_id": "a", "params": {**PARAMS, "max_tokens": "many"}}]},
         "requests[0].params.max_tokens"),
        ({"requests": [{"custom_id": "a", "params": PARAMS}, {"custom_id": "a", "params": PARAMS}]},
         "requests[1].custom_id"),
        ({"requests": [{"custom_id": "a", "body": PARAMS}]}, "requests[0]"),
    ]
    for body, field in cases:
        answer = call("POST", "/messages/batches", body)
        assert answer.status == 400, (body, answer.body)
        assert answer.body["type"] == "error" and answer.body["error"]["type"] == "invalid_request_error"
        assert answer.body["error"]["message"].startswith(field), answer.body


def test_the_provider_is_anthropic_unless_the_header_names_another_of_its_format(aws):
    answer = call("POST", "/messages/batches", {"requests": [{"custom_id": "a", "params": PARAMS}]},
                  headers={c.PROVIDER_HEADER: "openai"})
    assert answer.status == 400 and c.PROVIDER_HEADER in answer.body["error"]["message"]


def test_another_tenants_batch_is_not_found(aws):
    batch = create(1)
    for method, path in (("GET", f"/messages/batches/{batch['id']}"),
                         ("POST", f"/messages/batches/{batch['id']}/cancel"),
                         ("GET", f"/messages/batches/{batch['id']}/results"),
                         ("DELETE", f"/messages/batches/{batch['id']}")):
        answer = call(method, path, tenant="tenant-b")
        assert answer.status == 404 and answer.body["error"]["type"] == "not_found_error"
    assert call("GET", "/messages/batches", tenant="tenant-b").body["data"] == []


@pytest.mark.parametrize("path", ["/v1/jobs/job_1", "/openai/v1/batches/job_1"])
def test_the_other_apis_keep_their_own_error_shapes(aws, path):
    body = ApiClient().call("GET", path).body
    assert body["error"].get("type") != "not_found_error"


def test_an_idempotency_key_makes_a_repeated_create_answer_the_same_batch(aws):
    assert create(2, **{"Idempotency-Key": "k-1"})["id"] == create(2, **{"Idempotency-Key": "k-1"})["id"]
    assert len(call("GET", "/messages/batches").body["data"]) == 1
