"""Gemini jobs through the lifecycle: the google-genai SDK against the simulator on the
driver's virtual clock (issue 17): inline and file input in one mixed-model job, an expiry
with partial results, an ambiguous create recovered by the display name, a long pending."""

from __future__ import annotations

import json
import math
from collections import Counter
from types import SimpleNamespace

import httpx2
import pytest

from batchrelay import constants as c
from batchrelay.jobs.job_views import job_out
from batchrelay.lifecycle.poll_schedule import MAX_DELAY_WITHOUT_PROGRESS_S
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.providers.adapters import get_provider
from batchrelay.store import chunk_store, job_store
from batchrelay_tools.simulator import SimulatorServer
from batchrelay_tools.simulator.providers.gemini import PLUGIN, GeminiState
from batchrelay_tools.simulator.state import BatchPlan
from tests.support.driver import LambdaContextStub
from tests.support.stored_jobs import read_lines, submit_job

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"


def gemini_requests(n: int, *, model: str = FLASH, words: int = 3, prefix: str = "req") -> list[dict]:
    return [
        {"custom_id": f"{prefix}-{i:05d}",
         "body": {"model": model,
                  "contents": [{"role": "user", "parts": [{"text": f"question {i} " + "word " * words}]}],
                  "generationConfig": {"maxOutputTokens": 64}}}
        for i in range(n)
    ]


def submit(requests: list[dict], **overrides):
    models = Counter(r["body"]["model"] for r in requests)
    return submit_job(requests, provider="gemini", endpoint="generateContent", models=dict(models), **overrides)


def state(sim: SimulatorServer) -> GeminiState:
    return sim.simulator.extension(PLUGIN)


def lines_by_id(job) -> dict[str, dict]:
    lines = read_lines(job.results_key)
    assert len(lines) == job.request_count == len({line["custom_id"] for line in lines})
    return {line["custom_id"]: line for line in lines}


def test_a_mixed_model_job_runs_inline_and_file_batches_one_model_each(sim, driver):
    # Given a job of two models: short prompts (small chunks, inline) and long ones (a chunk
    # over the inline limit, uploaded as a file)
    requests = gemini_requests(150, model=FLASH) + gemini_requests(120, model=PRO, words=2000, prefix="long")
    job = submit(requests, chunk_size=200)

    job = driver.run_until_final(job.job_id)

    # Then it completed, one batch per model per chunk, each created with its model
    assert job.status == JobStatus.COMPLETED
    lines = lines_by_id(job)
    assert {line["provider"] for line in lines.values()} == {"gemini"}
    batches = list(state(sim).batches.values())
    assert sorted(b.model for b in batches) == [f"models/{FLASH}", f"models/{PRO}"]
    chunks = chunk_store.list_chunks(job.job_id)
    assert Counter(chunk.model for chunk in chunks) == {FLASH: 1, PRO: 1}
    # ... the short ones inline, the long ones from an uploaded file
    by_model = {b.model: b for b in batches}
    assert by_model[f"models/{FLASH}"].input_file is None
    assert by_model[f"models/{PRO}"].input_file is not None
    # ... answers, usage and a cost at Gemini's own prices
    assert all(line["status"] == "succeeded" and line["usage"]["output_tokens"] > 0 for line in lines.values())
    assert lines["req-00000"]["response"]["modelVersion"] == FLASH
    assert job.cost_usd not in (None, "0.000000") and float(job.cost_usd) * 2 == pytest.approx(
        float(job.sync_cost_usd), abs=2e-6)
    # ... and once collected, nothing is left at the provider: files and batches deleted
    assert sim.file_ledger()["live"] == []
    assert all(b.deleted for b in batches)
    assert all(not chunk.files_pending_cleanup for chunk in chunks)


def test_an_expired_batch_keeps_its_answers_and_the_rest_run_again(sim, driver):
    # Given a first batch that expires having answered 40% of its requests
    plans = iter([BatchPlan(expire_after_fraction=0.4)])
    sim.simulator.batch_planner = lambda provider, total: next(plans, None)
    job = submit(gemini_requests(20), chunk_size=20)

    job = driver.run_until_final(job.job_id)

    # Then the answered requests kept their answers and the rest went to a second batch
    assert job.status == JobStatus.COMPLETED
    lines = lines_by_id(job)
    assert Counter(line["attempts"] for line in lines.values()) == {1: 8, 2: 12}
    assert len(state(sim).batches) == 2
    first = chunk_store.get_chunk(job.job_id, "c00001")
    assert (first.end_reason, first.provider_status) == ("expired", "JOB_STATE_EXPIRED")


def test_an_expired_batch_without_answers_runs_again_whole(sim, driver):
    # Google's guide: an expired batch has no results. Every request then goes to a new batch.
    plans = iter([BatchPlan(expire_after_fraction=0.0)])
    sim.simulator.batch_planner = lambda provider, total: next(plans, None)
    job = submit(gemini_requests(6), chunk_size=6, max_attempts=1)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.EXPIRED
    assert {line["status"] for line in lines_by_id(job).values()} == {"expired"}


