"""GeminiProvider against the simulator through the real google-genai SDK.

What the simulator answers is read with the SDK's own models and held to the shapes Google
publishes (tests/support/gemini.py), so the two cannot agree on a shape Google does not use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
from google.genai import types

from batchrelay.jsonl import iter_lines
from batchrelay.providers.base import ProviderError
from batchrelay.providers.custom_ids import chunk_id_tag, tag_of
from batchrelay.providers.gemini_provider import GeminiProvider
from batchrelay_tools.simulator import FailureRule, SimulatorServer, SimulatorSettings
from tests.support.gemini import (
    BATCH_OPERATION,
    EMBED_RESULT_LINES,
    RESULT_LINES,
    embed_body,
    gemini_body,
    make_gemini,
    sdk_batch_job,
    sdk_embedding,
    sdk_response,
    sdk_status,
    write_chunk,
)
from tests.support.simulator import DEFAULT_TAG, FakeClock, collect, raw_bytes, wait_until_ended

IDS = [f"req-{i}" for i in range(5)]
META = {"batchrelay_job": "job_test", "batchrelay_chunk": "c00001", "batchrelay_seq": "1"}


@pytest.fixture
def gemini(sim: SimulatorServer) -> GeminiProvider:
    return make_gemini(sim)


@pytest.fixture
def file_only(sim: SimulatorServer) -> GeminiProvider:
    return make_gemini(sim, inline_max_bytes=0)


def create(provider: GeminiProvider, tmp_path: Path, ids: Iterable[str], *, tag: str = DEFAULT_TAG,
           bodies: dict | None = None, endpoint: str = "generateContent", metadata: dict | None = None):
    ids = list(ids)
    path = tmp_path / f"chunk-{tag}-{len(list(tmp_path.iterdir()))}.jsonl"
    if bodies is None:
        bodies = {i: (embed_body(i) if endpoint == "embedContent" else gemini_body(i)) for i in ids}
    mapping = write_chunk(provider, path, bodies, tag=tag, endpoint=endpoint)
    info = provider.create_batch(requests_path=str(path), request_count=len(ids), endpoint=endpoint,
                                 metadata=META if metadata is None else metadata)
    return info, mapping


def operation(sim: SimulatorServer, batch_id: str) -> dict:
    """The simulator's batches.get answer, as JSON (for shape checks)."""
    return httpx.get(f"{sim.base_url}/gemini/v1beta/{batch_id}", headers={"x-goog-api-key": "k"}).json()


def test_a_file_batch_runs_lists_and_answers_in_the_published_shapes(file_only, sim, tmp_path):
    info, _ = create(file_only, tmp_path, IDS)
    assert (info.state, info.provider_status, info.total) == ("running", "JOB_STATE_RUNNING", 5)
    assert info.batch_id.startswith("batches/") and info.extra["input_file"].startswith("files/")
    assert info.metadata == {"batchrelay_job": "job_test", "batchrelay_chunk": "c00001", "batchrelay_seq": "1"}
    assert [b.batch_id for b in file_only.list_batches(created_after=info.created_at - 1)] == [info.batch_id]

    ended = wait_until_ended(file_only, info.batch_id)
    assert (ended.end_reason, ended.total, ended.completed, ended.failed) == ("completed", 5, 5, 0)
    # The batch as the SDK reads it, with the published operation's shape.
    wire = operation(sim, info.batch_id)
    assert set(wire) == set(BATCH_OPERATION) and set(wire["metadata"]) <= set(BATCH_OPERATION["metadata"]) | {
        "batchStats"}
    assert set(wire["metadata"]["batchStats"]) == {"requestCount", "successfulRequestCount", "failedRequestCount",
                                                   "pendingRequestCount"}
    job = sdk_batch_job(wire)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED and job.dest.file_name == ended.extra["output_file"]

    # Results: one line per key, in the published line's shape, read by the SDK's models.
    raw = raw_bytes(file_only, ended)["results"]
    for line in iter_lines([raw]):
        data = json.loads(line)
        assert set(data) == set(RESULT_LINES[0])
        assert set(data["response"]) <= set(RESULT_LINES[0]["response"])
        assert sdk_response(data["response"]).text.startswith("Simulated answer")
    results = collect(file_only, ended)
    assert set(results) == set(IDS)
    first = results["req-0"]
    assert first.outcome == "succeeded" and first.model == "gemini-2.5-flash"
    assert first.usage["total_tokens"] == first.usage["input_tokens"] + first.usage["output_tokens"] > 0


