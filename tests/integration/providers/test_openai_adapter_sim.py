"""OpenAIProvider against the simulator through the real openai SDK."""

from __future__ import annotations

import pytest

from batchrelay.jsonl import iter_lines
from batchrelay.providers.base import ProviderError
from batchrelay_tools.simulator import FailureRule
from tests.support.simulator import collect, make_openai, raw_bytes, wait_until_ended

IDS = [f"req-{i}" for i in range(6)]


def test_create_retrieve_list_and_results(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, IDS)
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={"chunk_id": "c1", "job_id": "j1"})
    assert info.state == "running"
    assert info.provider_status in ("validating", "in_progress")
    assert info.metadata == {"chunk_id": "c1", "job_id": "j1"}

    listed = list(openai_provider.list_batches(created_after=info.created_at - 1))
    assert [b.batch_id for b in listed] == [info.batch_id]

    ended = wait_until_ended(openai_provider, info.batch_id)
    assert (ended.end_reason, ended.total, ended.completed, ended.failed) == ("completed", 6, 6, 0)
    assert ended.extra["output_file_id"] and ended.extra["error_file_id"] is None
    assert ended.ended_at is not None

    results = collect(openai_provider, ended)
    assert set(results) == set(IDS)
    first = results["req-0"]
    assert first.outcome == "succeeded"
    assert first.response["object"] == "chat.completion"
    assert first.usage["total_tokens"] == first.usage["input_tokens"] + first.usage["output_tokens"] > 0
    # Deterministic answers: the same request body gives the same content every time.
    assert first.response["choices"][0]["message"]["content"].startswith("Simulated answer ")


def test_progress_moves_with_the_clock(clocked_sim, clock, write_requests):
    provider = make_openai(clocked_sim)
    clocked_sim.configure(validating_seconds=10, processing_seconds=100, finalizing_seconds=10)
    path, _ = write_requests(provider, [f"r{i}" for i in range(10)])
    info = provider.create_batch(requests_path=path, request_count=10, endpoint="/v1/chat/completions", metadata={})
    assert info.provider_status == "validating"
    clock.advance(10 + 50)
    mid = provider.retrieve_batch(info.batch_id)
    assert (mid.provider_status, mid.completed, mid.total) == ("in_progress", 5, 10)
    clock.advance(50)
    assert provider.retrieve_batch(info.batch_id).provider_status == "finalizing"
    clock.advance(10)
    done = provider.retrieve_batch(info.batch_id)
    assert (done.state, done.end_reason, done.completed) == ("ended", "completed", 10)


def test_embeddings_endpoint(openai_provider, write_requests):
    path, _ = write_requests(openai_provider, ["e1", "e2"], endpoint="/v1/embeddings")
    info = openai_provider.create_batch(requests_path=path, request_count=2, endpoint="/v1/embeddings", metadata={})
    results = collect(openai_provider, wait_until_ended(openai_provider, info.batch_id))
    vector = results["e1"].response["data"][0]["embedding"]
    assert len(vector) == 8 and results["e1"].usage["output_tokens"] == 0


