"""AnthropicProvider against the simulator through the real anthropic SDK."""

from __future__ import annotations

import re

import pytest

from batchrelay.jsonl import iter_lines
from batchrelay.providers.base import ProviderError
from batchrelay.providers.custom_ids import chunk_id_tag, tag_of, tagged
from batchrelay_tools.simulator import FailureRule
from tests.support.simulator import DEFAULT_TAG, collect, make_anthropic, raw_bytes, wait_until_ended

ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

IDS = [f"req-{i}" for i in range(5)]


def create(provider, write_requests, ids, *, tag: str = DEFAULT_TAG):
    path, mapping = write_requests(provider, ids, tag=tag)
    return provider.create_batch(requests_path=path, request_count=len(ids), endpoint="/v1/messages",
                                 metadata={"chunk_id": "ignored"}), mapping


def test_create_retrieve_list_and_results(anthropic_provider, write_requests):
    info, _ = create(anthropic_provider, write_requests, IDS)
    assert (info.state, info.provider_status, info.total, info.completed) == ("running", "in_progress", 5, 0)
    assert info.extra["results_url"] is None
    listed = list(anthropic_provider.list_batches(created_after=info.created_at - 1))
    assert [b.batch_id for b in listed] == [info.batch_id]

    ended = wait_until_ended(anthropic_provider, info.batch_id)
    assert (ended.end_reason, ended.total, ended.completed, ended.failed) == ("completed", 5, 5, 0)
    assert ended.extra["results_url"].endswith(f"/v1/messages/batches/{info.batch_id}/results")
    results = collect(anthropic_provider, ended)
    assert set(results) == set(IDS)
    first = results["req-0"]
    assert first.outcome == "succeeded" and first.response["type"] == "message"
    assert first.usage["total_tokens"] == first.usage["input_tokens"] + first.usage["output_tokens"] > 0
    assert first.model == "claude-sonnet-4-5"


def test_counts_stay_in_processing_until_ended(clocked_sim, clock, write_requests):
    provider = make_anthropic(clocked_sim)
    clocked_sim.configure(processing_seconds=100)
    info, _ = create(provider, write_requests, IDS)
    clock.advance(90)
    running = provider.retrieve_batch(info.batch_id)
    assert (running.state, running.completed, running.total) == ("running", 0, 5)
    clock.advance(10)
    assert provider.retrieve_batch(info.batch_id).completed == 5
    with pytest.raises(ProviderError):
        next(iter(provider.raw_result_files(running)))


def test_unsafe_custom_ids_round_trip(anthropic_provider, write_requests):
    user_ids = ["plain_id-1", "has space", "slash/and:colon", "é-unicode", "x" * 100, "h_" + "0" * 60]
    info, mapping = create(anthropic_provider, write_requests, user_ids)
    assert all(ANTHROPIC_CUSTOM_ID.match(pid) for pid in mapping)
    assert mapping[f"{DEFAULT_TAG}_plain_id-1"] == "plain_id-1"
    assert {tag_of(pid) for pid in mapping} == {DEFAULT_TAG}
    results = collect(anthropic_provider, wait_until_ended(anthropic_provider, info.batch_id))
    # The collector maps back through the chunk input (here: the mapping the writer kept).
    assert sorted(mapping[tagged(DEFAULT_TAG, pid)] for pid in results) == sorted(user_ids)


def test_per_request_failures(anthropic_provider, write_requests, sim):
    sim.configure(failure_rules=[
        FailureRule(pattern="^flaky", kind="retryable", first_attempt_only=True, attempt_key="body"),
        FailureRule(pattern="^busy", kind="retryable", status_code=529),
        FailureRule(pattern="^bad", kind="permanent"),
    ])
    info, _ = create(anthropic_provider, write_requests, ["ok", "flaky", "busy", "bad"])
    ended = wait_until_ended(anthropic_provider, info.batch_id)
    assert (ended.completed, ended.failed) == (4, 3)
    results = collect(anthropic_provider, ended)
    assert results["ok"].outcome == "succeeded"
    assert (results["flaky"].error["type"], results["flaky"].retryable) == ("api_error", True)
    assert (results["busy"].error["type"], results["busy"].retryable) == ("overloaded_error", True)
    assert (results["bad"].error["type"], results["bad"].retryable) == ("invalid_request_error", False)

    retry, _ = create(anthropic_provider, write_requests, ["flaky"])
    assert collect(anthropic_provider, wait_until_ended(anthropic_provider, retry.batch_id))["flaky"].outcome == \
        "succeeded"


def test_expiry_keeps_partial_results(anthropic_provider, write_requests, sim):
    sim.configure(expire_after_fraction=0.4)
    info, _ = create(anthropic_provider, write_requests, IDS)
    ended = wait_until_ended(anthropic_provider, info.batch_id)
    assert (ended.end_reason, ended.completed, ended.total) == ("expired", 2, 5)
    outcomes = sorted(r.outcome for r in collect(anthropic_provider, ended).values())
    assert outcomes == ["expired"] * 3 + ["succeeded"] * 2


def test_cancel(clocked_sim, clock, write_requests):
    provider = make_anthropic(clocked_sim)
    clocked_sim.configure(processing_seconds=100, cancelling_seconds=2)
    info, _ = create(provider, write_requests, [f"r{i}" for i in range(10)])
    clock.advance(50)
    cancelling = provider.cancel_batch(info.batch_id)
    assert (cancelling.state, cancelling.provider_status) == ("running", "canceling")
    clock.advance(2)
    ended = provider.retrieve_batch(info.batch_id)
    assert (ended.state, ended.end_reason, ended.completed) == ("ended", "cancelled", 5)
    outcomes = sorted(r.outcome for r in collect(provider, ended).values())
    assert outcomes == ["cancelled"] * 5 + ["succeeded"] * 5


