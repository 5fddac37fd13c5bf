"""SNS -> `webhooks` queue -> `webhook` handler -> a real receiver on loopback that verifies."""

from __future__ import annotations

import json

from batchrelay.webhooks import secrets
from tests.support.webhooks import (
    Reply,
    call_api,
    make_job,
    publish_final_event,
    register,
    store_job,
)


def deliveries(job_id: str = "job_01", tenant: str = "tenant-a") -> dict[str, dict]:
    answer = call_api("GET", f"/v1/jobs/{job_id}/deliveries", tenant=tenant)
    assert answer.status == 200, answer.body
    return {d["endpoint_id"]: d for d in answer.body["data"]}


def test_completed_job_delivers_one_verified_event_to_each_matching_endpoint(receiver, queue, clock):
    # Given two matching endpoints, one that wants only failures, and a job with its own URL
    all_types = register(receiver, "/all")
    completed_only = register(receiver, "/completed", ["job.completed"])
    failures_only = register(receiver, "/failures", ["job.failed"])
    receiver.secrets["/job"] = secrets.rotate_tenant_secret("tenant-a")
    job = store_job(make_job(webhook_url=receiver.url("/job")))

    # When the finalizer publishes the event and the queue is drained
    publish_final_event(job)
    queue.drain()

    # Then each matching endpoint got exactly one event that the verifier accepts
    for path in ("/all", "/completed", "/job"):
        got = receiver.at(path)
        assert len(got) == 1, path
        assert got[0].error is None and got[0].verified["id"] == "evt_job_01_completed"
        assert got[0].verified["data"]["job_id"] == "job_01"
        assert got[0].headers["webhook-id"] == "evt_job_01_completed"
    # And the non-matching endpoint got nothing
    assert receiver.at("/failures") == []
    # And the log shows one delivered attempt per endpoint
    log = deliveries()
    assert set(log) == {all_types["id"], completed_only["id"], "job_url"}
    assert failures_only["id"] not in log
    for delivery in log.values():
        assert delivery["status"] == "delivered" and delivery["attempt_count"] == 1
        assert delivery["attempts"][0]["status_code"] == 200


def test_a_repeated_event_is_not_delivered_twice(receiver, queue, clock):
    # Given an endpoint and a delivered event
    register(receiver, "/in")
    job = store_job(make_job())
    publish_final_event(job)
    queue.drain()
    # When SNS delivers the same event again (and the finalizer published it twice)
    publish_final_event(job)
    publish_final_event(job)
    queue.drain()
    # Then the receiver still has exactly one delivery
    assert len(receiver.at("/in")) == 1
    assert queue.pending() == 0


def test_a_receiver_failing_at_first_gets_the_event_later_and_others_are_not_held_up(receiver, queue, clock):
    # Given a receiver that fails twice before it answers 200, and a healthy one
    flaky = register(receiver, "/flaky")
    register(receiver, "/healthy")
    receiver.script("/flaky", Reply(500), Reply(503), Reply(200))
    job = store_job(make_job())

    # When the event is published and the retries come due
    publish_final_event(job)
    queue.drain()
    assert len(receiver.at("/healthy")) == 1 and len(receiver.at("/flaky")) == 1
    elapsed = queue.run_until_quiet(clock, step=30)

    # Then the flaky receiver got it on the third attempt, after about 5 s and 5 min
    got = receiver.at("/flaky")
    assert len(got) == 3 and all(r.error is None for r in got)
    assert 300 <= elapsed <= 20 * 60
    # And the healthy receiver was never repeated
    assert len(receiver.at("/healthy")) == 1
    log = deliveries()[flaky["id"]]
    assert log["status"] == "delivered"
    assert [a["status_code"] for a in log["attempts"]] == [500, 503, 200]


