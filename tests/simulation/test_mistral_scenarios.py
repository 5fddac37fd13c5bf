"""Mistral in the simulated world: the faults the random seeds draw, forced where the seeds
reach them only now and then. Each runs the real adapter through mistralai against the
simulator, then checks every invariant and what the ledger shows Mistral did."""

from __future__ import annotations

from collections import Counter

from tests.simulation.invariants import check
from tests.simulation.scenario import (
    HOUR,
    BatchBehaviour,
    Faults,
    ForcedCrash,
    ForcedProviderFault,
    JobPlan,
    Outage,
    Scenario,
)
from tests.simulation.world import World, shared_simulator

CREATE = "mistral.POST /v1/batch/jobs"


def run(scenario: Scenario):
    data = World(scenario).run()
    report = check(data)
    assert report.ok, report.summary()
    return data, [entry for entry in data.ledger if entry.provider == "mistral"]


def test_lost_create_answers_and_crashes_after_create_make_no_second_job():
    # Given two tenants' same-size chunks of the same custom_ids, the first create's answer lost
    # after Mistral made the job, and both submitters killed right after their create
    jobs = (JobPlan("tenant-a", "a1", "mistral", 3, 3, 1, submit_at=0.0),
            JobPlan("tenant-b", "b1", "mistral", 3, 3, 1, submit_at=2.0))
    faults = Faults(forced=(ForcedCrash(f"submitter#*:{CREATE}:after", times=2),),
                    forced_provider=(ForcedProviderFault(CREATE, "lost_answer", applied=True),))

    _, ledger = run(Scenario(seed=3, jobs=jobs, faults=faults, webhooks=False, name="mistral_lost_creates"))

    # Then each chunk adopted its own job by metadata: no more jobs than chunks
    assert len(ledger) == 2
    assert {entry.metadata["batchrelay_chunk"] for entry in ledger} == {"c00001"}
    assert sum(entry.billed_requests for entry in ledger) == 6


def test_timed_out_jobs_keep_their_results_and_the_rest_is_retried():
    # Given Mistral jobs that all time out part-way while the faults last
    jobs = (JobPlan("tenant-a", "a1", "mistral", 20, 20, 3, submit_at=0.0),
            JobPlan("tenant-b", "b1", "mistral", 6, 6, 3, submit_at=30.0))
    batches = BatchBehaviour(processing=(600.0, 1200.0), expire=1.0)

    _, ledger = run(Scenario(seed=7, jobs=jobs, batches=batches, faults_end=2 * HOUR, webhooks=False,
                                name="mistral_timeouts"))

    # Then jobs timed out, their unfinished requests went to new jobs, and no request was billed twice
    assert Counter(entry.end_reason for entry in ledger)["expired"] >= 1
    sent = Counter(request.body_digest for entry in ledger for request in entry.requests)
    billed = Counter(request.body_digest for entry in ledger for request in entry.requests if request.billed)
    assert len(sent) == 26 and max(sent.values()) >= 2
    assert set(billed.values()) == {1}


def test_a_revoked_key_and_a_full_workspace_hold_the_chunks_until_they_pass():
    jobs = (JobPlan("tenant-a", "a1", "mistral", 4, 4, 1, submit_at=60.0),
            JobPlan("tenant-a", "a2", "mistral", 4, 4, 1, submit_at=90.0))
    faults = Faults(outages=(Outage("mistral", 0.0, 1200.0, "auth"),), provider_error=0.1)
    batches = BatchBehaviour(token_limit=0.5)

    data, ledger = run(Scenario(seed=11, jobs=jobs, faults=faults, batches=batches, faults_end=2 * HOUR,
                                webhooks=False, name="mistral_auth_and_quota"))

    # Then each chunk made one job, after creates refused for the key (401) and for room (429)
    assert len(ledger) == 2 and all(entry.end_reason == "completed" for entry in ledger)
    assert shared_simulator().calls("POST /mistral/v1/batch/jobs") > len(ledger)
    assert any("FAULT provider status/401" in line for line in data.faults_fired)