@pytest.mark.parametrize("status", [429, 529])
def test_a_failed_create_is_not_retried_by_the_sdk(anthropic_provider, write_requests, sim, status):
    # A POST retried after a timeout could make a second batch; the caller decides instead.
    sim.configure(create_errors_next=1, create_error_status=status)
    with pytest.raises(ProviderError) as failure:
        create(anthropic_provider, write_requests, IDS)
    assert failure.value.retryable and failure.value.status_code == status
    assert sim.calls("POST /v1/messages/batches") == 1
    info, _ = create(anthropic_provider, write_requests, IDS)
    assert info.batch_id and sim.calls("POST /v1/messages/batches") == 2


def test_create_errors_exhausting_retries_are_retryable(anthropic_provider, write_requests, sim):
    sim.configure(create_errors_next=10, create_error_status=529)
    with pytest.raises(ProviderError) as failure:
        create(anthropic_provider, write_requests, IDS)
    assert failure.value.retryable and failure.value.status_code == 529
    assert failure.value.code == "overloaded_error"


def test_invalid_custom_id_is_a_final_error(anthropic_provider, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"custom_id": "not safe!", "params": {"model": "m", "max_tokens": 1, "messages": []}}\n')
    with pytest.raises(ProviderError) as failure:
        anthropic_provider.create_batch(requests_path=str(path), request_count=1, endpoint="/v1/messages",
                                        metadata={})
    assert not failure.value.retryable and failure.value.status_code == 400
    assert "custom_id" in failure.value.message


def test_cut_off_download_is_resumed(anthropic_provider, write_requests, sim):
    info, _ = create(anthropic_provider, write_requests, [f"r{i}" for i in range(40)])
    ended = wait_until_ended(anthropic_provider, info.batch_id)
    clean = raw_bytes(anthropic_provider, ended)["results"]
    sim.reset_stats()
    sim.configure(cut_downloads_next=1)
    assert raw_bytes(anthropic_provider, ended)["results"] == clean
    assert sim.calls("GET /v1/messages/batches/{id}/results") == 2


def test_carriage_returns_inside_results(anthropic_provider, write_requests, sim):
    sim.configure(raw_carriage_return=True)
    info, _ = create(anthropic_provider, write_requests, IDS)
    ended = wait_until_ended(anthropic_provider, info.batch_id)
    data = raw_bytes(anthropic_provider, ended)["results"]
    assert b"\r" in data
    lines = list(iter_lines(iter([data[i : i + 7] for i in range(0, len(data), 7)])))  # tiny blocks
    assert len(lines) == 5
    text = anthropic_provider.parse_result_line("results", lines[0]).response["content"][0]["text"]
    assert "\r\n" in text and "\u2028" in text


def test_candidates_after_a_crash_are_batches_of_the_same_size_in_the_window(sim, write_requests):
    before = sim.simulator.clock()
    crashed = make_anthropic(sim)
    created, _ = create(crashed, write_requests, IDS)
    create(crashed, write_requests, ["other"])  # a different size: never a candidate
    after = sim.simulator.clock()

    recovered = make_anthropic(sim)
    found = list(recovered.find_candidates(metadata={}, created_after=before, created_before=after, request_count=5))
    assert [b.batch_id for b in found] == [created.batch_id]
    assert list(recovered.find_candidates(metadata={}, created_after=before, created_before=after,
                                          request_count=7)) == []


def test_a_same_size_batch_is_proven_the_chunks_only_by_the_tag_in_its_results(clocked_sim, clock, write_requests):
    # Given two same-size batches made at the same moment for two different chunks
    provider = make_anthropic(clocked_sim)
    ours_tag, theirs_tag = chunk_id_tag("job_a", "c00001"), chunk_id_tag("job_b", "c00001")
    ours, _ = create(provider, write_requests, IDS, tag=ours_tag)
    theirs, _ = create(provider, write_requests, IDS, tag=theirs_tag)

    # While they run, nothing tells them apart: neither can be adopted yet
    assert provider.prove_ownership(provider.retrieve_batch(ours.batch_id), tag=ours_tag, metadata={}) is None
    # Once ended, the results say whose each one is
    clock.advance(10_000)
    ended_ours, ended_theirs = provider.retrieve_batch(ours.batch_id), provider.retrieve_batch(theirs.batch_id)
    assert provider.prove_ownership(ended_ours, tag=ours_tag, metadata={}) is True
    assert provider.prove_ownership(ended_theirs, tag=ours_tag, metadata={}) is False


def test_no_candidate_outside_the_window(clocked_sim, clock, write_requests):
    provider = make_anthropic(clocked_sim)
    create(provider, write_requests, IDS)
    clock.advance(600)
    now = clock()
    assert list(provider.find_candidates(metadata={}, created_after=now, created_before=now + 5,
                                         request_count=5)) == []


def test_list_batches_stops_paging_at_created_after(clocked_sim, clock, write_requests):
    provider = make_anthropic(clocked_sim)
    for _ in range(6):
        create(provider, write_requests, ["a"])
    clock.advance(3600)
    cutoff = clock()
    recent = [create(provider, write_requests, ["a"])[0].batch_id for _ in range(3)]
    clocked_sim.reset_stats()
    listed = [b.batch_id for b in provider.list_batches(created_after=cutoff - 0.5, page_size=2)]
    assert listed == list(reversed(recent))
    assert clocked_sim.calls("GET /v1/messages/batches") == 2