def test_an_ambiguous_create_is_recovered_by_the_display_name(sim, driver):
    # Given a create whose answer is lost after Gemini made the batch
    provider = get_provider("gemini")
    batches = provider.client.batches
    real_create = batches.create
    lost: list[str] = []

    def create_then_lose_the_answer(**kwargs):
        made = real_create(**kwargs)
        if not lost:
            lost.append(made.name)
            raise httpx2.ReadTimeout("simulated: the answer was lost")
        return made

    batches.create = create_then_lose_the_answer
    # ... beside another job's chunk of the same size created in the same window
    other = submit(gemini_requests(5, prefix="other"), chunk_size=100)
    job = submit(gemini_requests(5), chunk_size=100)

    job = driver.run_until_final(job.job_id)
    other = driver.run_until_final(other.job_id)

    # Then the chunk adopted the batch its first attempt made: no second batch for it
    assert job.status == other.status == JobStatus.COMPLETED
    assert len(state(sim).batches) == 2
    chunk = chunk_store.get_chunk(job.job_id, "c00001")
    other_chunk = chunk_store.get_chunk(other.job_id, "c00001")
    assert {chunk.batch_id, other_chunk.batch_id} == {b.name for b in state(sim).batches.values()}
    assert lost[0] in (chunk.batch_id, other_chunk.batch_id)
    assert max(chunk.create_seq, other_chunk.create_seq) >= 2     # the takeover fenced the lost attempt
    for final in (job, other):
        for custom_id, line in lines_by_id(final).items():
            assert line["response"]["candidates"][0]["content"]["parts"][0]["text"]


def pending_age_metric(monkeypatch, capsys, clock) -> dict[str, float]:
    """Run the poller's Lambda handler at the virtual time; the pending-age metric it emitted
    (CloudWatch embedded metric format on stdout), by provider."""
    from handlers import poller as poller_handler

    monkeypatch.setattr(poller_handler, "time", SimpleNamespace(time=clock))
    capsys.readouterr()
    poller_handler.handler({}, LambdaContextStub())
    ages: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if c.METRIC_OLDEST_PENDING_BATCH_AGE in record:
            value = record[c.METRIC_OLDEST_PENDING_BATCH_AGE]
            ages[record["provider"]] = value[0] if isinstance(value, list) else value
    return ages


def test_a_long_pending_batch_is_watched_and_shown_on_the_job(sim, driver, clock, monkeypatch, capsys):
    # Given a batch Gemini keeps pending for 40 hours before running it
    plans = iter([BatchPlan(validating_seconds=40 * 3600, processing_seconds=600)])
    sim.simulator.batch_planner = lambda provider, total: next(plans, None)
    job = submit(gemini_requests(4), chunk_size=100)
    driver.drain("jobs")
    created = chunk_store.get_chunk(job.job_id, "c00001").batch_created_at

    # When the poller runs through 30 hours of it
    for _ in range(30 * 6):
        summary = driver.poll(600)
    chunk = chunk_store.get_chunk(job.job_id, "c00001")

    # Then the batch is still watched, every ten minutes at most, never given up on
    assert chunk.status == ChunkStatus.SUBMITTED and chunk.provider_status == "JOB_STATE_PENDING"
    assert chunk.due_at - clock() <= MAX_DELAY_WITHOUT_PROGRESS_S
    assert chunk.checks >= 30 * 6 * 0.9
    # ... and the job shows how long its oldest pending batch has waited
    view = job_out(job_store.get_job(job.job_id), chunks=chunk_store.list_chunks(job.job_id), now=clock())
    [pending] = view.pending_batches
    assert (pending.provider, pending.batches) == ("gemini", 1)
    assert pending.oldest_pending_age_s == pytest.approx(clock() - created, abs=2)
    assert pending.oldest_pending_age_s > 30 * 3600
    assert view.chunks[0].provider_status == "JOB_STATE_PENDING"
    # ... and each poller run reports it (the run's summary; the handler's metric, per provider)
    assert summary["oldest_pending_s"]["gemini"] == pytest.approx(clock() - created, abs=2)
    clock.advance(MAX_DELAY_WITHOUT_PROGRESS_S)
    assert pending_age_metric(monkeypatch, capsys, clock) == {"gemini": pytest.approx(clock() - created, abs=2)}

    # And when it finally runs, the job completes and nothing is pending any more
    job = driver.run_until_final(job.job_id, step_s=3600, max_rounds=20)
    assert job.status == JobStatus.COMPLETED
    view = job_out(job, chunks=chunk_store.list_chunks(job.job_id), now=clock())
    assert view.pending_batches == []


def test_a_quota_failure_holds_the_chunk_and_creates_it_again(sim, driver):
    # Given a first batch Gemini fails for the project's enqueued-token quota
    sim.configure(token_limit_failures_next=1)
    job = submit(gemini_requests(3), chunk_size=100)

    job = driver.run_until_final(job.job_id, step_s=20 * 60)

    # Then the chunk was held, then its requests ran in a new batch: nothing failed
    assert job.status == JobStatus.COMPLETED
    assert len(state(sim).batches) == 2
    assert math.isclose(job.counts.succeeded, 3)