def test_per_request_failures_retryable_and_final(openai_provider, write_requests, sim):
    sim.configure(failure_rules=[
        FailureRule(pattern="^flaky", kind="retryable", first_attempt_only=True),
        FailureRule(pattern="^slow", kind="retryable", status_code=429),
        FailureRule(pattern="^bad", kind="permanent"),
    ])
    ids = ["ok-1", "flaky-1", "slow-1", "bad-1"]
    path, _ = write_requests(openai_provider, ids)
    info = openai_provider.create_batch(requests_path=path, request_count=4, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    assert (ended.completed, ended.failed) == (4, 3)
    assert ended.extra["output_file_id"] and ended.extra["error_file_id"]
    results = collect(openai_provider, ended)
    assert results["ok-1"].outcome == "succeeded"
    assert (results["flaky-1"].outcome, results["flaky-1"].retryable) == ("errored", True)
    assert results["flaky-1"].error["status_code"] == 500
    assert (results["slow-1"].retryable, results["slow-1"].error["status_code"]) == (True, 429)
    assert (results["bad-1"].outcome, results["bad-1"].retryable) == ("errored", False)
    assert results["bad-1"].error["status_code"] == 400 and results["bad-1"].error["message"]

    # The retry batch carries the failed ones again: "flaky" failed only on its first attempt.
    path, _ = write_requests(openai_provider, ["flaky-1"])
    retry = openai_provider.create_batch(requests_path=path, request_count=1, endpoint="/v1/chat/completions",
                                         metadata={})
    assert collect(openai_provider, wait_until_ended(openai_provider, retry.batch_id))["flaky-1"].outcome == \
        "succeeded"


def test_all_requests_failed_has_no_output_file(openai_provider, write_requests, sim):
    sim.configure(failure_rules=[FailureRule(fraction=1.0, kind="permanent")])
    path, _ = write_requests(openai_provider, IDS)
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    assert ended.extra["output_file_id"] is None and ended.extra["error_file_id"]
    files = [raw.name for raw in openai_provider.raw_result_files(ended)]
    assert files == ["errors"]
    results = collect(openai_provider, ended)
    assert len(results) == 6 and all(r.outcome == "errored" and not r.retryable for r in results.values())


def test_fraction_rule_is_deterministic(openai_provider, write_requests, sim):
    sim.configure(failure_rules=[FailureRule(fraction=0.5, kind="retryable")])
    ids = [f"id-{i}" for i in range(40)]
    outcomes = []
    for _ in range(2):
        path, _ = write_requests(openai_provider, ids)
        info = openai_provider.create_batch(requests_path=path, request_count=40,
                                            endpoint="/v1/chat/completions", metadata={})
        results = collect(openai_provider, wait_until_ended(openai_provider, info.batch_id))
        outcomes.append({cid: r.outcome for cid, r in results.items()})
    assert outcomes[0] == outcomes[1]
    assert 5 < sum(o == "errored" for o in outcomes[0].values()) < 35


def test_whole_batch_validation_failure_reports_lines(openai_provider, tmp_path, sim):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}\n'
        "not json\n"
        '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}\n'
    )
    info = openai_provider.create_batch(requests_path=str(path), request_count=3,
                                        endpoint="/v1/chat/completions", metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    assert (ended.end_reason, ended.capacity_exhausted) == ("failed", False)
    assert [(e["code"], e["line"]) for e in ended.errors] == [("invalid_json_line", 2), ("duplicate_custom_id", 3)]
    assert list(openai_provider.raw_result_files(ended)) == []

    sim.configure(validation_failures_next=1)
    good = tmp_path / "good.jsonl"
    good.write_text('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}\n')
    forced = openai_provider.create_batch(requests_path=str(good), request_count=1,
                                          endpoint="/v1/chat/completions", metadata={})
    forced = wait_until_ended(openai_provider, forced.batch_id)
    assert forced.end_reason == "failed" and forced.errors[0]["line"] == 1


def test_token_limit_exceeded_then_accepted(openai_provider, write_requests, sim):
    sim.configure(token_limit_failures_next=1)
    path, _ = write_requests(openai_provider, IDS)
    first = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                         metadata={})
    first = wait_until_ended(openai_provider, first.batch_id)
    assert first.capacity_exhausted and first.errors[0]["code"] == "token_limit_exceeded"
    second = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                          metadata={})
    assert wait_until_ended(openai_provider, second.batch_id).end_reason == "completed"


def test_expiry_keeps_partial_results(openai_provider, write_requests, sim):
    sim.configure(expire_after_fraction=0.5)
    path, _ = write_requests(openai_provider, IDS)
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    assert ended.end_reason == "expired" and ended.provider_status == "expired"
    results = collect(openai_provider, ended)
    outcomes = sorted(r.outcome for r in results.values())
    assert outcomes == ["expired"] * 3 + ["succeeded"] * 3
    expired = next(r for r in results.values() if r.outcome == "expired")
    assert expired.error["code"] == "batch_expired"


