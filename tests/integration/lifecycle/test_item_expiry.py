"""Table items expire with the data: TTLs only once the job is final, in bounded steps,
resumed by the poller when a step's message is lost; previous-version jobs when touched."""

from __future__ import annotations

import pytest

from batchrelay import constants as c
from batchrelay.clock import parse_iso
from batchrelay.lifecycle import item_expiry
from batchrelay.models.job import JobStatus
from batchrelay.settings import get_settings
from batchrelay.store import job_store
from batchrelay.store.table import table, to_dynamo
from tests.support.api_client import ApiClient
from tests.support.stored_jobs import chat_requests, items_of_job, submit_job

DAY = 86_400


def _retry_once(pcid: str, attempt: int) -> str:
    return "retryable" if attempt == 1 and pcid.endswith(("1", "7")) else "succeeded"


def _kinds(items: list[dict]) -> set[str]:
    return {item["pk"].split("#")[0] + ":" + item["sk"].split("#")[0] for item in items}


def test_items_get_their_ttl_only_once_the_job_is_final(fake, driver):
    # Given a job with an Idempotency-Key whose first batches fail in part (retry chunks, more claims)
    fake.processing_s = 300
    fake.outcome_for = _retry_once
    job = submit_job(chat_requests(250), chunk_size=100, idempotency_key="idem-ttl")
    seen_running = []

    def no_ttl_while_running(_round: int) -> None:
        current = job_store.get_job(job.job_id)
        if not current.is_final:
            items = items_of_job(job.job_id)
            seen_running.append(_kinds(items))
            # Then while it runs, no item of it carries a TTL
            assert [item for item in items if c.TTL_ATTRIBUTE in item] == []

    # When it runs to the end (the TTL steps follow on the collect queue)
    job = driver.run_until_final(job.job_id, before_poll=no_ttl_while_running)

    # Then it ran with every kind of item, none with a TTL until it was final
    assert {"JOB:JOB", "JOB:CHUNK", "BATCH:BATCH", "IDEMPOTENCY:IDEMPOTENCY"} <= set().union(*seen_running)
    assert any(chunk_id.endswith("-r2") for chunk_id in (i["sk"] for i in items_of_job(job.job_id)))
    # And now every item expires at the final time + the retention period
    expected = int(parse_iso(job.finished_at)) + get_settings().retention_days * DAY
    items = items_of_job(job.job_id)
    assert {item[c.TTL_ATTRIBUTE] for item in items} == {expected} == {job.expires_at}
    assert _kinds(items) == {"JOB:JOB", "JOB:CHUNK", "BATCH:BATCH", "IDEMPOTENCY:IDEMPOTENCY"}
    # And the job left the safety net, marked done
    job = job_store.get_job(job.job_id)
    assert job.items_ttl_set
    assert job_store.query_due_jobs(c.EXPIRING_JOBS_DUE_PK, 2**40) == []


def test_ttl_steps_are_bounded_and_a_lost_step_is_resent_by_the_poller(fake, driver, monkeypatch):
    # Given steps of two items, and a step message that is lost on the way
    monkeypatch.setattr(item_expiry, "EXPIRY_STEP_ITEMS", 2)
    sent: list[str | None] = []
    real_send = item_expiry.send_expire_message

    def lose_the_second_page(job_id: str, *, after: str | None = None) -> None:
        sent.append(after)
        if len([a for a in sent if a is not None]) == 2:
            return  # lost
        real_send(job_id, after=after)

    monkeypatch.setattr(item_expiry, "send_expire_message", lose_the_second_page)
    job = submit_job(chat_requests(500), chunk_size=100)

    # When the job ends, its first steps run and the chain breaks
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED and job.chunks_total == 5
    assert not job_store.get_job(job.job_id).items_ttl_set
    missing = [i for i in items_of_job(job.job_id) if c.TTL_ATTRIBUTE not in i]
    assert missing, "the lost message should have left items without a TTL"

    # Then the poller sends the step again once its safety-net time has come, and it finishes
    due_at = int(table().get_item(Key={"pk": f"JOB#{job.job_id}", "sk": "JOB"})["Item"][c.DUE_CHUNKS_SK])
    assert driver.poll(due_at - driver.clock() - 30)["resent"] == 0
    assert driver.poll(60)["resent"] == 1
    driver.drain(c.COLLECT_QUEUE)
    assert job_store.get_job(job.job_id).items_ttl_set
    assert all(i[c.TTL_ATTRIBUTE] == job.expires_at for i in items_of_job(job.job_id))
    # And every step was small: at most two items of the partition each
    assert driver.kinds["expire"] >= 5


