"""Jobs on the OpenAI-shaped providers through the whole lifecycle (submitter, poller,
collector, finalizer) against the simulator, through the openai SDK: Azure OpenAI, Groq and
two configured OpenAI-compatible servers; each provider's discount in the cost; Azure's
capacity holds, and the maximum batch age that ends batches Azure never expires."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from batchrelay import registry
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.results.pricing import cost_of
from batchrelay.store import chunk_store
from batchrelay_tools.simulator import SimulatorServer, SimulatorSettings, plugins
from tests.support.openai_shaped import compatible_servers, simulator_env
from tests.support.stored_jobs import chat_requests, read_lines, submit_job

SHAPED = ["azure_openai", "groq", "vllm_lab", "acme_batch"]
MODELS = {"azure_openai": "gpt-4o-mini", "groq": "llama-3.1-8b-instant", "vllm_lab": "llama-3.1-8b-instruct",
          "acme_batch": "acme-large"}


@pytest.fixture
def shaped_sim(aws, clock, monkeypatch) -> Iterator[SimulatorServer]:
    """The simulator on the driver's clock, standing in for every OpenAI-shaped provider (two
    configured servers among them), as local mode routes them."""
    from batchrelay.providers.adapters import reset_providers
    from batchrelay.settings import get_settings

    with compatible_servers(), SimulatorServer(SimulatorSettings(processing_seconds=100.0), clock=clock) as server:
        for key, value in simulator_env(server, SHAPED).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        reset_providers()
        yield server
    reset_providers()
    get_settings.cache_clear()


def requests_for(provider: str, n: int) -> list[dict]:
    requests = chat_requests(n)
    for request in requests:
        request["body"]["model"] = MODELS[provider]
    return requests


def account(sim: SimulatorServer, provider: str):
    if provider in ("azure_openai", "groq"):
        return sim.simulator.extension(plugins.PLUGINS[provider])
    return sim.simulator.extension(plugins.PLUGINS["openai_compatible"]).account(provider)


@pytest.mark.parametrize("provider", SHAPED)
def test_a_job_runs_end_to_end_and_costs_at_its_providers_discount(shaped_sim, driver, provider):
    # Given a job of 30 requests on the provider, in batches of 10
    job = submit_job(requests_for(provider, 30), provider=provider, chunk_size=10)

    # When it runs to the end
    job = driver.run_until_final(job.job_id)

    # Then every request has its answer, from batches made at that provider's own account
    assert job.status == JobStatus.COMPLETED and job.chunks_total == 3
    lines = read_lines(job.results_key)
    assert sorted(line["custom_id"] for line in lines) == sorted(r["custom_id"] for r in requests_for(provider, 30))
    assert {line["provider"] for line in lines} == {provider} and {line["status"] for line in lines} == {"succeeded"}
    batches = account(shaped_sim, provider).openai_batches
    assert {chunk.batch_id for chunk in chunk_store.list_chunks(job.job_id)} == set(batches)
    assert shaped_sim.simulator.openai_batches == {}  # nothing went to OpenAI's account
    # And its provider files are cleaned up
    assert account(shaped_sim, provider).file_ledger()["live"] == []

    # And the cost is its provider's batch price, not a global 50%
    usage = {MODELS[provider]: {"input_tokens": job.usage.input_tokens, "output_tokens": job.usage.output_tokens}}
    expected = cost_of(provider, usage)
    assert (Decimal(job.cost_usd), Decimal(job.sync_cost_usd)) == (
        expected.batch_usd.quantize(Decimal("0.000001")), expected.sync_usd.quantize(Decimal("0.000001")))
    discount = {"azure_openai": Decimal("0.5"), "groq": Decimal("0.5"), "vllm_lab": None,
                "acme_batch": Decimal("0.4")}[provider]
    if discount is not None:
        assert expected.batch_usd == expected.sync_usd * discount > 0


def test_a_groq_job_runs_in_the_window_it_asked_for(shaped_sim, driver):
    job = submit_job(requests_for("groq", 5), provider="groq", completion_window="72h")
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED
    assert {b.completion_window for b in account(shaped_sim, "groq").openai_batches.values()} == {"72h"}


def test_azure_out_of_quota_holds_the_chunk_and_creates_it_again(shaped_sim, driver):
    # Given Azure refusing the first batch for its enqueued-token quota
    shaped_sim.configure(token_limit_failures_next=1)
    job = submit_job(requests_for("azure_openai", 4), provider="azure_openai")

    # When the job runs, the chunk is held, then its batch made again
    job = driver.run_until_final(job.job_id)

    # Then it completes, on its second batch
    assert job.status == JobStatus.COMPLETED and job.counts.succeeded == 4
    (chunk,) = chunk_store.list_chunks(job.job_id)
    assert len(chunk.batch_ids) == 2 and chunk.attempt == 1


def test_an_azure_batch_past_the_maximum_age_is_cancelled_and_its_unfinished_requests_retried(shaped_sim, driver):
    # Given an Azure job whose batch stalls half done (Azure never expires it) and a one-hour age
    shaped_sim.configure(expire_after_fraction=0.5)
    job = submit_job(requests_for("azure_openai", 10), provider="azure_openai", max_batch_age_seconds=3600)

    # When the age has passed, the poller cancels the batch; its successor is not held up
    def unstall(round_no: int) -> None:
        if any(chunk.aged_out_at for chunk in chunk_store.list_chunks(job.job_id)):
            shaped_sim.configure(expire_after_fraction=None)

    job = driver.run_until_final(job.job_id, before_poll=unstall)

    # Then the finished half was kept, and the other half ran again in a retry batch
    assert job.status == JobStatus.COMPLETED and job.counts.succeeded == 10
    first, retry = sorted(chunk_store.list_chunks(job.job_id), key=lambda ch: ch.attempt)
    assert first.aged_out_at is not None and first.end_reason == "expired" and first.provider_status == "cancelled"
    assert first.aged_out_at - first.batch_created_at >= 3600
    assert (retry.attempt, retry.request_count, retry.status) == (2, 5, ChunkStatus.COLLECTED)
    attempts = {line["custom_id"]: line["attempts"] for line in read_lines(job.results_key)}
    assert sorted(attempts.values()) == [1] * 5 + [2] * 5
    assert sum(driver.poll_summaries[i].get("aged_out", 0) for i in range(len(driver.poll_summaries))) == 1


def test_without_attempts_left_the_unfinished_requests_of_an_aged_out_batch_expire(shaped_sim, driver):
    shaped_sim.configure(expire_after_fraction=0.5)
    job = submit_job(requests_for("azure_openai", 6), provider="azure_openai", max_batch_age_seconds=3600,
                     max_attempts=1)
    job = driver.run_until_final(job.job_id)
    assert (job.counts.succeeded, job.counts.expired, job.counts.cancelled) == (3, 3, 0)
    statuses = {line["custom_id"]: line["status"] for line in read_lines(job.results_key)}
    assert sorted(statuses.values()) == ["expired"] * 3 + ["succeeded"] * 3


def test_the_job_takes_its_providers_maximum_age_by_default(aws, monkeypatch):
    from batchrelay.jobs.job_service import create_job
    from batchrelay.models.api import CreateJobRequest
    from batchrelay.settings import get_settings

    monkeypatch.setenv("AZURE_OPENAI_BASE_URL", "https://example-resource.openai.azure.com")
    get_settings.cache_clear()

    request = {"endpoint": "/v1/chat/completions", "requests": requests_for("groq", 1)}
    azure, _ = create_job("t1", CreateJobRequest(provider="azure_openai", **request), idempotency_key=None)
    groq, _ = create_job("t1", CreateJobRequest(provider="groq", completion_window="7d", **request),
                         idempotency_key=None)
    assert (azure.max_batch_age_seconds, azure.completion_window) == (
        registry.AZURE_MAX_BATCH_AGE_SECONDS, None)
    assert (groq.max_batch_age_seconds, groq.completion_window) == (None, "7d")


def test_an_unprovable_batch_of_a_server_that_never_expires_is_ended_at_the_maximum_age(shaped_sim, driver,
                                                                                       clock, monkeypatch):
    import time
    from types import SimpleNamespace

    from batchrelay.lifecycle import batch_creation
    from batchrelay.providers.base import ProviderError
    from batchrelay.providers.openai_shaped import OpenAICompatibleProvider

    # Batch creation reads the driver's clock, as the poller and the simulator do
    monkeypatch.setattr(batch_creation, "time", SimpleNamespace(time=clock, sleep=time.sleep))

    # Given a server that keeps no metadata and never expires a batch, a create whose answer is
    # lost after the batch was made, and that batch stalling half done
    create = OpenAICompatibleProvider.create_batch
    lost = []

    def answer_lost_once(self, **kwargs):
        info = create(self, **kwargs)
        if not lost:
            lost.append(info.batch_id)
            raise ProviderError("vllm_lab: connection reset", retryable=True, status_code=502)
        return info

    monkeypatch.setattr(OpenAICompatibleProvider, "create_batch", answer_lost_once)
    shaped_sim.configure(expire_after_fraction=0.5)
    job = submit_job(requests_for("vllm_lab", 4), provider="vllm_lab", max_batch_age_seconds=3600)

    # When the recovery cannot tell whose the running batch is until the maximum age, then
    # cancels it so that it ends, and proves it by the chunk tag in its results
    def unstall(round_no: int) -> None:
        if lost and account(shaped_sim, "vllm_lab").openai_batches[lost[0]].timeline.cancel_at is not None:
            shaped_sim.configure(expire_after_fraction=None)

    job = driver.run_until_final(job.job_id, before_poll=unstall)

    # Then that batch was adopted (no second batch for its requests while it ran), its finished
    # half kept and the other half retried as after an expiry
    assert job.status == JobStatus.COMPLETED and job.counts.succeeded == 4
    first, retry = sorted(chunk_store.list_chunks(job.job_id), key=lambda ch: ch.attempt)
    assert first.batch_ids == lost and first.aged_out_at is not None and first.end_reason == "expired"
    assert (retry.attempt, retry.request_count) == (2, 2)
    assert len(account(shaped_sim, "vllm_lab").openai_batches) == 2


def test_a_batch_that_never_moves_still_ends_at_its_maximum_age(fake, driver):
    # Given a provider without progress counts (a configured server may have none): its
    # unchanged batches stay due without a write at every run (issue 14), and a one-hour age
    assert not registry.spec("anthropic").capabilities.progress_counts
    fake.processing_s = 3 * 3600
    fake.shows_progress = False
    job = submit_job(chat_requests(100), chunk_size=100, provider="anthropic", model="claude-3-5-haiku-latest",
                     max_batch_age_seconds=3600)
    driver.drain("jobs")
    driver.poll(60)
    assert driver.poll(60)["unchanged"] == 1

    # When the age has passed, the next run cancels the batch instead of leaving it unchanged
    driver.clock.advance(3600)
    summary = driver.poll(60)

    # Then it is cancelled once, and its end counts as an expiry
    assert (summary["aged_out"], summary["unchanged"], fake.calls["cancel"]) == (1, 0, 1)
    (chunk,) = chunk_store.list_chunks(job.job_id)
    assert chunk.aged_out_at is not None
    driver.poll(60)
    (chunk,) = chunk_store.list_chunks(job.job_id)
    assert chunk.status != ChunkStatus.SUBMITTED and chunk.end_reason == "expired" and fake.calls["cancel"] == 1
