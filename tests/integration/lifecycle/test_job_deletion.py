"""DELETE /v1/jobs/{id}: a final job's input, chunk files, raw provider files, results and
table items go; a small job in the request (200), a big one behind the queue in bounded
steps (202, progress on GET, then 404); only final jobs (409), only the tenant's own (404)."""

from __future__ import annotations

import time
from collections import Counter
from types import SimpleNamespace

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.clock import now_iso
from batchrelay.ids import new_id
from batchrelay.lifecycle import job_deletion
from batchrelay.models.job import JobStatus
from batchrelay.models.webhooks import Delivery
from batchrelay.settings import get_settings
from batchrelay.store import delivery_store, job_store
from tests.support.api_client import ApiClient
from tests.support.stored_jobs import chat_requests, items_of_job, objects_of_job, submit_job

TENANT = "tenant-a"
KINDS = {c.INPUTS_PREFIX: "inputs", c.CHUNKS_PREFIX: "chunk_files", c.RAW_PREFIX: "raw_files",
         c.RESULTS_PREFIX: "results"}


def _final_job(driver, fake, requests: int, chunk_size: int = 100, **overrides):
    """A job of the tenant run to its end (with a retry chunk and a delivery record)."""
    fake.outcome_for = lambda pcid, attempt: "retryable" if attempt == 1 and pcid.endswith("3") else "succeeded"
    job_id = new_id("job")
    job = submit_job(chat_requests(requests), job_id=job_id, tenant_id=TENANT, chunk_size=chunk_size,
                     input_key=f"inputs/{TENANT}/{job_id}/input.jsonl", idempotency_key=f"key-{job_id}",
                     **overrides)
    job = driver.run_until_final(job.job_id)
    now = now_iso()
    delivery_store.create_delivery(Delivery(
        job_id=job.job_id, event_id=job.event_id or "evt", event_type="job.completed", endpoint_id="whe_1",
        tenant_id=TENANT, url="https://hooks.example.com/x", payload="{}", created_at=now, updated_at=now,
    ))
    return job


def _expected_removed(job) -> dict[str, int]:
    by_kind = Counter(KINDS[key.split("/")[0] + "/"] for key in objects_of_job(TENANT, job.job_id))
    return {"inputs": 0, "chunk_files": 0, "raw_files": 0, "results": 0, "provider_files": 0,
            "table_items": len(items_of_job(job.job_id)), **by_kind}


def _assert_nothing_left(api: ApiClient, job) -> None:
    assert objects_of_job(TENANT, job.job_id) == []
    assert items_of_job(job.job_id) == []
    assert api.call("GET", f"/v1/jobs/{job.job_id}").status == 404
    assert api.call("GET", f"/v1/jobs/{job.job_id}/results").status == 404
    assert api.call("GET", f"/v1/jobs/{job.job_id}/deliveries").status == 404
    assert job.job_id not in [j["id"] for j in api.call("GET", "/v1/jobs").body["data"]]
    assert api.call("DELETE", f"/v1/jobs/{job.job_id}").status == 404


def test_a_small_job_is_deleted_in_the_request(fake, driver):
    # Given a final job with results, raw files, chunk files, claims, a delivery, an idempotency key
    job = _final_job(driver, fake, 250)
    api = ApiClient()
    assert api.call("GET", f"/v1/jobs/{job.job_id}/results").status == 200
    expected = _expected_removed(job)
    assert all(expected[kind] for kind in ("inputs", "chunk_files", "raw_files", "results"))

    # When its tenant deletes it
    answer = api.call("DELETE", f"/v1/jobs/{job.job_id}")

    # Then the answer says what was removed, per kind, and nothing is left
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "deleted" and answer.body["id"] == job.job_id
    assert answer.body["removed"] == expected
    assert answer.body["to_remove"] is None
    _assert_nothing_left(api, job)
    # And nothing was left for the queue
    driver.drain(c.COLLECT_QUEUE)
    assert driver.kinds["delete"] == 0