def test_steps_are_idempotent_when_every_message_comes_twice(fake, aws, clock):
    from tests.support.driver import Driver

    driver = Driver(aws, clock, duplicate=True)
    job = submit_job(chat_requests(300), chunk_size=100, idempotency_key="twice")
    job = driver.run_until_final(job.job_id)
    assert job_store.get_job(job.job_id).items_ttl_set
    assert {i[c.TTL_ATTRIBUTE] for i in items_of_job(job.job_id)} == {job.expires_at}
    assert driver.failures[c.COLLECT_QUEUE] == 0


# --- the previous version's final jobs: no TTL anywhere -----------------------------------

FINISHED_AT = "2026-01-02T00:00:00.000Z"


def _store_previous_version_final_job(job_id: str = "job_old") -> None:
    """Items exactly as the previous version left a completed job: no expires_at anywhere."""
    put = table().put_item
    put(Item=to_dynamo({
        "pk": f"JOB#{job_id}", "sk": "JOB", "job_id": job_id, "tenant_id": "tenant-a", "status": "completed",
        "provider": "openai", "endpoint": "/v1/chat/completions", "request_count": 1,
        "input_key": f"inputs/tenant-a/{job_id}/input.jsonl", "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": FINISHED_AT, "chunk_size": 5000, "max_attempts": 3, "metadata": {},
        "idempotency_key": f"key-{job_id}",
        "counts": {"succeeded": 1, "errored": 0, "expired": 0, "cancelled": 0},
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}, "chunks_total": 1,
        "chunks_final": 1, "submission_done": True, "cancel_requested": False, "event_published": True,
        "results_key": f"results/{job_id}/results.jsonl", "manifest_key": f"results/{job_id}/manifest.json",
        "finished_at": FINISHED_AT, "event_id": f"evt_{job_id}_completed",
        "version": 9, "gsi1pk": "TENANT#tenant-a", "gsi1sk": f"2026-01-01T00:00:00.000Z#{job_id}",
    }))
    put(Item=to_dynamo({
        "pk": f"JOB#{job_id}", "sk": "CHUNK#c00001", "job_id": job_id, "chunk_id": "c00001",
        "provider": "openai", "endpoint": "/v1/chat/completions", "status": "collected", "attempt": 1,
        "request_count": 1, "input_key": f"chunks/{job_id}/c00001/input.jsonl", "tenant_id": "tenant-a",
        "create_seq": 1, "batch_id": f"batch_{job_id}", "batch_ids": [f"batch_{job_id}"],
        "batch_created_at": 1767225601.0,
        "provider_status": "completed", "counts": {"total": 1, "completed": 1, "failed": 0}, "checks": 2,
        "batch_errors": [], "part_key": f"results/{job_id}/parts/c00001.jsonl",
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": FINISHED_AT,
    }))
    put(Item=to_dynamo({"pk": f"BATCH#openai#batch_{job_id}", "sk": "BATCH", "job_id": job_id, "chunk_id": "c00001",
                        "tenant_id": "tenant-a", "created_at": "2026-01-01T00:00:00.000Z"}))
    put(Item=to_dynamo({"pk": f"IDEMPOTENCY#tenant-a#key-{job_id}", "sk": "IDEMPOTENCY", "job_id": job_id,
                        "request_hash": "h", "created_at": "2026-01-01T00:00:00.000Z"}))
    put(Item=to_dynamo({
        "pk": f"JOB#{job_id}", "sk": f"DELIVERY#evt_{job_id}_completed#whe_1", "job_id": job_id,
        "event_id": f"evt_{job_id}_completed", "event_type": "job.completed", "endpoint_id": "whe_1",
        "tenant_id": "tenant-a", "url": "https://hooks.example.com/x", "status": "delivered", "attempt_count": 1,
        "attempts": [], "payload": "{}", "created_at": FINISHED_AT, "updated_at": FINISHED_AT,
    }))