def test_small_chunks_go_inline_and_answer_inline(gemini, sim, tmp_path):
    info, mapping = create(gemini, tmp_path, IDS)
    assert info.extra["input_file"] is None                     # nothing was uploaded
    assert sim.calls("POST /gemini/upload/{version}/files") == 0
    # A list sweep's view leaves inline answers out; results are read from the batch itself.
    ended = next(b for b in gemini.list_batches(created_after=0) if b.batch_id == info.batch_id)
    ended = wait_until_ended(gemini, info.batch_id)
    listed = next(b for b in gemini.list_batches(created_after=0) if b.batch_id == info.batch_id)
    assert "inlined_responses" not in listed.extra and "inlined_responses" in ended.extra
    results = collect(gemini, listed)
    assert set(results) == set(IDS)
    assert {tag_of(key) for key in mapping} == {DEFAULT_TAG}
    # The inline answers, as the SDK reads them.
    job = sdk_batch_job(operation(sim, info.batch_id))
    assert [r.metadata["key"] for r in job.dest.inlined_responses] == list(mapping)
    assert all(r.response.text for r in job.dest.inlined_responses)


def test_a_request_the_sdk_cannot_carry_inline_goes_as_a_file(gemini, sim, tmp_path):
    # snake_case fields are valid REST JSON, but an InlinedRequest would rename them: file input.
    bodies = {"a": gemini_body("a", generation_config={"max_output_tokens": 8}), "b": gemini_body("b")}
    info, _ = create(gemini, tmp_path, bodies, bodies=bodies)
    assert info.extra["input_file"] is not None
    assert sim.calls("POST /gemini/upload/{version}/files") == 2   # start, then one part that finalizes


def test_large_chunks_go_as_a_file(sim, tmp_path):
    provider = make_gemini(sim, inline_max_bytes=200)
    info, _ = create(provider, tmp_path, IDS)
    assert info.extra["input_file"] is not None
    assert set(collect(provider, wait_until_ended(provider, info.batch_id))) == set(IDS)


def test_pending_then_running_with_progress_counts(tmp_path):
    clock = FakeClock()
    with SimulatorServer(SimulatorSettings(pending_seconds=3600, processing_seconds=100), clock=clock) as sim:
        provider = make_gemini(sim)
        info, _ = create(provider, tmp_path, [f"p-{i}" for i in range(10)])
        assert (info.provider_status, info.completed) == ("JOB_STATE_PENDING", 0)
        clock.advance(3600 + 50)
        running = provider.retrieve_batch(info.batch_id)
        assert (running.provider_status, running.total, running.completed) == ("JOB_STATE_RUNNING", 10, 5)
        clock.advance(60)
        assert provider.retrieve_batch(info.batch_id).end_reason == "completed"


def test_per_request_failures_are_classified(gemini, sim, tmp_path):
    sim.configure(failure_rules=[
        FailureRule(pattern="^flaky", kind="retryable"),
        FailureRule(pattern="^busy", kind="retryable", status_code=429),
        FailureRule(pattern="^bad", kind="permanent"),
    ])
    info, _ = create(gemini, tmp_path, ["ok", "flaky", "busy", "bad"])
    ended = wait_until_ended(gemini, info.batch_id)
    assert (ended.completed, ended.failed) == (4, 3)
    results = collect(gemini, ended)
    assert results["ok"].outcome == "succeeded"
    assert (results["flaky"].error["code"], results["flaky"].retryable) == ("INTERNAL", True)
    assert (results["busy"].error["code"], results["busy"].retryable) == ("RESOURCE_EXHAUSTED", True)
    assert (results["bad"].error["code"], results["bad"].retryable) == ("INVALID_ARGUMENT", False)
    job = sdk_batch_job(operation(sim, info.batch_id))
    assert {sdk_status(r.error.model_dump(exclude_none=True)).code for r in job.dest.inlined_responses if r.error} \
        == {13, 8, 3}


def test_an_expired_batch_keeps_what_it_answered(file_only, sim, tmp_path):
    sim.configure(expire_after_fraction=0.4)
    info, _ = create(file_only, tmp_path, IDS)
    ended = wait_until_ended(file_only, info.batch_id)
    assert (ended.end_reason, ended.provider_status, ended.completed) == ("expired", "JOB_STATE_EXPIRED", 2)
    # The rest were never reported: the collector decides for them from the end reason.
    assert set(collect(file_only, ended)) == {"req-0", "req-1"}


