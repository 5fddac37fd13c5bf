"""A deployed stack is upgraded in place: what the previous version left in its queues and
table must still be read. The bodies and items below are byte for byte what version 0.1.0
wrote (``orjson.dumps`` of plain dicts; items as its stores put them)."""

from __future__ import annotations

import orjson

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, delivery_store, endpoint_store, job_store
from batchrelay.store.table import table, to_dynamo
from batchrelay.webhooks.fanout import parse_webhooks_message
from tests.support.stored_jobs import chat_requests, read_lines, submit_job

# As the previous version's lifecycle/messages.py sent them.
PREVIOUS_JOBS_BODIES = ('{"kind":"job","job_id":"%s"}', '{"kind":"chunk","job_id":"%s","chunk_id":"c00001"}')
PREVIOUS_COLLECT_BODY = '{"kind":"collect","job_id":"%s","chunk_id":"c00001"}'


def _send_raw(queue_url: str, body: str) -> None:
    clients.sqs().send_message(QueueUrl=queue_url, MessageBody=body)


def test_queue_messages_of_the_previous_version_run_a_job_to_the_end(fake, driver):
    # Given a job whose messages were written by the previous version (none sent by this one)
    requests = chat_requests(4)
    job = submit_job(requests, send=False, chunk_size=10)
    settings = get_settings()
    for body in PREVIOUS_JOBS_BODIES:
        _send_raw(settings.jobs_queue_url, body % job.job_id)

    # When the new consumers drain them (and whatever follows)
    job = driver.run_until_final(job.job_id)

    # Then the job completes with one line per request
    assert job.status == JobStatus.COMPLETED
    assert sorted(line["custom_id"] for line in read_lines(job.results_key)) == sorted(
        r["custom_id"] for r in requests
    )
    assert driver.failures[c.JOBS_QUEUE] == 0 and driver.failures[c.COLLECT_QUEUE] == 0


def test_a_collect_message_of_the_previous_version_is_read(fake, driver):
    job = submit_job(chat_requests(3), chunk_size=10)
    driver.drain(c.JOBS_QUEUE)
    driver.poll(120)
    # the poller sent its own collect message; add the previous version's for the same chunk
    _send_raw(get_settings().collect_queue_url, PREVIOUS_COLLECT_BODY % job.job_id)
    driver.drain(c.COLLECT_QUEUE)
    assert driver.failures[c.COLLECT_QUEUE] == 0
    assert job_store.get_job(job.job_id).is_final


def test_an_event_of_the_previous_version_in_the_webhooks_queue_is_read():
    # As the previous version's notifications built it: data was a plain dict
    body = orjson.dumps({
        "id": "evt_job_1_completed", "type": "job.completed", "timestamp": "2026-01-01T00:00:00.000Z",
        "data": {
            "job_id": "job_1", "tenant_id": "t1", "status": "completed", "provider": "openai",
            "endpoint": "/v1/chat/completions", "request_count": 2,
            "counts": {"succeeded": 2, "errored": 0, "expired": 0, "cancelled": 0},
            "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
            "cost": {"currency": "USD", "batch": "0.1", "synchronous": "0.2", "saved": "0.1"},
            "metadata": {}, "webhook_url": None, "created_at": "2026-01-01T00:00:00.000Z",
            "finished_at": "2026-01-01T00:00:00.000Z", "results_url": None, "results_s3_uri": None,
        },
    }).decode()
    event = parse_webhooks_message(body)
    assert event.job_id == "job_1" and event.tenant_id == "t1"
    delivery = parse_webhooks_message(
        '{"kind":"delivery","job_id":"job_1","event_id":"evt","endpoint_id":"whe_1","attempt":2,"not_before":1.5}'
    )
    assert delivery.attempt == 2