def test_cancel_keeps_what_finished(clocked_sim, clock, write_requests):
    provider = make_openai(clocked_sim)
    clocked_sim.configure(processing_seconds=100, cancelling_seconds=5)
    path, _ = write_requests(provider, [f"r{i}" for i in range(10)])
    info = provider.create_batch(requests_path=path, request_count=10, endpoint="/v1/chat/completions", metadata={})
    clock.advance(30)
    cancelling = provider.cancel_batch(info.batch_id)
    assert (cancelling.state, cancelling.provider_status) == ("running", "cancelling")
    clock.advance(5)
    ended = provider.retrieve_batch(info.batch_id)
    assert (ended.state, ended.end_reason) == ("ended", "cancelled")
    outcomes = sorted(r.outcome for r in collect(provider, ended).values())
    assert outcomes == ["cancelled"] * 7 + ["succeeded"] * 3
    with pytest.raises(ProviderError) as refused:
        provider.cancel_batch(info.batch_id)
    assert refused.value.retryable is False and refused.value.status_code == 400


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_create_is_not_retried_by_the_sdk(openai_provider, write_requests, sim, status):
    # A POST retried after a timeout could make a second batch; the caller decides instead.
    sim.configure(create_errors_next=1, create_error_status=status)
    path, _ = write_requests(openai_provider, IDS)
    with pytest.raises(ProviderError) as failure:
        openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                     metadata={})
    assert failure.value.retryable and failure.value.status_code == status
    assert sim.calls("POST /v1/batches") == 1
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={})
    assert info.batch_id and sim.calls("POST /v1/batches") == 2


def test_create_errors_exhausting_retries_are_retryable(openai_provider, write_requests, sim):
    sim.configure(create_errors_next=10, create_error_status=500)
    path, _ = write_requests(openai_provider, IDS)
    with pytest.raises(ProviderError) as failure:
        openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                     metadata={})
    assert failure.value.retryable and failure.value.status_code == 500
    assert sim.calls("POST /v1/batches") == 1  # never retried by the SDK


def test_final_client_error_is_not_retryable(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, IDS)
    with pytest.raises(ProviderError) as failure:
        openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/not-an-endpoint",
                                     metadata={})
    assert not failure.value.retryable and failure.value.status_code == 400
    assert "endpoint" in failure.value.message
    # The refused batch's input file was cleaned up.
    assert sim.stats()["files"] == 0


def test_cut_off_download_is_resumed(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, [f"r{i}" for i in range(50)])
    info = openai_provider.create_batch(requests_path=path, request_count=50, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    clean = raw_bytes(openai_provider, ended)["output"]
    sim.reset_stats()
    sim.configure(cut_downloads_next=2, cut_after_fraction=0.4)
    resumed = raw_bytes(openai_provider, ended)["output"]
    assert resumed == clean
    assert sim.calls("GET /v1/files/{id}/content") == 3


def test_cut_off_download_gives_up_after_bounded_attempts(sim, write_requests):
    provider = make_openai(sim, download_attempts=2)
    path, _ = write_requests(provider, IDS)
    ended = wait_until_ended(provider, provider.create_batch(
        requests_path=path, request_count=6, endpoint="/v1/chat/completions", metadata={}).batch_id)
    sim.configure(cut_downloads_next=5)
    with pytest.raises(ProviderError) as failure:
        raw_bytes(provider, ended)
    assert failure.value.retryable


def test_throttled_download_still_completes(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, ["a", "b"])
    ended = wait_until_ended(openai_provider, openai_provider.create_batch(
        requests_path=path, request_count=2, endpoint="/v1/chat/completions", metadata={}).batch_id)
    sim.configure(download_bytes_per_second=20_000)
    assert len(collect(openai_provider, ended)) == 2


def test_carriage_returns_inside_responses(openai_provider, write_requests, sim):
    sim.configure(raw_carriage_return=True)
    path, _ = write_requests(openai_provider, IDS)
    ended = wait_until_ended(openai_provider, openai_provider.create_batch(
        requests_path=path, request_count=6, endpoint="/v1/chat/completions", metadata={}).batch_id)
    data = raw_bytes(openai_provider, ended)["output"]
    assert b"\r" in data and "\u2028".encode() in data
    assert len(data.splitlines()) > 6  # why lines must be split on b"\n" only
    lines = list(iter_lines(iter([data])))
    assert len(lines) == 6
    content = openai_provider.parse_result_line("output", lines[0]).response["choices"][0]["message"]["content"]
    assert "\r\n" in content and "\u2028" in content


def test_escaped_carriage_return_by_default(openai_provider, write_requests):
    path, _ = write_requests(openai_provider, ["only"])
    ended = wait_until_ended(openai_provider, openai_provider.create_batch(
        requests_path=path, request_count=1, endpoint="/v1/chat/completions", metadata={}).batch_id)
    data = raw_bytes(openai_provider, ended)["output"]
    assert b"\\r\\n" in data and b"\r" not in data


def test_candidates_after_a_crash_carry_the_chunks_metadata(sim, write_requests):
    before = sim.simulator.clock()
    crashed = make_openai(sim)
    path, _ = write_requests(crashed, IDS)
    created = crashed.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                   metadata={"chunk_id": "chunk-7", "job_id": "job-1"})
    other_path, _ = write_requests(crashed, ["x"])
    crashed.create_batch(requests_path=other_path, request_count=1, endpoint="/v1/chat/completions",
                         metadata={"chunk_id": "chunk-8", "job_id": "job-1"})
    after = sim.simulator.clock()

    recovered = make_openai(sim)  # a fresh container that knows only the chunk
    wanted = {"chunk_id": "chunk-7", "job_id": "job-1"}
    found = list(recovered.find_candidates(metadata=wanted, created_after=before, created_before=after,
                                           request_count=6))
    assert [b.batch_id for b in found] == [created.batch_id]
    assert recovered.prove_ownership(found[0], tag="", metadata=wanted) is True
    assert recovered.prove_ownership(found[0], tag="", metadata={"chunk_id": "chunk-9"}) is False
    assert list(recovered.find_candidates(metadata={"chunk_id": "chunk-9"}, created_after=before,
                                          created_before=after, request_count=6)) == []


