"""Named scenarios: a seed with a fault plan forced, one per issue-9 defect, for the paths
random seeds reach only rarely (or slowly). Each names the invariants it breaks on the code
before the defect's fix; after the fix it must break none.

The seed of each was picked from a small range as the first one whose interleaving shows
the defect (the plan makes the defect possible; the seed picks the interleaving). If a
change in the world shifts interleavings, ``python -m tests.simulation.scenarios NAME``
scans seeds again and prints which ones still show it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from tests.simulation.scenario import (
    BatchBehaviour,
    Faults,
    ForcedCrash,
    ForcedProviderFault,
    JobPlan,
    Outage,
    Scenario,
)

ANTHROPIC_CREATE = "anthropic.POST /v1/messages/batches"


@dataclass(frozen=True)
class Named:
    name: str
    defect: int
    breaks: frozenset[str]          # the invariants it breaks before the fix
    story: str
    scenario: Scenario


def _scenario(name: str, seed: int, jobs: tuple[JobPlan, ...], **kwargs) -> Scenario:
    return Scenario(seed=seed, jobs=jobs, name=name, **kwargs)


def d1_cross_tenant_adoption(seed: int = 5) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "anthropic", 3, 3, 1, submit_at=0.0),
            JobPlan("tenant-b", "b1", "anthropic", 3, 3, 1, submit_at=2.0))
    faults = Faults(forced=(ForcedCrash(f"submitter#*:{ANTHROPIC_CREATE}:after", times=2),))
    return Named(
        "d1_cross_tenant_adoption", 1, frozenset({"cross_tenant_line", "unproven_line"}),
        "Two tenants each send one Anthropic chunk of the same three custom_ids, a second apart; both "
        "submitters are killed right after the provider accepted their batch. The first retry adopts "
        "the oldest same-size batch in its window, which is the other tenant's; the other retry then "
        "adopts the first one's. Each tenant's results show the other's answers.",
        _scenario("d1_cross_tenant_adoption", seed, jobs, faults=faults))


def d2_search_gives_up(seed: int = 0) -> Named:
    # Twelve one-chunk jobs of two requests (the chunks of a 30,000-request job would be the
    # same for the search, at a thousand times the cost), the last submitted a few seconds later.
    jobs = tuple(JobPlan("tenant-a", f"a{i:02d}", "anthropic", 2, 2, 1, submit_at=0.5 * i) for i in range(1, 13))
    faults = Faults(forced=(ForcedCrash(f"submitter#*:{ANTHROPIC_CREATE}:after", skip=11),))
    return Named(
        "d2_search_gives_up", 2, frozenset({"second_batch", "paid_twice"}),
        "Twelve same-size Anthropic chunks are created within seconds (one-chunk jobs of one tenant); "
        "the last to create is killed right after its batch was accepted. Its retry finds the eleven "
        "claimed siblings first, oldest first, one per round; after five rounds the search gives up "
        "and a second batch is made while the first runs and bills.",
        _scenario("d2_search_gives_up", seed, jobs, faults=faults, concurrency=(("jobs", 8), ("collect", 4))))


def d3_takeover_forgets_window(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "anthropic", 4, 4, 1, submit_at=0.0),)
    faults = Faults(
        forced_provider=(ForcedProviderFault(ANTHROPIC_CREATE, "status", 500, applied=True),),
        outages=(Outage("anthropic", 850.0, 1150.0, "server"),),
    )
    return Named(
        "d3_takeover_forgets_window", 3, frozenset({"second_batch", "paid_twice"}),
        "The create is ambiguous (the batch is made, the answer is a 500). The takeover after the lease "
        "rewrites intent_at, then its search fails in a provider outage. The next attempt searches only "
        "around the new intent, misses the first batch and creates a second.",
        _scenario("d3_takeover_forgets_window", seed, jobs, faults=faults, webhooks=False))


def d4_dead_lettered_job_message(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "openai", 3, 3, 1, submit_at=0.0),)
    faults = Faults(forced=(ForcedCrash("submitter#2:*:after", label="job *", times=5),))
    return Named(
        "d4_dead_lettered_job_message", 4, frozenset({"stranded_job"}),
        "The submitter dies on every delivery of the job's `job` message, the first time right after "
        "queued -> submitting; after five receives SQS moves it to the DLQ. Nothing watches a "
        "submitting job: it stays submitting forever.",
        _scenario("d4_dead_lettered_job_message", seed, jobs, faults=faults))


def d4_cancel_while_job_message_lost(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "openai", 3, 3, 1, submit_at=0.0, cancel_at=60.0),)
    faults = Faults(lost_sends=('{"kind":"job"*',))
    return Named(
        "d4_cancel_while_job_message_lost", 4, frozenset({"stranded_job"}),
        "The job's `job` message is lost; a minute later the client cancels. The cancel moves the job "
        "from queued (out of the queued-job safety net) to cancelling, finds no chunk, and nothing ever "
        "moves it on.",
        _scenario("d4_cancel_while_job_message_lost", seed, jobs, faults=faults))


def d5_planning_restarts(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "big", "anthropic", 1200, 100, 1, submit_at=0.0),)
    faults = Faults(slow_s3_put=20.0)
    return Named(
        "d5_planning_restarts", 5, frozenset({"stranded_job"}),
        "A 1,200-request job in 12 chunks on a throttled bucket (20 s a put): planning one chunk takes "
        "two puts, so the whole plan outlives the submitter's 300 s timeout (the same as 10,000 "
        "one-request chunks at normal speed). Each delivery replans from chunk one, stores the same "
        "first ~7 chunks (whose batches are created and collected) and times out; after five the "
        "message is dead-lettered and the job never leaves submitting.",
        _scenario("d5_planning_restarts", seed, jobs, faults=faults, concurrency=(("jobs", 8), ("collect", 8)),
                  webhooks=False))


def d6_two_collectors_and_a_cancel(seed: int = 5) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "openai", 6, 6, 2, submit_at=0.0, cancel_on_collect=True),)
    faults = Faults(duplicated_sends=('{"kind":"collect"*',))
    batches = BatchBehaviour(processing=(600.0, 600.0), retryable_failures=0.5)
    return Named(
        "d6_two_collectors_and_a_cancel", 6, frozenset({"stranded_job", "counts"}),
        "The chunk's `collect` message is delivered twice and two collectors run at once; half its "
        "requests failed retryably. The client's cancel lands between the two collectors' reads of "
        "the job: one plans a retry chunk, the other writes every id into the part. The finalizer's "
        "count check then fails forever (or the job's counts exceed its requests).",
        _scenario("d6_two_collectors_and_a_cancel", seed, jobs, faults=faults, batches=batches, webhooks=False))


def d7_revoked_key(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "anthropic", 3, 3, 1, submit_at=60.0),)
    faults = Faults(outages=(Outage("anthropic", 0.0, 1200.0, "auth"),))
    return Named(
        "d7_revoked_key", 7, frozenset({"unjustified_error"}),
        "The Anthropic key is the deploy's placeholder (401) for the first 20 minutes. A job submitted "
        "meanwhile has its chunk's create answered 401, which is taken as a refusal of the requests: "
        "every request ends errored, though the provider never saw one.",
        _scenario("d7_revoked_key", seed, jobs, faults=faults))


def d8_batch_answers_404(seed: int = 0) -> Named:
    jobs = (JobPlan("tenant-a", "a1", "openai", 3, 3, 1, submit_at=0.0),)
    batches = BatchBehaviour(processing=(1800.0, 1800.0), vanish=1.0)
    return Named(
        "d8_batch_answers_404", 8, frozenset({"stranded_job"}),
        "The chunk's batch starts answering 404 while it runs (deleted, or in another project). The "
        "poller retrieves it every minute, logs the 404 and changes nothing, forever.",
        _scenario("d8_batch_answers_404", seed, jobs, batches=batches, webhooks=False, faults_end=3600.0))


SCENARIOS = {
    builder.__name__: builder
    for builder in (
        d1_cross_tenant_adoption, d2_search_gives_up, d3_takeover_forgets_window, d4_dead_lettered_job_message,
        d4_cancel_while_job_message_lost, d5_planning_restarts, d6_two_collectors_and_a_cancel, d7_revoked_key,
        d8_batch_answers_404,
    )
}


def named(name: str, seed: int | None = None) -> Named:
    return SCENARIOS[name]() if seed is None else SCENARIOS[name](seed)


def with_seed(named_scenario: Named, seed: int) -> Named:
    return replace(named_scenario, scenario=replace(named_scenario.scenario, seed=seed))


def main(argv: list[str]) -> None:
    """Scan seeds for a named scenario: ``python -m tests.simulation.scenarios NAME [FIRST LAST]``."""
    from tests.simulation.runner import run_scenario

    name = argv[0]
    first, last = (int(argv[1]), int(argv[2])) if len(argv) > 2 else (0, 20)
    for seed in range(first, last):
        report = run_scenario(named(name, seed).scenario)
        print(report.summary(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
