"""results.jsonl and the job event split into lines cleanly, whatever the answers hold."""

from __future__ import annotations

import orjson

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.models.job import JobStatus
from tests.support.stored_jobs import chat_requests, read_bytes, submit_job

LINE_BREAKS = " one\u2028two\u2029three\x85four"


def test_results_of_answers_holding_u2028_have_one_line_per_id_under_splitlines(fake, driver):
    fake.answer_suffix = LINE_BREAKS
    fake.outcome_for = lambda pcid, seen: "permanent" if pcid.endswith("3") else "succeeded"
    requests = chat_requests(12)
    requests[5]["custom_id"] = "id with\u2028separator"
    job = submit_job(requests, chunk_size=5, metadata={"note": "a\u2028b"})

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    text = read_bytes(job.results_key).decode()
    lines = text.splitlines()
    assert len(lines) == len(requests)
    parsed = [orjson.loads(line) for line in lines]
    assert sorted(p["custom_id"] for p in parsed) == sorted(r["custom_id"] for r in requests)
    answers = [p["response"]["content"] for p in parsed if p["status"] == "succeeded"]
    assert len(answers) == 11 and all(answer.endswith(LINE_BREAKS) for answer in answers)

    # The event (SNS message, and so the webhook body) is one line too.
    url = driver.queue_url(c.WEBHOOKS_QUEUE)
    bodies = [m["Body"] for m in clients.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert len(bodies) == 1 and len(bodies[0].splitlines()) == 1
    assert orjson.loads(bodies[0])["data"]["metadata"] == {"note": "a\u2028b"}