@pytest.mark.parametrize("touch", ["get", "results", "collect"])
def test_a_final_job_of_the_previous_version_gets_its_ttls_when_touched(aws, driver, fake, touch):
    # Given a final job as the previous version left it
    _store_previous_version_final_job()
    assert all(c.TTL_ATTRIBUTE not in i for i in items_of_job("job_old"))

    # When it is touched: read through the API, or a redelivered collect message of it
    if touch == "get":
        assert ApiClient().call("GET", "/v1/jobs/job_old").status == 200
    elif touch == "results":
        ApiClient().call("GET", "/v1/jobs/job_old/results")
    else:
        from batchrelay.lifecycle.messages import send_collect_message

        send_collect_message("job_old", "c00001")
    driver.drain(c.COLLECT_QUEUE)

    # Then every item of it expires at its final time + retention; the delivery not before
    # its retries could be over
    expected = int(parse_iso(FINISHED_AT)) + get_settings().retention_days * DAY
    by_sk = {(i["pk"].split("#")[0], i["sk"].split("#")[0]): i[c.TTL_ATTRIBUTE] for i in items_of_job("job_old")}
    delivery_ttl = by_sk.pop(("JOB", "DELIVERY"))
    assert set(by_sk.values()) == {expected} and len(by_sk) == 4
    assert delivery_ttl >= expected
    assert job_store.get_job("job_old").items_ttl_set


def test_a_tenant_no_longer_sees_a_job_past_its_ttl(aws):
    # DynamoDB removes expired items a while after their time; until then they are hidden.
    _store_previous_version_final_job()
    table().update_item(Key={"pk": "JOB#job_old", "sk": "JOB"}, UpdateExpression="SET expires_at = :t",
                        ExpressionAttributeValues={":t": 1_000})
    api = ApiClient()
    assert api.call("GET", "/v1/jobs/job_old").status == 404
    assert api.call("GET", "/v1/jobs").body["data"] == []


def test_the_one_off_sweep_gives_old_final_jobs_their_ttls(aws, monkeypatch, capsys):
    # Given two final jobs of the previous version, and one of it still running
    from batchrelay_tools import expire_old_jobs

    _store_previous_version_final_job("job_old")
    _store_previous_version_final_job("job_old2")
    table().update_item(Key={"pk": "JOB#job_old2", "sk": "JOB"}, UpdateExpression="SET #s = :s",
                        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": "in_progress"})
    monkeypatch.setenv(c.ENV_RETENTION_DAYS, "7")

    # When the sweep runs without --apply, it only counts
    assert expire_old_jobs.main(["--retention-days", "7"]) == 0
    assert "1 final jobs without a TTL; 1 jobs not final yet" in capsys.readouterr().out
    assert all(c.TTL_ATTRIBUTE not in i for i in items_of_job("job_old"))

    # Then with --apply every item of the final one expires 7 days after it finished
    assert expire_old_jobs.main(["--retention-days", "7", "--apply"]) == 0
    expected = int(parse_iso(FINISHED_AT)) + 7 * DAY
    ttls = {(i["sk"].split("#")[0], i[c.TTL_ATTRIBUTE]) for i in items_of_job("job_old")}
    assert {sk for sk, _ in ttls} == {"JOB", "CHUNK", "BATCH", "IDEMPOTENCY", "DELIVERY"}
    assert all(ttl == expected for sk, ttl in ttls if sk != "DELIVERY")
    assert job_store.get_job("job_old").items_ttl_set
    assert job_store.query_due_jobs(c.EXPIRING_JOBS_DUE_PK, 2**40) == []
    # And the running one is left for its own end; a second run finds nothing to do
    assert all(c.TTL_ATTRIBUTE not in i for i in items_of_job("job_old2") if i["pk"] == "JOB#job_old2")
    assert expire_old_jobs.main(["--retention-days", "7", "--apply"]) == 0
    assert "0 final jobs without a TTL" in capsys.readouterr().out.splitlines()[-2]


def test_an_idempotency_key_whose_job_expired_is_free_again(aws):
    # Given a job made with an Idempotency-Key, both past their TTL (not yet removed by DynamoDB)
    api = ApiClient()
    body = {"provider": "openai", "endpoint": "/v1/chat/completions", "requests": chat_requests(2)}
    first = api.call("POST", "/v1/jobs", body, headers={"Idempotency-Key": "k-old"}).body["id"]
    for key in ({"pk": f"JOB#{first}", "sk": "JOB"}, {"pk": "IDEMPOTENCY#tenant-a#k-old", "sk": "IDEMPOTENCY"}):
        table().update_item(Key=key, UpdateExpression="SET expires_at = :t", ExpressionAttributeValues={":t": 1_000})

    # When the key is used again, it makes a new job (not a replay of a job that is gone)
    again = api.call("POST", "/v1/jobs", body, headers={"Idempotency-Key": "k-old"})
    assert again.status == 202 and again.body["id"] != first
    assert api.call("POST", "/v1/jobs", body, headers={"Idempotency-Key": "k-old"}).body["id"] == again.body["id"]
