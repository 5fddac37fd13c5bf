"""End to end with Amazon Bedrock: the local stack as a subprocess (S3 on the emulator, Bedrock's
control plane and runtime on the simulator, its state-change events delivered to the fast path
as EventBridge would), a job submitted over HTTP, a verified webhook, exact results."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from batchrelay_tools.local.webhook_receiver import WebhookReceiver
from batchrelay_tools.simulator import answers
from tests.e2e.stack_process import RunningStack

pytestmark = pytest.mark.e2e

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
FAILING_ONCE = ("bed-7", "bed-42", "bed-199")


def bedrock_line(i: int) -> dict:
    return {"custom_id": f"bed-{i}", "body": {
        "model": MODEL, "anthropic_version": "bedrock-2023-05-31", "max_tokens": 32,
        "messages": [{"role": "user", "content": f"say {i}"}]}}


def sim_stats(stack: RunningStack) -> dict:
    return httpx.get(f"{stack.simulator}/_sim/stats", timeout=10).json()["routes"]


def test_a_bedrock_job_whose_retry_chunk_holds_three_records_answers_each_once(stack: RunningStack, tmp_path: Path):
    # Given three requests that fail once (retryably), and no other failures
    stack.sim_config(failure_rules=[
        {"pattern": "^(" + "|".join(FAILING_ONCE) + ")$", "kind": "retryable", "status_code": 503,
         "first_attempt_only": True},
    ])
    before = sim_stats(stack)
    with WebhookReceiver() as receiver, stack.http() as http:
        added = stack.cli("webhooks", "add", receiver.url, "--json")
        assert added.returncode == 0, added.stderr
        secret = json.loads(added.stdout)["secret"]

        # When a Bedrock job of 250 requests is submitted over HTTP in chunks of 100
        requests = [bedrock_line(i) for i in range(250)]
        response = http.post("/v1/jobs", json={"provider": "bedrock", "endpoint": "/model/invoke",
                                               "chunk_size": 100, "requests": requests})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        # Then it completes
        deadline = time.monotonic() + 120
        while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] not in (
                "completed", "completed_with_errors", "failed", "cancelled", "expired"):
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["status"] == "completed", job
        # in two batch inference jobs (the tail of 50, below the minimum of 100, joined its chunk)
        firsts = sorted(ch["request_count"] for ch in job["chunks"] if ch["attempt"] == 1)
        assert firsts == [100, 150]
        # and the retry chunk of three, below the minimum with nothing left to join, ran on demand
        assert job["cost"]["on_demand"] and float(job["cost"]["on_demand"]) > 0

        # And its signed webhook arrives and verifies
        assert receiver.wait_for_jobs({job_id}, timeout=30)
        (hook,) = [h for h in receiver.job_events() if h.job_id == job_id]
        assert hook.verify(secret)["type"] == "job.completed"

        # And the results are exact: one line per request, each the answer to its own request
        out = tmp_path / "bedrock-results.jsonl"
        downloaded = stack.cli("results", job_id, "-o", str(out))
        assert downloaded.returncode == 0, downloaded.stderr
        lines = {line["custom_id"]: line for line in map(json.loads, out.read_bytes().splitlines())}
        assert sorted(lines) == sorted(r["custom_id"] for r in requests)
        for request in requests:
            line = lines[request["custom_id"]]
            assert line["status"] == "succeeded" and line["provider"] == "bedrock"
            expected = answers.answer_text(answers.body_digest(request["body"]))
            assert line["response"]["content"][0]["text"] == expected
            if request["custom_id"] in FAILING_ONCE:
                assert (line["attempts"], line["service_tier"]) == (2, "on_demand")
                assert line["batch_id"].startswith(f"ondemand:{job_id}:")
            else:
                assert line["attempts"] == 1 and "service_tier" not in line

    # And Bedrock saw two batch inference jobs and three InvokeModel calls: nothing ran twice
    after = sim_stats(stack)
    grew = {route: after.get(route, 0) - before.get(route, 0) for route in after}
    assert grew.get("POST /bedrock/model-invocation-job") == 2
    assert grew.get("POST /bedrock/model/{model}/invoke") == 3