def test_no_candidate_when_nothing_was_created(openai_provider, sim):
    now = sim.simulator.clock()
    assert list(openai_provider.find_candidates(metadata={"chunk_id": "c"}, created_after=now,
                                                created_before=now + 60, request_count=1)) == []


def test_list_batches_stops_paging_at_created_after(clocked_sim, clock, write_requests):
    provider = make_openai(clocked_sim)
    path, _ = write_requests(provider, ["a"])
    for _ in range(6):  # old batches
        provider.create_batch(requests_path=path, request_count=1, endpoint="/v1/chat/completions", metadata={})
    clock.advance(3600)
    cutoff = clock()
    recent = [provider.create_batch(requests_path=path, request_count=1, endpoint="/v1/chat/completions",
                                    metadata={}).batch_id for _ in range(3)]
    clocked_sim.reset_stats()
    listed = [b.batch_id for b in provider.list_batches(created_after=cutoff - 0.5, page_size=2)]
    assert listed == list(reversed(recent))
    # Page 1: two recent; page 2: one recent, one old -> stop. Never pages through all nine.
    assert clocked_sim.calls("GET /v1/batches") == 2


def test_metadata_is_trimmed_to_openai_limits(openai_provider, write_requests):
    path, _ = write_requests(openai_provider, ["a"])
    metadata = {f"key{i:02d}": "v" * 600 for i in range(20)}
    info = openai_provider.create_batch(requests_path=path, request_count=1, endpoint="/v1/chat/completions",
                                        metadata=metadata)
    assert len(info.metadata) == 16 and all(len(v) == 512 for v in info.metadata.values())
    found = list(openai_provider.find_candidates(metadata=metadata, created_after=info.created_at,
                                                 created_before=info.created_at + 60, request_count=1))
    assert [b.batch_id for b in found] == [info.batch_id]


def test_unknown_batch_is_a_final_error(openai_provider):
    with pytest.raises(ProviderError) as failure:
        openai_provider.retrieve_batch("batch_missing")
    assert failure.value.status_code == 404 and not failure.value.retryable


# --- cleanup: the batch's files are deleted through the SDK's files.delete ---------------