def test_a_receiver_that_never_answers_2xx_ends_failed_with_a_complete_log(receiver, queue, clock):
    # Given a receiver that always answers 500
    endpoint = register(receiver, "/down")
    receiver.script("/down", Reply(500, body=b"boom"))
    job = store_job(make_job())

    # When the event is published and a bit more than a day passes
    publish_final_event(job)
    elapsed = queue.run_until_quiet(clock, step=900)

    # Then every attempt of the schedule was made, spanning at least 24 hours
    assert len(receiver.at("/down")) == 8
    assert elapsed >= 24 * 3600
    # And the delivery is failed and kept, with the whole attempt log visible
    log = deliveries()[endpoint["id"]]
    assert log["status"] == "failed"
    assert log["failure_reason"] == "no 2xx answer after 8 attempts"
    assert [a["attempt"] for a in log["attempts"]] == list(range(1, 9))
    for attempt in log["attempts"]:
        assert attempt["status_code"] == 500 and attempt["at"] and attempt["duration_ms"] >= 0
        assert attempt["error"] is None and attempt["response_excerpt"] == "boom"
    assert log["next_attempt_at"] is None
    assert queue.pending() == 0


def test_410_disables_the_endpoint_and_ends_the_delivery(receiver, queue, clock):
    # Given a receiver that is gone
    gone = register(receiver, "/gone")
    receiver.script("/gone", Reply(410))
    job = store_job(make_job())
    # When an event is delivered
    publish_final_event(job)
    queue.run_until_quiet(clock)
    # Then one attempt was made, the delivery failed and the endpoint is disabled
    assert len(receiver.at("/gone")) == 1
    log = deliveries()[gone["id"]]
    assert log["status"] == "failed" and "410" in log["failure_reason"]
    listed = call_api("GET", "/v1/webhook-endpoints").body["data"]
    assert listed[0]["enabled"] is False and "410" in listed[0]["disabled_reason"]
    # And the next job's event does not go there
    publish_final_event(store_job(make_job(job_id="job_02")))
    queue.run_until_quiet(clock)
    assert len(receiver.at("/gone")) == 1


def test_retry_after_is_honoured(receiver, queue, clock):
    # Given a receiver that asks to be called again in 2 minutes
    endpoint = register(receiver, "/busy")
    receiver.script("/busy", Reply(429, headers={"Retry-After": "120"}), Reply(200))
    publish_final_event(store_job(make_job()))
    queue.drain()
    # When the usual 5 s retry delay passes, nothing is sent
    clock.advance(10)
    queue.drain()
    assert len(receiver.at("/busy")) == 1
    # Then after the 2 minutes it is delivered
    clock.advance(115)
    queue.drain()
    assert len(receiver.at("/busy")) == 2
    log = deliveries()[endpoint["id"]]
    assert log["status"] == "delivered"


def test_a_slow_receiver_is_cut_off_at_the_time_budget(receiver, queue, clock, monkeypatch):
    # Given a receiver that takes 3 s to answer, and a 0.5 s budget (10 s in production)
    from batchrelay.webhooks import transport

    monkeypatch.setattr(transport, "ATTEMPT_BUDGET_SECONDS", 0.5)
    endpoint = register(receiver, "/slow")
    receiver.script("/slow", Reply(200, delay=3))
    # When the event is delivered
    publish_final_event(store_job(make_job()))
    queue.drain()
    # Then the attempt failed as a timeout within about the budget, and a retry is scheduled
    log = deliveries()[endpoint["id"]]
    attempt = log["attempts"][0]
    assert attempt["status_code"] is None and "timed out" in attempt["error"]
    assert attempt["duration_ms"] < 2000
    assert log["status"] == "pending" and log["next_attempt_at"]