def test_table_items_of_the_previous_version_are_read(aws):
    # Given items exactly as the previous version stored them
    put = table().put_item
    put(Item=to_dynamo({
        "pk": "JOB#job_old", "sk": "JOB", "job_id": "job_old", "tenant_id": "t1", "status": "in_progress",
        "provider": "anthropic", "endpoint": "/v1/messages", "request_count": 3,
        "input_key": "inputs/t1/job_old/input.jsonl", "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z", "chunk_size": 5000, "max_attempts": 3, "metadata": {},
        "counts": {"succeeded": 0, "errored": 0, "expired": 0, "cancelled": 0},
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}, "chunks_total": 1,
        "chunks_final": 0, "submission_done": True, "cancel_requested": False, "event_published": False,
        "version": 4, "gsi1pk": "TENANT#t1", "gsi1sk": "2026-01-01T00:00:00.000Z#job_old",
    }))
    put(Item=to_dynamo({
        "pk": "JOB#job_old", "sk": "CHUNK#c00001", "job_id": "job_old", "chunk_id": "c00001",
        "provider": "anthropic", "endpoint": "/v1/messages", "status": "submitted", "attempt": 1,
        "request_count": 3, "input_key": "chunks/job_old/c00001/input.jsonl", "tenant_id": "t1",
        "create_seq": 1, "intent_at": 1767225600.5, "batch_id": "msgbatch_1", "batch_ids": ["msgbatch_1"],
        "batch_created_at": 1767225601.0, "provider_status": "in_progress",
        "counts": {"total": 3, "completed": 0, "failed": 0}, "checks": 2, "batch_errors": [],
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
        "due_pk": "anthropic", "due_at": 1767225700,
    }))
    put(Item=to_dynamo({
        "pk": "TENANT#t1", "sk": "WEBHOOK#whe_1", "endpoint_id": "whe_1", "tenant_id": "t1",
        "url": "https://hooks.example.com/x", "event_types": ["job.completed"], "description": None,
        "secret": "whsec_plain", "enabled": True, "disabled_reason": None,
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
    }))
    put(Item=to_dynamo({
        "pk": "JOB#job_old", "sk": "DELIVERY#evt_1#whe_1", "job_id": "job_old", "event_id": "evt_1",
        "event_type": "job.completed", "endpoint_id": "whe_1", "tenant_id": "t1",
        "url": "https://hooks.example.com/x", "status": "pending", "attempt_count": 1,
        "attempts": [{"attempt": 1, "at": "2026-01-01T00:00:00.000Z", "status_code": 500, "duration_ms": 12}],
        "next_attempt_at": "2026-01-01T00:00:05.000Z", "payload": "{}",
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
    }))

    # Then the new stores read them, and the due chunk is found by the poller's query
    job = job_store.get_job("job_old", tenant_id="t1")
    assert job.status == JobStatus.IN_PROGRESS and job.chunks_total == 1
    chunk = chunk_store.get_chunk("job_old", "c00001")
    assert chunk.status == ChunkStatus.SUBMITTED and chunk.batch_id == "msgbatch_1"
    assert [c_.chunk_id for c_ in chunk_store.query_due_chunks("anthropic", 1767225700)] == ["c00001"]
    assert endpoint_store.get_endpoint("t1", "whe_1").url == "https://hooks.example.com/x"
    delivery = delivery_store.get_delivery("job_old", "evt_1", "whe_1")
    assert delivery is not None and delivery.attempt_count == 1


def test_a_queued_job_of_the_previous_version_stranded_in_the_index_is_sent_again(fake, driver):
    # Given a queued job item as the previous version stored it (no validation), past its resend time
    import time

    from batchrelay.lifecycle.poller import run_poll

    job = submit_job(chat_requests(3), send=False, chunk_size=10)
    item = table().get_item(Key={"pk": f"JOB#{job.job_id}", "sk": "JOB"})["Item"]
    item.pop("validation", None)
    item["due_at"] = int(time.time()) - 1
    table().put_item(Item=item)
    # When the poller runs, the job's message is sent again and the job runs to the end
    assert run_poll(now=time.time(), deadline=time.time() + 30)["resent"] == 1
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED and job.validation is None and job.input_accepted