def test_cancel(tmp_path):
    clock = FakeClock()
    with SimulatorServer(SimulatorSettings(processing_seconds=100), clock=clock) as sim:
        provider = make_gemini(sim)
        info, _ = create(provider, tmp_path, [f"c-{i}" for i in range(10)])
        clock.advance(30)
        cancelled = provider.cancel_batch(info.batch_id)
        assert (cancelled.state, cancelled.end_reason) == ("ended", "cancelled")
        assert set(collect(provider, cancelled)) == {f"c-{i}" for i in range(3)}
        with pytest.raises(ProviderError) as refused:
            provider.cancel_batch(info.batch_id)
        assert refused.value.status_code == 400


def test_quota_and_validation_failures_end_the_batch_with_a_reason(gemini, sim, tmp_path):
    sim.configure(token_limit_failures_next=1)
    quota, _ = create(gemini, tmp_path, IDS)
    quota = wait_until_ended(gemini, quota.batch_id)
    assert quota.end_reason == "failed" and quota.capacity_exhausted
    assert quota.errors[0]["status"] == "RESOURCE_EXHAUSTED"
    assert list(gemini.raw_result_files(quota)) == []
    sim.configure(validation_failures_next=1)
    invalid, _ = create(gemini, tmp_path, IDS)
    invalid = wait_until_ended(gemini, invalid.batch_id)
    assert invalid.end_reason == "failed" and not invalid.capacity_exhausted
    assert invalid.errors[0]["code"] == "invalid_argument"


@pytest.mark.parametrize("status", [429, 400])
def test_a_refused_create_is_not_retried_and_leaves_no_file(file_only, sim, tmp_path, status):
    sim.configure(create_errors_next=1, create_error_status=status)
    with pytest.raises(ProviderError) as refused:
        create(file_only, tmp_path, IDS)
    assert refused.value.status_code == status and refused.value.code in ("RESOURCE_EXHAUSTED", "INVALID_ARGUMENT")
    assert sim.calls("POST /gemini/{version}/models/{model}:batchGenerateContent") == 1   # no SDK retry
    assert sim.file_ledger()["live"] == []                                                 # the upload went


def test_an_ambiguous_create_keeps_its_file_and_recovery_finds_the_batch(file_only, sim, tmp_path):
    # Given a 500 on create (the batch may or may not exist: here, it does not)
    sim.configure(create_errors_next=1, create_error_status=500)
    with pytest.raises(ProviderError) as ambiguous:
        create(file_only, tmp_path, IDS)
    assert ambiguous.value.retryable and ambiguous.value.status_code == 500
    assert len(sim.file_ledger()["live"]) == 1     # kept: a batch made after all would read it
    # And a batch that was made for the chunk, beside another chunk's of the same size
    mine, _ = create(file_only, tmp_path, IDS, metadata={**META, "batchrelay_seq": "2"})
    other_meta = {**META, "batchrelay_chunk": "c00002"}
    other, _ = create(file_only, tmp_path, IDS, tag=chunk_id_tag("job_test", "c00002"), metadata=other_meta)
    window = {"created_after": mine.created_at - 60, "created_before": mine.created_at + 60, "request_count": 5}
    # When recovery searches for the chunk's batch
    found = list(file_only.find_candidates(metadata={k: META[k] for k in ("batchrelay_job", "batchrelay_chunk")},
                                           **window))
    # Then only the batch its display name names is a candidate, and it is proven at once
    assert [b.batch_id for b in found] == [mine.batch_id]
    assert file_only.prove_ownership(found[0], tag=DEFAULT_TAG, metadata=META) is True
    assert file_only.prove_ownership(other, tag=DEFAULT_TAG, metadata=META) is False


def test_a_batch_without_our_name_is_proven_by_its_result_keys(gemini, tmp_path):
    info, _ = create(gemini, tmp_path, IDS, metadata={})
    assert info.metadata == {}
    assert gemini.prove_ownership(info, tag=DEFAULT_TAG, metadata=META) is None    # not ended: cannot tell yet
    ended = wait_until_ended(gemini, info.batch_id)
    assert gemini.prove_ownership(ended, tag=DEFAULT_TAG, metadata=META) is True
    assert gemini.prove_ownership(ended, tag=chunk_id_tag("job_x", "c00001"), metadata=META) is False


