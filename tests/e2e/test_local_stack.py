"""End to end: the local stack as a subprocess, driven over HTTP and through the CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from batchrelay_tools.local.webhook_receiver import WebhookReceiver
from tests.e2e.stack_process import RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

FINAL = {"completed", "completed_with_errors", "failed", "cancelled", "expired"}


def openai_line(i: int, prefix: str = "req") -> dict:
    # The simulator fails a custom_id only the first time it sees it: a prefix per test.
    return {"custom_id": f"{prefix}-{i}", "body": {"model": "gpt-4o-mini", "max_tokens": 16,
                                               "messages": [{"role": "user", "content": f"say {i}"}]}}


def anthropic_line(i: int) -> dict:
    return {"custom_id": f"msg.{i}", "body": {"model": "claude-haiku-4-5", "max_tokens": 16,
                                               "messages": [{"role": "user", "content": f"say {i}"}]}}


def write_jsonl(path: Path, lines) -> Path:
    with path.open("w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return path


def wait_http(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in FINAL:
            return job
        time.sleep(1)
    raise AssertionError(f"{job_id} did not end: {job}")


def result_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_a_job_per_provider_from_submit_to_verified_webhook_to_results(stack: RunningStack, tmp_path: Path):
    with WebhookReceiver() as receiver, stack.http() as http:
        # Given a webhook endpoint registered through the CLI
        added = stack.cli("webhooks", "add", receiver.url, "--json")
        assert added.returncode == 0, added.stderr
        secret = json.loads(added.stdout)["secret"]

        # When an OpenAI job is submitted through the CLI and an Anthropic job over HTTP
        openai_file = write_jsonl(tmp_path / "openai.jsonl", (openai_line(i) for i in range(250)))
        submitted = stack.cli("submit", str(openai_file), "--provider", "openai", "--endpoint",
                              "/v1/chat/completions", "--chunk-size", "100", "--json")
        assert submitted.returncode == 0, submitted.stderr
        openai_job = json.loads(submitted.stdout)
        response = http.post("/v1/jobs", json={
            "provider": "anthropic", "endpoint": "/v1/messages", "chunk_size": 100,
            "requests": [anthropic_line(i) for i in range(250)],
        }, headers={"Idempotency-Key": "e2e-anthropic-1"})
        assert response.status_code == 202, response.text
        anthropic_job = response.json()

        # Then both end completed: the CLI's wait for one, polling over HTTP for the other
        waited = stack.cli("wait", openai_job["id"], "--interval", "1", "--json")
        assert waited.returncode == 0, waited.stderr
        assert json.loads(waited.stdout)["status"] == "completed"
        assert wait_http(http, anthropic_job["id"])["status"] == "completed"

        # And a signed webhook for each job arrives and verifies with standardwebhooks
        job_ids = {openai_job["id"], anthropic_job["id"]}
        assert receiver.wait_for_jobs(job_ids, timeout=30)
        for hook in receiver.job_events():
            event = hook.verify(secret)
            assert event["type"] == "job.completed"

        # And the results download with one line per request (CLI for one, presigned URL for the other)
        out = tmp_path / "openai-results.jsonl"
        downloaded = stack.cli("results", openai_job["id"], "-o", str(out))
        assert downloaded.returncode == 0, downloaded.stderr
        lines = result_lines(out)
        assert sorted(line["custom_id"] for line in lines) == sorted(f"req-{i}" for i in range(250))
        assert all(line["status"] == "succeeded" for line in lines)
        assert any(line["attempts"] > 1 for line in lines)  # the simulated failures were retried

        links = http.get(f"/v1/jobs/{anthropic_job['id']}/results").json()
        body = httpx.get(links["results_url"], timeout=60).content
        custom_ids = [json.loads(line)["custom_id"] for line in body.splitlines() if line.strip()]
        assert sorted(custom_ids) == sorted(f"msg.{i}" for i in range(250))

        # And the delivery log shows the webhook delivered
        deliveries = stack.cli("deliveries", openai_job["id"])
        assert deliveries.returncode == 0
        assert any(d["status"] == "delivered" for d in json.loads(deliveries.stdout)["data"])

        # And once the Anthropic job is deleted, nothing of it answers: the job, its result link
        deleted = http.delete(f"/v1/jobs/{anthropic_job['id']}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["status"] == "deleted" and deleted.json()["removed"]["results"] >= 2
        assert http.get(f"/v1/jobs/{anthropic_job['id']}").status_code == 404
        assert httpx.get(links["results_url"], timeout=60).status_code == 404


def test_an_upload_based_job_of_20000_requests_through_the_cli(stack: RunningStack, tmp_path: Path):
    # Given a file too big to send inline
    path = write_jsonl(tmp_path / "big.jsonl", (openai_line(i, "big") for i in range(20_000)))
    # When it is submitted through the CLI and waited for
    submitted = stack.cli("submit", str(path), "--provider", "openai", "--endpoint", "/v1/chat/completions",
                          "--wait", "--interval", "1", "--json", timeout=240)
    # Then it went through an upload and ended completed
    assert submitted.returncode == 0, submitted.stderr
    assert "uploaded" in submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "completed" and job["request_count"] == 20_000
    out = tmp_path / "big-results.jsonl"
    manifest = tmp_path / "manifest.json"
    downloaded = stack.cli("results", job["id"], "-o", str(out), "--manifest", str(manifest))
    assert downloaded.returncode == 0, downloaded.stderr
    lines = result_lines(out)
    assert len(lines) == 20_000 == len({line["custom_id"] for line in lines})
    assert json.loads(manifest.read_text())


def test_the_cli_uploads_a_file_in_parts_and_waits_it_out(stack: RunningStack, tmp_path: Path):
    # Given a file of more than one 5 MiB part (the smallest S3 takes)
    def line(i: int) -> dict:
        request = openai_line(i, "parts")
        request["body"]["messages"][0]["content"] = f"say {i} " + "x" * 1000
        return request

    path = write_jsonl(tmp_path / "parts.jsonl", (line(i) for i in range(7_000)))
    assert path.stat().st_size > 5 * 1024 * 1024
    # When the CLI submits it in parts of 5 MiB
    submitted = stack.cli("submit", str(path), "--provider", "openai", "--endpoint", "/v1/chat/completions",
                          "--part-size", "5", "--json", timeout=120)
    # Then it went as a multipart upload, and the job answered at once, validating
    assert submitted.returncode == 0, submitted.stderr
    assert "2 parts" in submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "validating" and job["validation"]["size_bytes"] == path.stat().st_size
    # And `wait` follows it through validation to the end
    waited = stack.cli("wait", job["id"], "--interval", "1", "--json", timeout=240)
    assert waited.returncode == 0, waited.stderr
    final = json.loads(waited.stdout)
    assert final["status"] == "completed" and final["request_count"] == 7_000
    assert final["validation"]["done"] is True
    out = tmp_path / "parts-results.jsonl"
    assert stack.cli("results", job["id"], "-o", str(out)).returncode == 0
    assert len({line["custom_id"] for line in result_lines(out)}) == 7_000


def test_a_bad_line_in_an_upload_fails_the_job_and_wait_says_where(stack: RunningStack, tmp_path: Path):
    # Given an uploaded file whose line 4 has no model
    lines = [openai_line(i, "bad") for i in range(6)]
    del lines[3]["body"]["model"]
    path = write_jsonl(tmp_path / "bad-upload.jsonl", lines)
    submitted = stack.cli("submit", str(path), "--provider", "openai", "--endpoint", "/v1/chat/completions",
                          "--upload", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["id"]
    # When it is waited for
    waited = stack.cli("wait", job_id, "--interval", "1", timeout=60)
    # Then wait ends with the "job not ok" code and names the line and field
    assert waited.returncode == 3, waited.stderr
    assert "failed" in waited.stdout and "(field body.model, line 4)" in waited.stdout
    # And there are no results to fetch
    fetched = stack.cli("results", job_id, "-o", str(tmp_path / "none.jsonl"))
    assert fetched.returncode == 1 and fetched.stderr.startswith("error: no_results")


def test_deleting_a_big_job_through_the_cli_goes_on_behind_the_queue(stack: RunningStack, tmp_path: Path):
    # Given a final job of more chunks than a request deletes at once (no failures: no retry batches)
    path = write_jsonl(tmp_path / "delete.jsonl", (openai_line(i, "del") for i in range(5_100)))
    stack.sim_config(failure_rules=[])
    try:
        submitted = stack.cli("submit", str(path), "--provider", "openai", "--endpoint", "/v1/chat/completions",
                              "--chunk-size", "100", "--wait", "--interval", "1", "--json", timeout=240)
    finally:
        stack.sim_config(failure_rules=[{"fraction": 0.05, "kind": "retryable", "first_attempt_only": True}])
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "completed" and job["expires_at"]

    # When it is deleted through the CLI
    deleted = stack.cli("delete", job["id"], "--json")

    # Then the answer says it goes on, with what is left to remove
    assert deleted.returncode == 0, deleted.stderr
    answer = json.loads(deleted.stdout)
    assert answer["status"] == "deleting" and answer["to_remove"]["chunks"] == 51
    # And the job is gone soon after (a 404, which the CLI reports as an error)
    with stack.http() as http:
        deadline = time.monotonic() + 120
        while http.get(f"/v1/jobs/{job['id']}").status_code != 404:
            assert time.monotonic() < deadline, "the job was not deleted"
            time.sleep(1)
    status = stack.cli("status", job["id"])
    assert status.returncode == 1 and "not_found" in status.stderr


def test_cancel_through_the_cli(stack: RunningStack, tmp_path: Path):
    # Given a job whose batches run long
    stack.sim_config(processing_seconds=60)
    try:
        path = write_jsonl(tmp_path / "cancel.jsonl", (openai_line(i, "cancel") for i in range(50)))
        submitted = stack.cli("submit", str(path), "--provider", "openai", "--endpoint", "/v1/chat/completions",
                              "--json")
        job_id = json.loads(submitted.stdout)["id"]
        with stack.http() as http:
            deadline = time.monotonic() + 30
            while http.get(f"/v1/jobs/{job_id}").json()["status"] != "in_progress":
                assert time.monotonic() < deadline
                time.sleep(0.5)
        # When it is cancelled
        cancelled = stack.cli("cancel", job_id)
        assert cancelled.returncode == 0, cancelled.stderr
        # Then wait reports the cancelled end with its own exit code, and every request has a line
        waited = stack.cli("wait", job_id, "--interval", "1", "--json", timeout=90)
        assert waited.returncode == 3, waited.stderr
        assert json.loads(waited.stdout)["status"] == "cancelled"
        out = tmp_path / "cancelled.jsonl"
        assert stack.cli("results", job_id, "-o", str(out)).returncode == 0
        lines = result_lines(out)
        assert len(lines) == 50 and {line["status"] for line in lines} <= {"cancelled", "succeeded"}
    finally:
        stack.sim_config(processing_seconds=2)


def test_api_errors_are_one_line_and_exit_1(stack: RunningStack, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(openai_line(1)) + "\n\n" + json.dumps({"custom_id": "", "body": {}}) + "\n")
    submitted = stack.cli("submit", str(bad), "--provider", "openai", "--endpoint", "/v1/chat/completions")
    assert submitted.returncode == 1
    assert submitted.stderr.strip().count("\n") == 0
    assert submitted.stderr.startswith("error: invalid_request: requests[1].custom_id")
    assert "(line 3)" in submitted.stderr
    wrong_key = stack.cli("--api-key", "nope", "jobs")
    # A key the authorizer does not know: 401 (API Gateway's answer, readable by every client)
    assert wrong_key.returncode == 1 and wrong_key.stderr.startswith("error: invalid_api_key")
    assert "BATCHRELAY_API_KEY" in wrong_key.stderr
    missing = stack.cli("status", "job_doesnotexist")
    assert missing.returncode == 1 and missing.stderr.startswith("error: not_found")
    listed = stack.cli("jobs", "--json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout)["data"], list)


def test_the_stack_stops_cleanly_on_ctrl_c_and_leaves_no_process(tmp_path: Path):
    # Given a stack that served a request
    running = start_stack(tmp_path)
    with running.http() as http:
        assert http.get("/v1/health").status_code == 200
    pgid = os.getpgid(running.process.pid)
    # When it gets Ctrl-C
    code = stop_stack(running)
    # Then it exits 0, says so, and nothing of its process group is left
    assert code == 0
    assert "stopped" in running.log.read_text()
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
