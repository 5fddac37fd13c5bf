"""Bedrock's EventBridge events hand a chunk to the collector at once; the poller stays the
safety net. Events are AWS's documented sample (tests/events) or what the simulator emits."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from batchrelay.lifecycle.bedrock_fast_path import handle_bedrock_event
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.providers.bedrock_events import matches_rule, parse_state_change, rule_pattern
from batchrelay.store import chunk_store
from batchrelay_tools.simulator.providers.bedrock import sim_state
from tests.support.bedrock import new_bedrock_job
from tests.support.driver import LambdaContextStub

SAMPLE = json.loads((Path(__file__).parents[2] / "events" / "bedrock_batch_state_change.json").read_text())


def event_for(batch_id: str, status: str) -> dict[str, Any]:
    """AWS's sample event about another job and status."""
    event = copy.deepcopy(SAMPLE)
    arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{batch_id}"
    event["resources"] = [arn]
    event["detail"].update(batchJobArn=arn, status=status)
    return event


def test_the_documented_sample_event_parses_and_matches_the_rule():
    change = parse_state_change(SAMPLE)
    assert (change.batch_id, change.status, change.ended) == ("abcdefghwxyz", "Completed", True)
    assert matches_rule(SAMPLE, "123456789012") and not matches_rule(SAMPLE, "999999999999")
    pattern = rule_pattern("123456789012")
    assert pattern["detail"]["status"] == ["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"]
    assert not matches_rule(event_for("x", "InProgress"), "123456789012")


def test_an_event_for_an_unknown_job_is_acknowledged(aws):
    from handlers.bedrock_events import handler

    outcome = handler(SAMPLE, LambdaContextStub())
    assert outcome["note"] == "unknown batch" and outcome["handed_off"] is False


def test_an_ended_job_is_handed_to_collect_without_the_poller(bedrock_sim, driver, clock):
    # Given a submitted chunk whose Bedrock job has ended
    job = new_bedrock_job(20, chunk_size=20)
    driver.drain("jobs")
    chunk = chunk_store.list_chunks(job.job_id)[0]
    assert chunk.status == ChunkStatus.SUBMITTED
    clock.advance(200)

    # When the state change events the simulator emits are delivered (as EventBridge would)
    events = sim_state(bedrock_sim.simulator).state_changes()
    ended = [e for e in events if matches_rule(e, "123456789012")]
    assert [e["detail"]["status"] for e in ended] == ["Completed"]
    outcome = handle_bedrock_event(ended[0])

    # Then the chunk went to the collector at once, and the job ends without a poller run
    assert outcome.handed_off and outcome.chunk_id == chunk.chunk_id
    driver.drain("collect")
    from batchrelay.store import job_store

    final = job_store.get_job(job.job_id)
    assert final.status == JobStatus.COMPLETED and driver.poll_summaries == []
    # And the same event again (EventBridge delivers at least once) changes nothing
    assert handle_bedrock_event(ended[0]).note == "nothing to do: chunk is collected with batch " + chunk.batch_id


def test_a_job_still_running_or_a_status_that_is_no_end_is_left_to_the_poller(bedrock_sim, driver):
    job = new_bedrock_job(20, chunk_size=20)
    driver.drain("jobs")
    chunk = chunk_store.list_chunks(job.job_id)[0]

    assert handle_bedrock_event(event_for(chunk.batch_id, "InProgress")).note == "not an end"
    # An end the service does not show yet (an event ahead of the API): the poller decides
    outcome = handle_bedrock_event(event_for(chunk.batch_id, "Completed"))
    assert not outcome.handed_off and outcome.note.startswith("left to the poller")
    assert chunk_store.get_chunk(job.job_id, chunk.chunk_id).status == ChunkStatus.SUBMITTED
