"""Bedrock's own paths under faults, which random seeds reach rarely (their jobs are mostly one
chunk): small retry chunks gathered into one batch while submitters crash and messages repeat,
an ambiguous create recovered by the job's name and token, quota refusals. Every invariant
must hold, and each scenario must have taken the path it is about."""

from __future__ import annotations

from tests.simulation.invariants import check
from tests.simulation.scenario import BatchBehaviour, Faults, ForcedCrash, ForcedProviderFault, JobPlan, Scenario
from tests.simulation.world import World

CREATE = "bedrock.CreateModelInvocationJob"
INVOKE = "bedrock.InvokeModel"


def _run(scenario: Scenario):
    data = World(scenario).run()
    report = check(data)
    assert report.ok, report.summary()
    return data, report


def _chunks(data, prefix: str = "CHUNK#") -> list[dict]:
    return [item for item in data.items if str(item.get("sk", "")).startswith(prefix)]


def test_small_retry_chunks_are_gathered_into_one_batch_under_crashes_and_duplicates():
    # Given a Bedrock job of three chunks whose few retryable failures make retry chunks below
    # the minimum (3 here), with submitters and collectors that crash and messages that repeat
    jobs = (JobPlan("tenant-a", "big", "bedrock", 300, 100, 3, submit_at=0.0),
            JobPlan("tenant-b", "small", "bedrock", 2, 2, 2, submit_at=30.0))
    scenario = Scenario(
        seed=7, jobs=jobs, name="bedrock_gathering",
        faults=Faults(crash_per_call=0.01, sqs_duplicate=0.2, provider_error=0.05),
        batches=BatchBehaviour(processing=(300.0, 1800.0), retryable_failures=0.02),
    )

    data, _ = _run(scenario)

    # Then the small retry chunks were merged into one batch (or ran alone when nothing else
    # could join them), and the two-request job ran on demand
    merged = [c for c in _chunks(data) if c["chunk_id"].startswith("m")]
    members = [c for c in _chunks(data) if c.get("end_reason") == "merged"]
    assert merged and members and {m["merged_into"] for m in members} <= {c["chunk_id"] for c in merged}
    runs = [b for b in data.ledger if b.provider == "bedrock" and b.metadata.get("on_demand")]
    assert runs


def test_an_ambiguous_create_is_recovered_by_the_jobs_name_and_token():
    # Given Bedrock makes the job, then the answer is lost (twice), and the submitter dies after
    # another create
    jobs = (JobPlan("tenant-a", "a1", "bedrock", 12, 12, 1, submit_at=0.0),
            JobPlan("tenant-b", "b1", "bedrock", 12, 12, 1, submit_at=1.0))
    scenario = Scenario(
        seed=3, jobs=jobs, name="bedrock_ambiguous_create",
        faults=Faults(forced_provider=(ForcedProviderFault(CREATE, "status", 500, applied=True, times=2),),
                      forced=(ForcedCrash(f"submitter#*:{CREATE}:after"),)),
    )

    data, report = _run(scenario)

    # Then each chunk has exactly the one job that was made for it: nothing created twice
    batches = [b for b in data.ledger if b.provider == "bedrock" and not b.metadata.get("on_demand")]
    assert len(batches) == 2 and report.stats["second_batches"].get("bedrock", 0) == 0


def test_quota_refusals_hold_the_chunk_until_bedrock_has_room():
    jobs = (JobPlan("tenant-a", "a1", "bedrock", 10, 10, 1, submit_at=0.0),)
    scenario = Scenario(
        seed=11, jobs=jobs, name="bedrock_quota",
        faults=Faults(forced_provider=(ForcedProviderFault(CREATE, "quota", times=3),)),
    )

    data, _ = _run(scenario)

    assert sum(1 for line in data.faults_fired if f"provider quota {CREATE}" in line) == 3
    assert [b.end_reason for b in data.ledger if b.provider == "bedrock"] == ["completed"]


def test_an_on_demand_answer_lost_with_the_function_is_paid_again_and_counted_apart():
    # Given a request below Bedrock's minimum (run on demand): the submitter dies right after
    # InvokeModel answered (before storing the answer), and the call made again by the resumed
    # run is refused (500), so the request's line is an error and its retry pays it again
    # (seed 1158 found this path; the checker took it for a second batch)
    jobs = (JobPlan("tenant-a", "a1", "bedrock", 1, 1, 2, submit_at=0.0),)
    scenario = Scenario(
        seed=5, jobs=jobs, name="bedrock_on_demand_lost_answer",
        faults=Faults(forced=(ForcedCrash(f"submitter#*:{INVOKE}:after"),),
                      forced_provider=(ForcedProviderFault(INVOKE, "status", 500, skip=1),)),
    )

    data, report = _run(scenario)

    # Then the request was billed in the first run (the lost answer) and in its retry's run,
    # the first counted as the documented on-demand cost, never as paid twice or a second batch
    runs = [b for b in data.ledger if b.provider == "bedrock" and b.metadata.get("on_demand")]
    assert [[r.outcome for r in run.requests] for run in runs] == [["succeeded", "errored"], ["succeeded"]]
    assert report.stats["paid_twice_on_demand"] == 1 and report.stats["paid_twice"] == 0
    assert report.stats["second_batches"].get("bedrock", 0) == 0