def test_duplicate_retry_messages_make_one_attempt(receiver, queue, clock, webhook_env):
    # Given a failed first attempt with its retry message queued
    register(receiver, "/dup")
    receiver.script("/dup", Reply(500), Reply(200))
    publish_final_event(store_job(make_job()))
    queue.drain()
    import boto3

    sqs = boto3.client("sqs")
    clock.advance(10)
    message = sqs.receive_message(QueueUrl=webhook_env["WEBHOOKS_QUEUE_URL"])["Messages"][0]
    # When the same retry message arrives twice
    body = message["Body"]
    assert json.loads(body)["kind"] == "delivery"
    sqs.send_message(QueueUrl=webhook_env["WEBHOOKS_QUEUE_URL"], MessageBody=body)
    sqs.send_message(QueueUrl=webhook_env["WEBHOOKS_QUEUE_URL"], MessageBody=body)
    sqs.delete_message(QueueUrl=webhook_env["WEBHOOKS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    queue.drain()
    # Then the receiver got the second attempt once
    assert len(receiver.at("/dup")) == 2


def test_an_attempt_is_handed_on_when_the_function_is_out_of_time(receiver, queue, clock):
    # Given an endpoint and an invocation with only 5 s left
    register(receiver, "/late")
    publish_final_event(store_job(make_job()))
    # When the event is handled, nothing is sent but the attempt is queued
    queue.drain(remaining_ms=5_000, rounds=1)
    assert receiver.at("/late") == []
    # Then the next invocation delivers it
    queue.drain()
    assert len(receiver.at("/late")) == 1


def test_deleted_endpoint_ends_pending_deliveries(receiver, queue, clock):
    # Given a delivery waiting for its retry
    endpoint = register(receiver, "/bye")
    receiver.script("/bye", Reply(500))
    publish_final_event(store_job(make_job()))
    queue.drain()
    # When the endpoint is deleted and the retry comes due
    assert call_api("DELETE", f"/v1/webhook-endpoints/{endpoint['id']}").status == 204
    queue.run_until_quiet(clock)
    # Then no further attempt is sent and the delivery failed with the reason
    assert len(receiver.at("/bye")) == 1
    log = deliveries()[endpoint["id"]]
    assert log["status"] == "failed" and log["failure_reason"] == "endpoint deleted"


def test_an_attempt_that_crashed_midway_is_made_again_when_its_message_returns(receiver, queue, clock, monkeypatch):
    # Given an invocation that dies during the HTTP call (after taking the attempt's lease)
    from batchrelay.webhooks import transport

    real_post = transport.post
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the function was killed")
        return real_post(*args, **kwargs)

    monkeypatch.setattr(transport, "post", crash_once)
    endpoint = register(receiver, "/crash")
    publish_final_event(store_job(make_job()))
    queue.drain()
    assert receiver.at("/crash") == []
    # When the event message becomes visible again (after the visibility timeout)
    clock.advance(361)
    queue.drain()
    # Then the attempt is made again, once
    assert len(receiver.at("/crash")) == 1
    assert deliveries()[endpoint["id"]]["status"] == "delivered"


def test_a_retry_lost_between_recording_and_queueing_is_queued_again(receiver, queue, clock, monkeypatch):
    # Given a first attempt that failed and was recorded, then the function died before queueing the retry
    from batchrelay.webhooks import attempts

    real_enqueue = attempts.enqueue_delivery
    calls = {"n": 0}

    def die_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the function was killed")
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(attempts, "enqueue_delivery", die_once)
    endpoint = register(receiver, "/lost")
    receiver.script("/lost", Reply(500), Reply(200))
    publish_final_event(store_job(make_job()))
    queue.drain()
    assert len(receiver.at("/lost")) == 1
    # When the event message comes back
    queue.run_until_quiet(clock, step=60)
    # Then the retry was queued again and delivered, once
    assert len(receiver.at("/lost")) == 2
    log = deliveries()[endpoint["id"]]
    assert log["status"] == "delivered" and [a["status_code"] for a in log["attempts"]] == [500, 200]


def test_deliveries_get_their_ttl_at_creation(receiver, queue, clock):
    # Given a final job and an endpoint (deliveries are only ever made once a job is final)
    from batchrelay import constants as c
    from batchrelay.clock import parse_iso
    from batchrelay.settings import get_settings
    from batchrelay.store import keys
    from batchrelay.store.table import get
    from batchrelay.webhooks.schedule import LONGEST_DELIVERY_SECONDS

    endpoint = register(receiver, "/all")
    job = store_job(make_job())

    # When its event fans out
    publish_final_event(job)
    queue.drain()

    # Then the delivery expires with the job's data (final time + retention), and never
    # before its retries could be over
    item = get(keys.delivery_key(job.job_id, "evt_job_01_completed", endpoint["id"]))
    assert item is not None
    job_expiry = int(parse_iso(job.finished_at)) + get_settings().retention_days * 86_400
    assert item[c.TTL_ATTRIBUTE] == max(job_expiry, int(clock.now) + LONGEST_DELIVERY_SECONDS)
    assert item[c.TTL_ATTRIBUTE] >= int(clock.now) + LONGEST_DELIVERY_SECONDS
