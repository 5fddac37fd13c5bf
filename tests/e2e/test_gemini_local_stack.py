"""End to end with Gemini (issue 17): jobs with ``provider: "gemini"`` on the local stack, the
google-genai SDK reaching the simulator: inline and file input in one mixed-model job, an
expiry with partial results, a recovered ambiguous create, a long pending made visible."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack_process import RunningStack
from tests.e2e.test_local_stack import FINAL, result_lines, wait_http, write_jsonl

pytestmark = pytest.mark.e2e


def gemini_line(i: int, prefix: str, *, model: str = "gemini-2.5-flash", words: int = 3) -> dict:
    return {"custom_id": f"{prefix}-{i}", "body": {
        "model": model, "contents": [{"role": "user", "parts": [{"text": f"say {i} " + "word " * words}]}],
        "generationConfig": {"maxOutputTokens": 16}}}


def submit(http: httpx.Client, requests: list[dict], **extra) -> dict:
    response = http.post("/v1/jobs", json={"provider": "gemini", "endpoint": "generateContent",
                                           "requests": requests, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def sim_stats(stack: RunningStack) -> dict:
    return httpx.get(f"{stack.simulator}/_sim/stats", timeout=10).json()["routes"]


CREATE = "POST /gemini/{version}/models/{model}:batchGenerateContent"
UPLOAD = "POST /gemini/upload/{version}/files"


def test_a_mixed_model_job_with_inline_and_file_batches(stack: RunningStack, tmp_path: Path):
    httpx.post(f"{stack.simulator}/_sim/stats/reset", timeout=10)
    with stack.http() as http:
        # Given short Flash prompts (an inline chunk) and long Pro prompts (a chunk over 1 MiB:
        # an uploaded file), in one job submitted through the CLI
        lines = [gemini_line(i, "mix") for i in range(150)]
        lines += [gemini_line(i, "long", model="gemini-2.5-pro", words=2000) for i in range(110)]
        path = write_jsonl(tmp_path / "gemini.jsonl", lines)
        submitted = stack.cli("submit", str(path), "--provider", "gemini", "--endpoint", "generateContent",
                              "--chunk-size", "200", "--no-upload", "--wait", "--interval", "1", "--json",
                              timeout=240)
        assert submitted.returncode == 0, submitted.stderr
        job = http.get(f"/v1/jobs/{json.loads(submitted.stdout)['id']}").json()

        # Then it completed, one batch per model per chunk
        assert job["status"] == "completed" and job["provider"] == "gemini"
        assert sorted((m["model"], m["request_count"]) for m in job["models"]) == [
            ("gemini-2.5-flash", 150), ("gemini-2.5-pro", 110)]
        first_attempts = [c for c in job["chunks"] if c["attempt"] == 1]
        assert sorted(c["model"] for c in first_attempts) == ["gemini-2.5-flash", "gemini-2.5-pro"]
        # ... the Pro chunk uploaded as a file, the Flash one inline (one upload: start + parts)
        routes = sim_stats(stack)
        assert routes.get(CREATE, 0) >= 2 and routes.get(UPLOAD, 0) >= 2
        # ... every request has its line, with usage and a cost at Gemini's prices
        out = tmp_path / "gemini-results.jsonl"
        assert stack.cli("results", job["id"], "-o", str(out)).returncode == 0
        results = result_lines(out)
        assert len(results) == 260 == len({line["custom_id"] for line in results})
        assert {line["provider"] for line in results} == {"gemini"}
        assert all(line["response"]["candidates"] for line in results)
        assert job["cost"] and float(job["cost"]["batch"]) > 0
        # ... and nothing is left at the provider once collected (files, batches)
        deadline = time.monotonic() + 30
        while httpx.get(f"{stack.simulator}/_sim/files", timeout=10).json()["live"]:
            assert time.monotonic() < deadline, "provider files were not cleaned up"
            time.sleep(0.5)


def test_an_expiry_keeps_the_answers_it_had(stack: RunningStack):
    stack.sim_config(expire_after_fraction=0.5, failure_rules=[])
    try:
        with stack.http() as http:
            job = submit(http, [gemini_line(i, "exp") for i in range(20)], chunk_size=20, max_attempts=1)
            job = wait_http(http, job["id"])
            links = http.get(f"/v1/jobs/{job['id']}/results").json()
            lines = [json.loads(line) for line in httpx.get(links["results_url"], timeout=60)
                     .content.splitlines() if line.strip()]
    finally:
        stack.sim_config(expire_after_fraction=None,
                         failure_rules=[{"fraction": 0.05, "kind": "retryable", "first_attempt_only": True}])
    # The expired batch's answers were kept; the requests it never ran are reported expired
    assert job["status"] == "completed_with_errors"
    statuses = sorted(line["status"] for line in lines)
    assert statuses == ["expired"] * 10 + ["succeeded"] * 10
    assert job["chunks"][0]["provider_status"] == "JOB_STATE_EXPIRED"


def test_an_ambiguous_create_is_recovered_not_made_twice(stack: RunningStack):
    httpx.post(f"{stack.simulator}/_sim/stats/reset", timeout=10)
    stack.sim_config(lost_create_answers_next=1, failure_rules=[])
    try:
        with stack.http() as http:
            job = submit(http, [gemini_line(i, "amb") for i in range(5)])
            job = wait_http(http, job["id"])
    finally:
        stack.sim_config(failure_rules=[{"fraction": 0.05, "kind": "retryable", "first_attempt_only": True}])
    # The create's answer was lost after the batch was made: the retry found it by its display
    # name and adopted it; no second batch
    assert job["status"] == "completed"
    assert sim_stats(stack).get(CREATE) == 1
    assert len(job["chunks"]) == 1 and job["chunks"][0]["batch_id"].startswith("batches/")


def test_a_long_pending_is_visible_on_the_job(stack: RunningStack):
    stack.sim_config(pending_seconds=8)
    try:
        with stack.http() as http:
            job = submit(http, [gemini_line(i, "pend") for i in range(3)])
            deadline = time.monotonic() + 30
            seen = None
            while seen is None and time.monotonic() < deadline:
                view = http.get(f"/v1/jobs/{job['id']}").json()
                seen = next(iter(view.get("pending_batches") or []), None)
                time.sleep(0.5)
            assert seen is not None, view
            assert seen["provider"] == "gemini" and seen["batches"] == 1 and seen["oldest_pending_age_s"] >= 0
            assert view["chunks"][0]["provider_status"] == "JOB_STATE_PENDING"
            status = stack.cli("status", job["id"])
            assert status.returncode == 0 and "pending at gemini, the oldest for" in status.stdout
            final = wait_http(http, job["id"])
    finally:
        stack.sim_config(pending_seconds=0)
    assert final["status"] in FINAL and not final.get("pending_batches")