def test_the_idempotency_key_of_a_deleted_job_is_free_again(aws):
    api = ApiClient()
    body = {"provider": "openai", "endpoint": "/v1/chat/completions", "requests": chat_requests(2)}
    first = api.call("POST", "/v1/jobs", body, headers={"Idempotency-Key": "k-1"}).body["id"]
    job_store.transition_job(first, JobStatus.QUEUED, JobStatus.FAILED, finished_at=now_iso())
    assert api.call("DELETE", f"/v1/jobs/{first}").status == 200
    second = api.call("POST", "/v1/jobs", body, headers={"Idempotency-Key": "k-1"})
    assert second.status == 202 and second.body["id"] != first


def test_only_a_final_job_of_the_tenant_can_be_deleted(fake, driver):
    # Given a job that is still running
    fake.processing_s = 3600
    job_id = new_id("job")
    job = submit_job(chat_requests(10), job_id=job_id, tenant_id=TENANT, input_key=f"inputs/{TENANT}/{job_id}/x")
    driver.drain(c.JOBS_QUEUE)
    before = (objects_of_job(TENANT, job.job_id), items_of_job(job.job_id))

    # When its tenant asks to delete it: 409 naming the status
    answer = ApiClient().call("DELETE", f"/v1/jobs/{job.job_id}")
    assert answer.status == 409
    assert answer.body["error"]["code"] == "job_not_final" and "in_progress" in answer.body["error"]["message"]

    # And another tenant: 404, as if there were no such job
    assert ApiClient("tenant-b").call("DELETE", f"/v1/jobs/{job.job_id}").status == 404

    # Then nothing changed
    assert (objects_of_job(TENANT, job.job_id), items_of_job(job.job_id)) == before
    assert job_store.get_job(job.job_id).status == JobStatus.IN_PROGRESS


def test_another_tenant_cannot_delete_a_final_job(fake, driver):
    job = _final_job(driver, fake, 20)
    assert ApiClient("tenant-b").call("DELETE", f"/v1/jobs/{job.job_id}").status == 404
    assert job_store.get_job(job.job_id).status == JobStatus.COMPLETED


def test_a_big_job_is_deleted_behind_the_queue_in_bounded_steps(fake, driver, monkeypatch):
    # Given a job too big to delete in the request, and steps of at most 25 deletions
    monkeypatch.setattr(job_deletion, "INLINE_MAX_CHUNKS", 3)
    monkeypatch.setattr(job_deletion, "STEP_MAX_DELETIONS", 25)
    job = _final_job(driver, fake, 600)
    expected = _expected_removed(job)
    api = ApiClient()

    # When its tenant deletes it
    answer = api.call("DELETE", f"/v1/jobs/{job.job_id}")

    # Then the answer is 202 with what will be removed, and results are gone from the API at once
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "deleting"
    assert answer.body["removed"]["table_items"] == 0
    plan = answer.body["to_remove"]
    chunks = len([i for i in items_of_job(job.job_id) if i["sk"].startswith("CHUNK#")])
    assert (plan["chunks"], plan["deliveries"], plan["table_items"]) == (chunks, 1, expected["table_items"])
    assert plan["prefixes"] == [f"results/{job.job_id}/", f"raw/{job.job_id}/", f"bedrock-output/{job.job_id}/",
                                f"chunks/{job.job_id}/", f"inputs/{TENANT}/{job.job_id}/"]
    got = api.call("GET", f"/v1/jobs/{job.job_id}").body
    assert got["status"] == "deleting" and got["results"] is None and got["deletion"]["removed"]["results"] == 0
    assert api.call("GET", f"/v1/jobs/{job.job_id}/results").status == 409

    # And the collector works through it a step at a time, progress showing on GET
    progress = []
    while driver.deliver_one(c.COLLECT_QUEUE):
        got = api.call("GET", f"/v1/jobs/{job.job_id}")
        if got.status == 200:
            progress.append(got.body["deletion"]["removed"])
    assert driver.kinds["delete"] > 2
    assert len(progress) >= 2
    assert [sum(p.values()) for p in progress] == sorted(sum(p.values()) for p in progress)
    _assert_nothing_left(api, job)


def test_a_repeated_delete_answers_the_progress(fake, driver, monkeypatch):
    monkeypatch.setattr(job_deletion, "INLINE_MAX_CHUNKS", 0)
    job = _final_job(driver, fake, 200)
    api = ApiClient()
    assert api.call("DELETE", f"/v1/jobs/{job.job_id}").status == 202
    again = api.call("DELETE", f"/v1/jobs/{job.job_id}")
    assert again.status == 202 and again.body["status"] == "deleting"
    driver.drain(c.COLLECT_QUEUE)
    assert driver.kinds["delete"] == 1  # the repeat queued nothing
    _assert_nothing_left(api, job)