def test_the_list_sweep_pages_back_only_to_created_after(tmp_path):
    clock = FakeClock()
    with SimulatorServer(SimulatorSettings(processing_seconds=1000), clock=clock) as sim:
        provider = make_gemini(sim)
        made = []
        for i in range(7):
            made.append(create(provider, tmp_path, [f"l{i}"])[0])
            clock.advance(10)
        listed = list(provider.list_batches(created_after=made[2].created_at, page_size=2))
        assert [b.batch_id for b in listed] == [b.batch_id for b in reversed(made[2:])]
        assert sim.calls("GET /gemini/{version}/batches") == 3    # 2 + 2 + 1(+ the older one it stopped at)


def test_embeddings_run_as_a_file_batch(gemini, sim, tmp_path):
    info, _ = create(gemini, tmp_path, ["e1", "e2"], endpoint="embedContent")
    assert info.extra["input_file"] is not None
    assert sim.calls("POST /gemini/{version}/models/{model}:asyncBatchEmbedContent") == 1
    ended = wait_until_ended(gemini, info.batch_id)
    for line in iter_lines([raw_bytes(gemini, ended)["results"]]):
        data = json.loads(line)
        assert set(data) == set(EMBED_RESULT_LINES[0]) and set(data["response"]) == set(EMBED_RESULT_LINES[0][
            "response"])
        assert len(sdk_embedding(data["response"]).embedding.values) == 4
    results = collect(gemini, ended)
    assert results["e1"].usage["input_tokens"] > 0 and results["e1"].usage["output_tokens"] == 0


def test_one_model_per_batch(file_only, tmp_path):
    bodies = {"a": gemini_body("a"), "b": gemini_body("b", model="gemini-2.5-pro")}
    with pytest.raises(ProviderError) as refused:
        create(file_only, tmp_path, bodies, bodies=bodies)
    assert refused.value.status_code == 400 and "model" in refused.value.message


def test_a_broken_download_is_resumed(file_only, sim, tmp_path):
    info, _ = create(file_only, tmp_path, [f"d-{i}" for i in range(50)])
    ended = wait_until_ended(file_only, info.batch_id)
    whole = raw_bytes(file_only, ended)["results"]
    sim.configure(cut_downloads_next=2, cut_after_fraction=0.3)
    assert raw_bytes(file_only, ended)["results"] == whole
    sim.configure(cut_downloads_next=10)
    with pytest.raises(ProviderError) as broken:
        raw_bytes(make_gemini(sim, inline_max_bytes=0, download_attempts=2), ended)
    assert broken.value.retryable


def test_cleanup_deletes_the_files_and_the_batch(file_only, sim, tmp_path):
    info, _ = create(file_only, tmp_path, IDS)
    assert file_only.delete_files(info) == []            # still running: it reads its input
    ended = wait_until_ended(file_only, info.batch_id)
    sim.configure(delete_file_errors_next=10)              # more than the SDK's own retries
    with pytest.raises(ProviderError) as failed:
        file_only.delete_files(ended)
    assert failed.value.retryable
    sim.configure(delete_file_errors_next=0)
    gone = file_only.delete_files(ended)
    assert gone == [ended.extra["input_file"], ended.extra["output_file"], ended.batch_id]
    assert sim.file_ledger()["live"] == []
    assert {f["purpose"] for f in sim.file_ledger()["deleted"]} == {"gemini_input", "gemini_output"}
    with pytest.raises(ProviderError) as missing:
        file_only.retrieve_batch(ended.batch_id)
    assert missing.value.status_code == 404
    assert file_only.delete_files(ended) == gone         # again: everything counts as gone already


def test_a_missing_key_is_refused(sim, tmp_path):
    with pytest.raises(ProviderError) as refused:
        GeminiProvider(api_key=" ", base_url=f"{sim.base_url}/gemini").retrieve_batch("batches/nope")
    assert refused.value.status_code == 401


def test_a_lost_create_answer_leaves_a_batch_that_recovery_finds(file_only, sim, tmp_path):
    # Given a create Gemini carried out, whose answer was lost (a 500 after the batch was made)
    sim.configure(lost_create_answers_next=1)
    with pytest.raises(ProviderError) as lost:
        create(file_only, tmp_path, IDS)
    assert lost.value.status_code == 500 and lost.value.retryable
    # When recovery searches the window around the intent
    [found] = file_only.find_candidates(metadata={k: META[k] for k in ("batchrelay_job", "batchrelay_chunk")},
                                        created_after=0, created_before=2e9, request_count=len(IDS))
    # Then it finds the batch, proven the chunk's by its display name, with its input file named
    assert file_only.prove_ownership(found, tag=DEFAULT_TAG, metadata=META) is True
    assert found.extra["input_file"] == sim.file_ledger()["live"][0]["id"]
