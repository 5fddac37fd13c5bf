"""End to end, Mistral: jobs posted over HTTP to the local stack (its own subprocess, the
provider simulator standing in for Mistral behind the mistralai SDK), read back as results."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.stack_process import RunningStack

pytestmark = pytest.mark.e2e

FINAL = {"completed", "completed_with_errors", "failed", "cancelled", "expired"}


def chat(i: int, prefix: str) -> dict:
    return {"custom_id": f"{prefix}-{i}", "body": {"model": "mistral-small-latest", "max_tokens": 16,
                                                   "messages": [{"role": "user", "content": f"say {i}"}]}}


def embedding(i: int) -> dict:
    return {"custom_id": f"emb-{i}", "body": {"model": "mistral-embed", "input": [f"text {i}"]}}


def wait(http: httpx.Client, job_id: str, timeout: float = 150) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in FINAL:
            return job
        time.sleep(1)
    raise AssertionError(f"{job_id} did not end: {job}")


def results(http: httpx.Client, job_id: str) -> dict[str, dict]:
    links = http.get(f"/v1/jobs/{job_id}/results").json()
    body = httpx.get(links["results_url"], timeout=60).content
    lines = [json.loads(line) for line in body.split(b"\n") if line.strip()]
    assert len(lines) == len({line["custom_id"] for line in lines})
    return {line["custom_id"]: line for line in lines}


def test_chat_and_embeddings_jobs_run_end_to_end(stack: RunningStack):
    with stack.http() as http:
        # When a chat job and an embeddings job are posted with provider mistral
        chat_job = http.post("/v1/jobs", json={
            "provider": "mistral", "endpoint": "/v1/chat/completions", "chunk_size": 100, "timeout_hours": 12,
            "requests": [chat(i, "chat") for i in range(150)],
        })
        embeddings_job = http.post("/v1/jobs", json={
            "provider": "mistral", "endpoint": "/v1/embeddings", "requests": [embedding(i) for i in range(40)],
        })
        assert chat_job.status_code == embeddings_job.status_code == 202, (chat_job.text, embeddings_job.text)
        assert (chat_job.json()["timeout_hours"], embeddings_job.json()["timeout_hours"]) == (12, 24)

        # Then both complete, every request answered once, by Mistral's models
        done = wait(http, chat_job.json()["id"])
        assert done["status"] == "completed" and len(done["chunks"]) >= 2
        lines = results(http, done["id"])
        assert len(lines) == 150 and {line["provider"] for line in lines.values()} == {"mistral"}
        assert lines["chat-0"]["response"]["model"] == "mistral-small-latest"
        assert done["cost"]["batch"] != "0.000000"

        done = wait(http, embeddings_job.json()["id"])
        assert done["status"] == "completed"
        vectors = results(http, done["id"])
        assert len(vectors) == 40 and vectors["emb-0"]["response"]["data"][0]["embedding"]
        assert vectors["emb-0"]["usage"]["output_tokens"] == 0


def test_a_timed_out_batch_keeps_its_results_and_the_rest_is_retried(stack: RunningStack):
    # Given the simulated Mistral times out the next job after 40% of its requests
    answer = httpx.post(f"{stack.simulator}/mistral/_sim/config", json={"timeouts_next": 1,
                                                                          "timeout_after_fraction": 0.4},
                        headers={"Authorization": "Bearer e2e"}, timeout=10)
    assert answer.status_code == 200, answer.text

    with stack.http() as http:
        created = http.post("/v1/jobs", json={
            "provider": "mistral", "endpoint": "/v1/chat/completions", "max_attempts": 3,
            "requests": [chat(i, "late") for i in range(50)],
        })
        assert created.status_code == 202, created.text

        done = wait(http, created.json()["id"])

        # Then the job completed: the 20 that finished kept their first answer, the rest ran again
        assert done["status"] == "completed"
        statuses = {chunk["provider_status"] for chunk in done["chunks"]}
        assert "TIMEOUT_EXCEEDED" in statuses
        lines = results(http, done["id"])
        first = [line for line in lines.values() if line["attempts"] == 1]
        assert len(lines) == 50 and all(line["status"] == "succeeded" for line in lines.values())
        assert 15 <= len(first) <= 20 < 50   # a few of the 20 may have failed once (the stack's 5%)


def test_the_openai_surface_runs_a_batch_on_mistral(stack: RunningStack):
    import openai

    from batchrelay import constants as c

    # Given the official openai SDK pointed at the OpenAI surface, choosing Mistral by header
    client = openai.OpenAI(base_url=stack.url + c.OPENAI_PREFIX, api_key=stack.api_key,
                           default_headers={c.PROVIDER_HEADER: "mistral"}, _strict_response_validation=True)
    records = [{"custom_id": f"sdk-{i}", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "mistral-small-latest", "max_tokens": 16,
                         "messages": [{"role": "user", "content": f"say {i}"}]}} for i in range(30)]
    file = client.files.create(file=("in.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode()),
                               purpose="batch")

    # An endpoint Mistral has no batches for is refused, naming the provider's endpoints
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(input_file_id=file.id, endpoint="/v1/responses", completion_window="24h")
    assert "not a mistral batch endpoint" in refused.value.message

    # When a chat batch is created
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
    deadline = time.monotonic() + 150
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        assert time.monotonic() < deadline, batch
        time.sleep(1)
        batch = client.batches.retrieve(batch.id)

    # Then it ran on Mistral, and its output file has OpenAI's lines with Mistral's answers
    assert batch.status == "completed" and batch.request_counts.completed == 30
    assert batch.model == "mistral-small-latest"
    with stack.http() as http:
        assert http.get(f"/v1/jobs/{batch.id}").json()["provider"] == "mistral"
    output = [json.loads(line) for line in client.files.content(batch.output_file_id).content.splitlines() if line]
    assert sorted(line["custom_id"] for line in output) == sorted(r["custom_id"] for r in records)
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in output)
    answer = openai.types.chat.ChatCompletion.model_validate(output[0]["response"]["body"])
    assert answer.model == "mistral-small-latest" and answer.choices[0].message.content

    # And the Anthropic surface refuses Mistral, naming the providers it runs on
    refused_there = httpx.post(f"{stack.url}{c.ANTHROPIC_PREFIX}/messages/batches",
                               headers={"x-api-key": stack.api_key, c.PROVIDER_HEADER: "mistral"},
                               json={"requests": [{"custom_id": "a", "params": {"model": "m", "max_tokens": 1,
                                                                                "messages": []}}]}, timeout=30)
    assert refused_there.status_code == 400 and "mistral" in refused_there.text