def test_a_lost_deletion_step_is_sent_again_by_the_poller(fake, driver, monkeypatch):
    monkeypatch.setattr(job_deletion, "INLINE_MAX_CHUNKS", 0)
    job = _final_job(driver, fake, 200)
    api = ApiClient()
    assert api.call("DELETE", f"/v1/jobs/{job.job_id}").status == 202
    clients.sqs().purge_queue(QueueUrl=get_settings().collect_queue_url)  # the message is lost

    assert driver.poll(60)["resent"] == 0
    assert driver.poll(job_deletion.SAFETY_NET_S)["resent"] == 1
    driver.drain(c.COLLECT_QUEUE)
    _assert_nothing_left(api, job)


def test_a_step_that_fails_leaves_the_job_to_the_safety_net(fake, driver, monkeypatch):
    # Given a deletion whose step in the request fails half way (the lease is released)
    job = _final_job(driver, fake, 100)
    real = job_deletion.s3_objects.delete_keys
    calls = []

    def fail_after_the_first(keys, **kwargs):
        calls.append(keys)
        if len(calls) > 1:
            raise RuntimeError("S3 said no")
        return real(keys, **kwargs)

    monkeypatch.setattr(job_deletion.s3_objects, "delete_keys", fail_after_the_first)
    api = ApiClient()
    assert api.call("DELETE", f"/v1/jobs/{job.job_id}").status == 500
    monkeypatch.setattr(job_deletion.s3_objects, "delete_keys", real)
    deleting = job_store.get_job(job.job_id)
    assert deleting.status == JobStatus.DELETING and deleting.deletion.removed.results > 0

    # When the safety-net time comes, the poller sends `delete` and the collector finishes
    assert driver.poll(job_deletion.SAFETY_NET_S + 60)["resent"] == 1
    driver.drain(c.COLLECT_QUEUE)
    _assert_nothing_left(api, job)


def test_a_step_that_died_holding_the_lease_is_taken_over_after_it(fake, driver, monkeypatch):
    # Given a deletion whose step died holding the lease (a timeout: nothing released it)
    monkeypatch.setattr(job_deletion, "INLINE_MAX_CHUNKS", 0)
    monkeypatch.setattr(job_deletion, "time", SimpleNamespace(time=driver.clock, monotonic=time.monotonic))
    job = _final_job(driver, fake, 100)
    api = ApiClient()
    assert api.call("DELETE", f"/v1/jobs/{job.job_id}").status == 202
    now = driver.clock()
    assert job_store.claim_deletion_step(job.job_id, now=now, lease_until=now + 180, due_at=int(now) + 900)

    # When the queued step comes meanwhile, it leaves the job alone
    driver.drain(c.COLLECT_QUEUE)
    assert objects_of_job(TENANT, job.job_id)

    # Then once the lease and the safety-net time are over, the poller's resend finishes it
    assert driver.poll(901)["resent"] == 1
    driver.drain(c.COLLECT_QUEUE)
    _assert_nothing_left(api, job)


def test_late_messages_about_a_deleted_job_change_nothing_and_fail_nothing(fake, driver):
    # Given a deleted job
    job = _final_job(driver, fake, 20)
    assert ApiClient().call("DELETE", f"/v1/jobs/{job.job_id}").status == 200

    # When messages about it arrive late (a redelivery, a stale safety-net send)
    from batchrelay.lifecycle import messages

    messages.send_collect_message(job.job_id, "c00001")
    messages.send_finalize_message(job.job_id)
    messages.send_cleanup_message(job.job_id, "c00001")
    messages.send_expire_message(job.job_id)
    messages.send_delete_message(job.job_id)
    driver.drain(c.COLLECT_QUEUE)

    # Then each is consumed without an error, and nothing comes back
    assert driver.failures[c.COLLECT_QUEUE] == 0
    assert items_of_job(job.job_id) == [] and objects_of_job(TENANT, job.job_id) == []
