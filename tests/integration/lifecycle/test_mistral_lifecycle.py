"""Mistral jobs through the lifecycle: the mistralai SDK against the simulator on the driver's
virtual clock. Chat and embeddings end to end, one job (one model) per chunk, the job's
timeout_hours on every batch, a timed-out batch's finished results kept and the rest retried
in a new batch, and a create whose answer was lost found again by its metadata."""

from __future__ import annotations

from collections import Counter

from batchrelay.lifecycle import provider_lookup
from batchrelay.models.job import JobStatus
from batchrelay.providers.base import ProviderError
from batchrelay.store import chunk_store
from batchrelay_tools.simulator.providers.mistral import PLUGIN
from tests.support.stored_jobs import read_lines, submit_job

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"


def chat_requests(n: int, models: tuple[str, ...] = ("mistral-small-latest",)) -> list[dict]:
    return [{"custom_id": f"m-{i:05d}", "body": {"model": models[i % len(models)], "max_tokens": 32,
                                                 "messages": [{"role": "user", "content": f"question {i}"}]}}
            for i in range(n)]


def embedding_requests(n: int) -> list[dict]:
    return [{"custom_id": f"e-{i:05d}", "body": {"model": "mistral-embed", "input": [f"text {i}", f"more {i}"]}}
            for i in range(n)]


def submit(requests: list[dict], endpoint: str = CHAT, **overrides):
    overrides.setdefault("timeout_hours", 24)
    return submit_job(requests, provider="mistral", endpoint=endpoint, **overrides)


def lines_by_id(job) -> dict[str, dict]:
    lines = read_lines(job.results_key)
    assert len(lines) == job.request_count == len({line["custom_id"] for line in lines})
    return {line["custom_id"]: line for line in lines}


def jobs_of(sim):
    return sim.simulator.extension(PLUGIN).jobs


def test_a_chat_job_in_several_chunks_completes(sim, driver):
    job = submit(chat_requests(250), chunk_size=100, timeout_hours=6)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED and job.chunks_total == 3
    lines = lines_by_id(job)
    assert {line["status"] for line in lines.values()} == {"succeeded"}
    assert {line["provider"] for line in lines.values()} == {"mistral"}
    assert lines["m-00000"]["response"]["choices"][0]["message"]["content"].startswith("Simulated answer ")
    assert job.usage.input_tokens > 0 and job.cost_usd not in (None, "0.000000")
    # every batch carries the model and the job's timeout_hours; its lines carry no model
    assert {(j.model, j.timeout_hours) for j in jobs_of(sim).values()} == {("mistral-small-latest", 6)}
    assert sim.stats()["files"] == 0   # inputs, outputs and errors deleted once collected
    assert [e["type"] for e in driver.published_events()] == ["job.completed"]


def test_an_embeddings_job_completes(sim, driver):
    job = submit(embedding_requests(30), EMBEDDINGS, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = lines_by_id(job)
    assert all(len(line["response"]["data"]) == 2 for line in lines.values())
    assert job.usage.input_tokens > 0 and job.usage.output_tokens == 0
    assert {j.endpoint for j in jobs_of(sim).values()} == {EMBEDDINGS}


def test_a_job_of_several_models_makes_one_mistral_job_per_model(sim, driver):
    models = ("mistral-small-latest", "mistral-large-latest", "codestral-latest")
    job = submit(chat_requests(30, models), chunk_size=100)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = lines_by_id(job)
    assert Counter(line["response"]["model"] for line in lines.values()) == {m: 10 for m in models}
    assert sorted(j.model for j in jobs_of(sim).values()) == sorted(models)
    assert {c.model for c in chunk_store.list_chunks(job.job_id)} == set(models)


def test_a_timed_out_batch_keeps_its_results_and_the_rest_goes_to_a_new_batch(sim, driver):
    # Given a first batch that times out after 30% of its requests
    extension = sim.simulator.extension(PLUGIN)
    extension.timeouts_next, extension.timeout_after_fraction = 1, 0.3
    job = submit(chat_requests(20), chunk_size=100, max_attempts=2)

    job = driver.run_until_final(job.job_id)

    # Then the 6 that finished keep their first answer and the 14 others succeed in a second batch
    assert job.status == JobStatus.COMPLETED
    lines = lines_by_id(job)
    assert Counter(line["attempts"] for line in lines.values()) == {1: 6, 2: 14}
    statuses = sorted((j.seq, j.timeline.total, j.timeline.expire_count) for j in jobs_of(sim).values())
    assert [(total, expired) for _, total, expired in statuses] == [(20, 6), (14, None)]
    chunks = {c.chunk_id: c for c in chunk_store.list_chunks(job.job_id)}
    assert chunks["c00001"].end_reason == "expired" and chunks["c00001"].provider_status == "TIMEOUT_EXCEEDED"


def test_a_timed_out_batch_without_attempts_left_reports_expired_requests(sim, driver):
    extension = sim.simulator.extension(PLUGIN)
    extension.timeouts_next, extension.timeout_after_fraction = 1, 0.5
    job = submit(chat_requests(10), max_attempts=1)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert Counter(line["status"] for line in lines_by_id(job).values()) == {"succeeded": 5, "expired": 5}


def test_retryable_request_errors_are_retried_and_permanent_ones_stay(sim, driver):
    sim.configure(failure_rules=[
        {"pattern": r"-0000[0-2]$", "kind": "permanent"},
        {"fraction": 0.3, "kind": "retryable", "first_attempt_only": True},
    ])
    job = submit(chat_requests(40), chunk_size=20)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    lines = lines_by_id(job)
    assert {cid for cid, line in lines.items() if line["status"] == "errored"} == {"m-00000", "m-00001", "m-00002"}
    assert any(line["attempts"] == 2 and line["status"] == "succeeded" for line in lines.values())


def test_a_create_whose_answer_was_lost_is_found_by_its_metadata(sim, driver, monkeypatch):
    # Given a create that Mistral carried out but whose answer never arrived
    provider = provider_lookup.provider_for("mistral")
    real_create = provider.create_batch
    lost: list[str] = []

    def lose_the_answer(**kwargs):
        made = real_create(**kwargs)
        if not lost:
            lost.append(made.batch_id)
            raise ProviderError("mistral: read timed out", retryable=True, status_code=None)
        return made

    monkeypatch.setattr(provider, "create_batch", lose_the_answer)
    job = submit(chat_requests(8), chunk_size=100)

    job = driver.run_until_final(job.job_id)

    # Then the takeover adopted that very job: one Mistral job in all, every request once
    assert job.status == JobStatus.COMPLETED
    assert list(jobs_of(sim)) == lost
    assert chunk_store.get_chunk(job.job_id, "c00001").batch_ids == lost
    lines_by_id(job)


def test_a_full_workspace_delays_the_batch_without_losing_requests(sim, driver):
    # Given a workspace whose pending-request limit refuses the first creates (429)
    sim.configure(token_limit_failures_next=3)
    job = submit(chat_requests(12), chunk_size=100)

    job = driver.run_until_final(job.job_id, step_s=300)

    assert job.status == JobStatus.COMPLETED and len(jobs_of(sim)) == 1
    lines_by_id(job)
