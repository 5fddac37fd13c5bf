"""MistralProvider against the simulator through the real mistralai SDK.

What the simulator answers is also read by the SDK's own models (BatchJob, GetFileResponse,
ChatCompletionResponse... and ``mistralai.extra.batch``'s result-line parser), so the
simulator cannot drift from the shapes the SDK expects.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mistralai.client import Mistral
from mistralai.client.models import (
    ChatCompletionResponse,
    ClassificationResponse,
    ConversationResponse,
    EmbeddingResponse,
    FIMCompletionResponse,
    ModerationResponse,
    OCRResponse,
    TranscriptionResponse,
)
from mistralai.extra.batch import BatchOutput

from batchrelay.providers.base import BatchInfo, BatchOptions, ProviderError
from batchrelay.providers.custom_ids import untagged
from batchrelay.providers.mistral_provider import MistralProvider
from batchrelay_tools.simulator import FailureRule, SimulatorServer
from batchrelay_tools.simulator.providers.mistral import PLUGIN
from tests.support.simulator import DEFAULT_TAG, collect, raw_bytes, wait_until_ended

IDS = [f"req-{i}" for i in range(6)]
CHAT = "/v1/chat/completions"
MODEL = "mistral-small-latest"
OPTIONS = BatchOptions(model=MODEL, timeout_hours=24)
BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 32},
    "/v1/embeddings": {"input": ["first text", "second text"]},
    "/v1/fim/completions": {"prompt": "def add(a, b):", "suffix": "    return c"},
    "/v1/moderations": {"input": ["some text"]},
    "/v1/chat/moderations": {"input": [{"role": "user", "content": "hi"}]},
    "/v1/ocr": {"document": {"type": "document_url", "document_url": "https://arxiv.org/pdf/2201.04234"}},
    "/v1/classifications": {"input": "some text"},
    "/v1/chat/classifications": {"input": {"messages": [{"role": "user", "content": "hi"}]}},
    "/v1/conversations": {"inputs": "hello"},
    "/v1/audio/transcriptions": {"file_url": "https://example.com/a.mp3"},
}
RESPONSE_MODELS = {
    "/v1/chat/completions": ChatCompletionResponse, "/v1/embeddings": EmbeddingResponse,
    "/v1/fim/completions": FIMCompletionResponse, "/v1/moderations": ModerationResponse,
    "/v1/chat/moderations": ModerationResponse, "/v1/ocr": OCRResponse,
    "/v1/classifications": ClassificationResponse, "/v1/chat/classifications": ClassificationResponse,
    "/v1/conversations": ConversationResponse, "/v1/audio/transcriptions": TranscriptionResponse,
}


def make_mistral(server: SimulatorServer, **kwargs: Any) -> MistralProvider:
    return MistralProvider(api_key="sim-key", base_url=server.base_url + "/mistral",
                           max_retries=kwargs.pop("max_retries", 2), **kwargs)


def state(server: SimulatorServer):
    return server.simulator.extension(PLUGIN)


@pytest.fixture
def mistral(sim) -> MistralProvider:
    return make_mistral(sim)


@pytest.fixture
def write(tmp_path):
    counter = iter(range(10_000))

    def write(provider: MistralProvider, custom_ids: list[str], endpoint: str = CHAT, *, tag: str = DEFAULT_TAG,
              model: str = MODEL) -> str:
        path = tmp_path / f"chunk-{next(counter)}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for custom_id in custom_ids:
                body = {"model": model, **json.loads(json.dumps(BODIES[endpoint]))}
                if endpoint == CHAT:
                    body["messages"][0]["content"] = f"Say hi to {custom_id}"
                line = provider.request_line(provider.provider_custom_id(custom_id, tag), body, endpoint)
                handle.write(json.dumps(line) + "\n")
        return str(path)

    return write


def create(provider: MistralProvider, path: str, count: int, endpoint: str = CHAT, *,
           metadata: dict[str, str] | None = None, options: BatchOptions = OPTIONS) -> BatchInfo:
    return provider.create_batch(requests_path=path, request_count=count, endpoint=endpoint,
                                 metadata=metadata or {}, options=options)


def test_create_list_retrieve_and_results(mistral, write, sim):
    path = write(mistral, IDS)
    info = create(mistral, path, 6, metadata={"batchrelay_job": "j1", "batchrelay_chunk": "c1"})
    assert info.state == "running" and info.provider_status in ("QUEUED", "RUNNING")
    assert info.metadata == {"batchrelay_job": "j1", "batchrelay_chunk": "c1"}

    # The job carries the model and timeout; its lines carry none
    job = state(sim).jobs[info.batch_id]
    assert (job.model, job.timeout_hours, job.endpoint) == (MODEL, 24, CHAT)
    uploaded = sim.simulator.files[job.input_files[0]].data
    assert all("model" not in json.loads(line)["body"] for line in uploaded.splitlines())

    assert [b.batch_id for b in mistral.list_batches(created_after=info.created_at - 1)] == [info.batch_id]

    ended = wait_until_ended(mistral, info.batch_id)
    assert (ended.end_reason, ended.total, ended.completed, ended.failed) == ("completed", 6, 6, 0)
    assert ended.extra["output_file"] and ended.extra["error_file"] is None and ended.ended_at

    results = collect(mistral, ended)
    assert set(results) == set(IDS)
    first = results["req-0"]
    assert first.outcome == "succeeded" and first.model == MODEL
    assert first.response["choices"][0]["message"]["content"].startswith("Simulated answer ")
    assert first.usage["total_tokens"] == first.usage["input_tokens"] + first.usage["output_tokens"] > 0


def test_what_the_simulator_answers_is_what_the_sdk_reads(mistral, write, sim):
    # Given an ended job, read by the SDK itself, not by the adapter
    info = create(mistral, write(mistral, ["a", "b"]), 2)
    wait_until_ended(mistral, info.batch_id)
    client = Mistral(api_key="sim-key", server_url=sim.base_url + "/mistral")

    job = client.batch.jobs.get(job_id=info.batch_id)
    listed = client.batch.jobs.list(page=0, page_size=10)
    output = client.files.retrieve(file_id=job.output_file)
    data = client.files.download(file_id=job.output_file).read()

    assert job.status == "SUCCESS" and job.model == MODEL and job.succeeded_requests == 2
    assert listed.total == 1 and listed.data[0].id == info.batch_id
    assert (output.purpose, output.sample_type, output.deleted) == ("batch", "batch_result", False)
    parsed = BatchOutput.from_jsonl_bytes(data, ChatCompletionResponse)
    assert {untagged(cid) for cid in parsed.responses} == {"a", "b"} and not parsed.response_errors


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_every_endpoint_answers_in_the_shape_of_the_sdks_response_model(mistral, write, endpoint):
    info = create(mistral, write(mistral, ["x", "y"], endpoint), 2, endpoint)
    ended = wait_until_ended(mistral, info.batch_id)

    parsed = BatchOutput.from_jsonl_bytes(raw_bytes(mistral, ended)["output"], RESPONSE_MODELS[endpoint])

    assert len(parsed.responses) == 2 and not parsed.response_errors and not parsed.request_errors
    assert all(r.outcome == "succeeded" for r in collect(mistral, ended).values())


def test_embeddings_count_prompt_tokens(mistral, write):
    info = create(mistral, write(mistral, ["e1", "e2"], "/v1/embeddings", model="mistral-embed"), 2, "/v1/embeddings",
                  options=BatchOptions(model="mistral-embed"))
    results = collect(mistral, wait_until_ended(mistral, info.batch_id))
    assert len(results["e1"].response["data"]) == 2 and len(results["e1"].response["data"][0]["embedding"]) == 8
    assert results["e1"].usage["output_tokens"] == 0 and results["e1"].model == "mistral-embed"


def test_progress_moves_with_the_clock(clocked_sim, clock, write):
    provider = make_mistral(clocked_sim)
    clocked_sim.configure(validating_seconds=10, processing_seconds=100, finalizing_seconds=10)
    info = create(provider, write(provider, [f"r{i}" for i in range(10)]), 10)
    assert info.provider_status == "QUEUED"
    clock.advance(10 + 50)
    mid = provider.retrieve_batch(info.batch_id)
    assert (mid.provider_status, mid.completed, mid.total) == ("RUNNING", 5, 10)
    assert mid.extra["output_file"] is None   # results only once the whole job has ended
    clock.advance(60)
    done = provider.retrieve_batch(info.batch_id)
    assert (done.state, done.end_reason, done.completed) == ("ended", "completed", 10)


def test_per_request_failures_retryable_and_final(mistral, write, sim):
    sim.configure(failure_rules=[
        FailureRule(pattern="^flaky", kind="retryable", first_attempt_only=True),
        FailureRule(pattern="^slow", kind="retryable", status_code=429),
        FailureRule(pattern="^bad", kind="permanent"),
    ])
    info = create(mistral, write(mistral, ["ok-1", "flaky-1", "slow-1", "bad-1"]), 4)
    ended = wait_until_ended(mistral, info.batch_id)
    assert (ended.completed, ended.failed) == (4, 3)
    assert ended.extra["output_file"] and ended.extra["error_file"]
    errors = BatchOutput.from_jsonl_bytes(raw_bytes(mistral, ended)["errors"], ChatCompletionResponse)
    assert sorted(e.status_code for e in errors.request_errors) == [400, 429, 500]

    results = collect(mistral, ended)
    assert results["ok-1"].outcome == "succeeded"
    assert (results["flaky-1"].retryable, results["flaky-1"].error["status_code"]) == (True, 500)
    assert (results["slow-1"].retryable, results["slow-1"].error["status_code"]) == (True, 429)
    assert (results["bad-1"].outcome, results["bad-1"].retryable) == ("errored", False)

    retry = create(mistral, write(mistral, ["flaky-1"]), 1)
    assert collect(mistral, wait_until_ended(mistral, retry.batch_id))["flaky-1"].outcome == "succeeded"


def test_a_timed_out_job_keeps_what_finished(mistral, write, sim):
    # Given a job that times out after half its requests
    state(sim).timeouts_next = 1
    info = create(mistral, write(mistral, IDS), 6)

    ended = wait_until_ended(mistral, info.batch_id)

    # Then it ended expired, and its output holds the three that finished, nothing for the rest
    assert (ended.provider_status, ended.end_reason, ended.completed, ended.total) == ("TIMEOUT_EXCEEDED",
                                                                                       "expired", 3, 6)
    results = collect(mistral, ended)
    assert sorted(results) == ["req-0", "req-1", "req-2"]
    assert all(r.outcome == "succeeded" for r in results.values())


def test_the_jobs_own_timeout_hours_ends_it(clocked_sim, clock, write):
    # Given a job of a one-"hour" timeout (an hour lasts 60 s here) that would run 100 s
    provider = make_mistral(clocked_sim)
    clocked_sim.configure(processing_seconds=100)
    state(clocked_sim).hour_seconds = 60.0
    info = create(provider, write(provider, [f"r{i}" for i in range(10)]), 10,
                  options=BatchOptions(model=MODEL, timeout_hours=1))
    assert state(clocked_sim).jobs[info.batch_id].timeout_hours == 1

    clock.advance(61)
    ended = provider.retrieve_batch(info.batch_id)

    assert (ended.provider_status, ended.completed) == ("TIMEOUT_EXCEEDED", 6)
    assert len(collect(provider, ended)) == 6


def test_a_timeout_of_a_week_or_more_is_refused(mistral, write, sim):
    with pytest.raises(ProviderError) as refused:
        create(mistral, write(mistral, ["a"]), 1, options=BatchOptions(model=MODEL, timeout_hours=168))
    assert (refused.value.status_code, refused.value.retryable) == (422, False)
    assert sim.stats()["files"] == 0   # the uploaded input was deleted


def test_cancel_keeps_what_finished(clocked_sim, clock, write):
    provider = make_mistral(clocked_sim)
    clocked_sim.configure(processing_seconds=100, cancelling_seconds=5)
    info = create(provider, write(provider, [f"r{i}" for i in range(10)]), 10)
    clock.advance(30)
    cancelling = provider.cancel_batch(info.batch_id)
    assert (cancelling.state, cancelling.provider_status) == ("running", "CANCELLATION_REQUESTED")
    clock.advance(5)
    ended = provider.retrieve_batch(info.batch_id)
    assert (ended.state, ended.end_reason, ended.completed) == ("ended", "cancelled", 3)
    assert sorted(collect(provider, ended)) == ["r0", "r1", "r2"]
    with pytest.raises(ProviderError) as refused:
        provider.cancel_batch(info.batch_id)
    assert refused.value.retryable is False and refused.value.status_code == 400


def test_a_job_refused_whole_fails_with_its_errors(mistral, write, sim, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a", "body": {}}\nnot json\n{"custom_id": "a", "body": {}}\n')
    info = create(mistral, str(bad), 3)
    ended = wait_until_ended(mistral, info.batch_id)
    assert ended.end_reason == "failed" and not ended.capacity_exhausted
    assert {e["message"] for e in ended.errors} == {"Each line must be a JSON object with a body object",
                                                   "Duplicate custom_id 'a'"}
    assert list(mistral.raw_result_files(ended)) == []

    sim.configure(validation_failures_next=1)
    forced = wait_until_ended(mistral, create(mistral, write(mistral, ["a"]), 1).batch_id)
    assert forced.end_reason == "failed" and forced.errors[0]["code"] == "batch_error"


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_create_is_not_retried_by_the_sdk(mistral, write, sim, status):
    sim.configure(create_errors_next=1, create_error_status=status)
    path = write(mistral, IDS)
    with pytest.raises(ProviderError) as failure:
        create(mistral, path, 6)
    assert failure.value.retryable and failure.value.status_code == status
    assert sim.calls("POST /mistral/v1/batch/jobs") == 1
    # a refusal (429) deletes the uploaded input; an ambiguous 500 keeps it (a job may read it)
    assert sim.stats()["files"] == (0 if status == 429 else 1)
    assert create(mistral, path, 6).batch_id and sim.calls("POST /mistral/v1/batch/jobs") == 2


def test_the_workspaces_pending_request_limit_refuses_a_create_for_now(mistral, write, sim):
    # Given a workspace with room for 8 pending requests, 6 of them taken by a running job
    sim.configure(processing_seconds=60)
    state(sim).max_pending_requests = 8
    create(mistral, write(mistral, IDS), 6)

    with pytest.raises(ProviderError) as refused:
        create(mistral, write(mistral, ["x", "y", "z"]), 3)

    # Then the create is refused as a 429 (worth trying later), and its upload is gone
    assert (refused.value.status_code, refused.value.retryable, refused.value.code) == (
        429, True, "pending_requests_limit")
    assert sim.stats()["files_by_purpose"] == {"batch": 1}
    assert create(mistral, write(mistral, ["x", "y"]), 2).batch_id   # what fits is accepted


def test_a_chunk_without_a_model_is_refused_before_anything_is_uploaded(mistral, write, sim):
    with pytest.raises(ProviderError) as refused:
        create(mistral, write(mistral, ["a"]), 1, options=BatchOptions())
    assert (refused.value.code, refused.value.status_code, refused.value.retryable) == ("missing_model", 400, False)
    assert sim.stats()["files_created"] == 0


def test_candidates_after_a_crash_carry_the_chunks_metadata(sim, write):
    before = sim.simulator.clock()
    crashed = make_mistral(sim)
    wanted = {"batchrelay_job": "job-1", "batchrelay_chunk": "c00007"}
    created = create(crashed, write(crashed, IDS), 6, metadata={**wanted, "batchrelay_seq": "1"})
    create(crashed, write(crashed, ["x"]), 1, metadata={"batchrelay_job": "job-1", "batchrelay_chunk": "c00008"})
    create(crashed, write(crashed, IDS), 6, metadata={"batchrelay_job": "job-2", "batchrelay_chunk": "c00007"})
    after = sim.simulator.clock()

    recovered = make_mistral(sim)   # a fresh container that knows only the chunk
    found = list(recovered.find_candidates(metadata=wanted, created_after=before, created_before=after,
                                           request_count=6))

    assert [b.batch_id for b in found] == [created.batch_id]
    assert recovered.prove_ownership(found[0], tag=DEFAULT_TAG, metadata=wanted) is True
    assert recovered.prove_ownership(found[0], tag=DEFAULT_TAG, metadata={**wanted, "batchrelay_chunk": "x"}) is False
    assert list(recovered.find_candidates(metadata=wanted, created_after=before, created_before=after,
                                          request_count=5)) == []


def test_list_batches_stops_paging_at_created_after(clocked_sim, clock, write):
    provider = make_mistral(clocked_sim)
    path = write(provider, ["a"])
    for _ in range(6):
        create(provider, path, 1)
    clock.advance(3600)
    cutoff = clock()
    recent = [create(provider, path, 1).batch_id for _ in range(5)]
    clocked_sim.reset_stats()

    listed = [b.batch_id for b in provider.list_batches(created_after=cutoff - 0.5, page_size=2)]

    assert listed == list(reversed(recent))
    # created_after goes to the API too: three pages of the five recent jobs, none of the old
    assert clocked_sim.calls("GET /mistral/v1/batch/jobs") == 3


def test_a_cut_off_download_is_resumed(mistral, write, sim):
    ended = wait_until_ended(mistral, create(mistral, write(mistral, [f"r{i}" for i in range(50)]), 50).batch_id)
    clean = raw_bytes(mistral, ended)["output"]
    sim.reset_stats()
    sim.configure(cut_downloads_next=2, cut_after_fraction=0.4)
    assert raw_bytes(mistral, ended)["output"] == clean
    assert sim.calls("GET /mistral/v1/files/{id}/content") == 3


def test_delete_files_removes_the_input_output_and_error_files(mistral, write, sim):
    sim.configure(failure_rules=[FailureRule(pattern="^bad", kind="permanent")])
    ended = wait_until_ended(mistral, create(mistral, write(mistral, ["ok-1", "bad-1"]), 2).batch_id)
    files = {ended.extra["input_files"][0], ended.extra["output_file"], ended.extra["error_file"]}
    assert None not in files and sim.stats()["files"] == 3

    assert set(mistral.delete_files(ended)) == files
    assert {f["id"] for f in sim.file_ledger()["deleted"]} == files and sim.stats()["files"] == 0
    assert sim.calls("DELETE /mistral/v1/files/{id}") == 3
    with pytest.raises(ProviderError) as gone:
        raw_bytes(mistral, ended)
    assert gone.value.status_code == 404
    # deleting again (a retry after a partial failure) counts them as gone
    assert set(mistral.delete_files(ended)) == files


def test_delete_files_of_a_bare_batch_reads_it_first_and_a_running_one_keeps_them(clocked_sim, clock, write):
    provider = make_mistral(clocked_sim)
    info = create(provider, write(provider, IDS), 6)
    assert provider.delete_files(info) == []
    clock.advance(clocked_sim.settings.processing_seconds + 1)
    bare = BatchInfo(batch_id=info.batch_id, provider_status="SUCCESS", state="ended", created_at=0.0)
    assert len(provider.delete_files(bare)) == 2   # input and output
    assert clocked_sim.stats()["files"] == 0


def test_a_failed_deletion_is_retryable_and_deletes_nothing(sim, write):
    provider = make_mistral(sim, max_retries=0)
    ended = wait_until_ended(provider, create(provider, write(provider, IDS), 6).batch_id)
    sim.configure(delete_file_errors_next=10)
    with pytest.raises(ProviderError) as failure:
        provider.delete_files(ended)
    assert failure.value.retryable and failure.value.status_code == 500
    assert sim.stats()["files_deleted"] == 0


def test_an_unknown_job_is_a_final_404(mistral):
    with pytest.raises(ProviderError) as failure:
        mistral.retrieve_batch("00000000-0000-4000-8000-000000000000")
    assert failure.value.status_code == 404 and not failure.value.retryable


def test_a_missing_key_is_refused_in_mistrals_error_shape(sim):
    answer = httpx.get(sim.base_url + "/mistral/v1/batch/jobs")
    assert answer.status_code == 401
    assert answer.json()["object"] == "error" and answer.json()["type"] == "unauthorized"


def test_the_ledger_bills_what_succeeded(mistral, write, sim):
    sim.configure(failure_rules=[FailureRule(pattern="^bad", kind="permanent")])
    state(sim).timeouts_next = 1
    state(sim).timeout_after_fraction = 0.75
    info = create(mistral, write(mistral, ["ok-1", "bad-1", "ok-2", "late-1"]), 4,
                  metadata={"batchrelay_chunk": "c1"})
    wait_until_ended(mistral, info.batch_id)

    (entry,) = [e for e in sim.simulator.ledger() if e.provider == "mistral"]

    assert (entry.batch_id, entry.end_reason, entry.metadata) == (info.batch_id, "expired", {"batchrelay_chunk": "c1"})
    assert [r.outcome for r in entry.requests] == ["succeeded", "errored", "succeeded", "expired"]
    assert entry.billed_requests == 2