def test_delete_files_removes_the_input_output_and_error_files(openai_provider, write_requests, sim):
    # Given an ended batch with an input, an output and an error file
    sim.configure(failure_rules=[FailureRule(pattern="^bad", kind="permanent")])
    path, _ = write_requests(openai_provider, ["ok-1", "bad-1"])
    info = openai_provider.create_batch(requests_path=path, request_count=2, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    files = {ended.extra[k] for k in ("input_file_id", "output_file_id", "error_file_id")}
    assert None not in files and sim.stats()["files"] == 3

    # When the adapter deletes them
    deleted = openai_provider.delete_files(ended)

    # Then the simulator's ledger shows exactly those three deleted, through DELETE /v1/files/{id}
    assert set(deleted) == files
    assert {f["id"] for f in sim.file_ledger()["deleted"]} == files
    assert {f["purpose"] for f in sim.file_ledger()["deleted"]} == {"batch", "batch_output"}
    stats = sim.stats()
    assert (stats["files"], stats["files_created"], stats["files_deleted"]) == (0, 3, 3)
    assert sim.calls("DELETE /v1/files/{id}") == 3
    with pytest.raises(ProviderError) as gone:
        raw_bytes(openai_provider, ended)
    assert gone.value.status_code == 404

    # And deleting again (a retry after a partial failure) counts them as gone, changing nothing
    assert set(openai_provider.delete_files(ended)) == files
    assert sim.stats()["files_deleted"] == 3


def test_delete_files_reads_the_batch_when_it_only_has_its_id(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, IDS)
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={})
    wait_until_ended(openai_provider, info.batch_id)
    from batchrelay.providers.base import BatchInfo

    bare = BatchInfo(batch_id=info.batch_id, provider_status="completed", state="ended", created_at=0.0)
    assert len(openai_provider.delete_files(bare)) == 2  # input and output
    assert sim.stats()["files"] == 0


def test_a_running_batch_keeps_its_files(clocked_sim, clock, write_requests):
    provider = make_openai(clocked_sim)
    path, _ = write_requests(provider, IDS)
    info = provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions", metadata={})
    assert provider.delete_files(info) == []
    assert clocked_sim.stats()["files_deleted"] == 0


def test_a_failed_deletion_is_a_retryable_error_and_deletes_nothing(openai_provider, write_requests, sim):
    path, _ = write_requests(openai_provider, IDS)
    info = openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                        metadata={})
    ended = wait_until_ended(openai_provider, info.batch_id)
    sim.configure(delete_file_errors_next=10)
    with pytest.raises(ProviderError) as failure:
        openai_provider.delete_files(ended)
    assert failure.value.retryable and failure.value.status_code == 500
    assert sim.stats()["files_deleted"] == 0
    sim.configure(delete_file_errors_next=0)
    assert len(openai_provider.delete_files(ended)) == 2


@pytest.mark.parametrize(("status", "input_kept"), [(400, False), (429, False), (500, True)])
def test_a_refused_create_deletes_its_input_file(openai_provider, write_requests, sim, status, input_kept):
    # A refusal (any 4xx, 429 included: nothing was made) leaves the upload nobody refers to;
    # a 5xx may hide a batch that still reads it.
    sim.configure(create_errors_next=1, create_error_status=status)
    path, _ = write_requests(openai_provider, IDS)
    with pytest.raises(ProviderError):
        openai_provider.create_batch(requests_path=path, request_count=6, endpoint="/v1/chat/completions",
                                     metadata={})
    assert sim.stats()["files_created"] == 1
    assert sim.stats()["files"] == (1 if input_kept else 0)
    assert sim.stats()["files_deleted"] == (0 if input_kept else 1)


def test_a_lost_create_answer_leaves_the_batch_made(openai_provider, write_requests, sim):
    sim.configure(lost_create_answers_next=1)
    path, _ = write_requests(openai_provider, ["a", "b"])
    with pytest.raises(ProviderError) as lost:
        openai_provider.create_batch(requests_path=path, request_count=2, endpoint="/v1/chat/completions",
                                     metadata={"batchrelay_job": "job_lost", "batchrelay_chunk": "c00001"})
    assert lost.value.status_code == 500
    [made] = openai_provider.find_candidates(metadata={"batchrelay_job": "job_lost", "batchrelay_chunk": "c00001"},
                                             created_after=0, created_before=2e9, request_count=2)
    assert made.total == 2
