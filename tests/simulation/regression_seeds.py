"""The seeds ``make test`` runs: a fixed range, and every seed that ever failed.

``FIXED_SEEDS`` are run on every ``make test``; ``REGRESSION`` lists every seed that broke
an invariant, with what it broke on the code it was found on (the commit before issue 9's
fixes), so that a seed whose defect is still open is a strict xfail (see verdicts.py).

When a fix lands: its seeds start passing, their strict xfail turns red, and the fixer
deletes their ``Known`` (keep the seed: ``Known`` None means "must pass"). A seed that fails
for a reason not listed is a new finding: add it here with what it broke, or fix the harness
if the harness is wrong. Note that a change in the lifecycle's calls shifts interleavings,
so after a fix a seed may stop reaching the path it once did: the named scenarios
(scenarios.py) are the stable test of each defect; these seeds are the random search's record.

Invariant sets: see invariants.py. Defects: the numbers of issue 9.
"""

from __future__ import annotations

from tests.simulation.verdicts import Known

FIXED_SEEDS = range(0, 30)

MONEY = frozenset({"paid_twice", "second_batch"})
ADOPTION = MONEY | {"unproven_line"}

# What each seed broke on the code before issue 9's fixes (5c2b368): the record of what the
# random search found. All of it is fixed; the seeds stay in make test.
FOUND_BEFORE_THE_FIXES: dict[int, Known] = {
    # --- found in the fixed range ---
    0: Known((3,), MONEY, "an ambiguous OpenAI create, then a takeover whose search failed in an outage"),
    2: Known((1,), MONEY, "an Anthropic retry adopted a same-size sibling's batch; the owner made a second"),
    4: Known((8,), frozenset({"stranded_job"}), "a batch answers 404; the poller retrieves it every minute"),
    5: Known((7,), frozenset({"unjustified_error"}), "creates answered 401 while the key was revoked"),
    11: Known((3,), MONEY, "takeover after an ambiguous create, its search failed"),
    17: Known((1, 2), MONEY, "same-size Anthropic siblings: adoption and a search that gave up"),
    18: Known((1,), ADOPTION | {"cross_tenant_line"}, "a chunk adopted another tenant's batch of the same ids"),
    19: Known((1,), ADOPTION, "a chunk adopted a same-size sibling's batch"),
    20: Known((1,), ADOPTION, "a chunk adopted a same-size sibling's batch"),
    23: Known((7,), frozenset({"unjustified_error"}), "creates answered 401/403 right after deploy"),
    25: Known((1, 2, 3), MONEY, "same-size Anthropic siblings, takeovers and failed searches"),
    26: Known((1, 2), ADOPTION | {"cross_job_line"}, "a chunk adopted another job's batch of the same ids"),
    27: Known((1, 5), MONEY | {"stranded_job"}, "a 1-request-chunk job on a slow bucket never finishes "
                                                "planning; adoption among same-size Anthropic chunks"),
    28: Known((1,), MONEY, "a chunk adopted a same-size sibling's batch"),
    # --- found beyond it (bench/simulate.py --seeds 240) ---
    37: Known((4,), frozenset({"stranded_job"}), "the job message dead-lettered after planning; a cancel leaves "
                                                 "the job cancelling forever"),
    42: Known((1, 2), ADOPTION | {"cross_tenant_line"}, "a chunk adopted another tenant's batch"),
    53: Known((4,), frozenset({"stranded_job"}), "the job message dead-lettered: submitting forever"),
    72: Known((1, 2), ADOPTION | {"cross_tenant_line"}, "a chunk adopted another tenant's batch"),
    124: Known((1, 3), ADOPTION | {"cross_tenant_line"}, "a chunk adopted another tenant's batch"),
    221: Known((5,), frozenset({"stranded_job"}), "a 1-request-chunk job on a slow bucket: planning restarts "
                                                  "from chunk one at every delivery"),
    # --- found by a search over the seeds whose mix has duplicates, retryable failures and a
    #     cancel when collection starts (bench-style, 120 such seeds from 530 on) ---
    1182: Known((2, 6), frozenset({"stranded_job", "second_batch"}), "two collectors on one chunk around a "
                                                                      "cancel: the finalizer's count check fails "
                                                                      "forever (50 lines for 48 requests)"),
}

# Found with the OpenAI-shaped providers in the seeds (issue 19; bench/simulate.py --seeds 200),
# fixed in the same change: what each broke before its fix.
FOUND_WITH_THE_OPENAI_SHAPED_PROVIDERS: dict[int, Known] = {
    66: Known((), frozenset({"stranded_job"}), "an ambiguous create on a configured server that keeps no metadata "
                                               "and never expires a batch: the batch stalled, the takeover waited "
                                               "forever to prove whose it was (now cancelled at the maximum age)"),
}

# Found by the 10,000-seed run (bench/simulate.py --seeds 10000 --journal ...): a fault of the
# checker, not of batchrelay. What each broke before the checker's fix.
FOUND_IN_THE_LONG_RUN: dict[int, Known] = {
    1158: Known((), MONEY, "a Bedrock on-demand answer lost with the submitter (it died between InvokeModel "
                           "and storing the answer); the call made again was refused (500), so the request's "
                           "retry paid it: the documented on-demand cost, which the checker only knew within "
                           "one run (now paid_twice_on_demand)"),
    2090: Known((), frozenset({"stranded_job"}), "a 6,500-request Anthropic job whose last chunk got its batch "
                                                 "at 9 h (crashes, ambiguous creates) and the batch ran 4 h: "
                                                 "the world's 3-hour stall window called the waiting job stuck "
                                                 "(now never shorter than the longest batch)"),
}

# Every seed that ever failed must pass now (None: no known defect excuses anything).
REGRESSION: dict[int, Known | None] = dict.fromkeys([*FOUND_BEFORE_THE_FIXES, *FOUND_WITH_THE_OPENAI_SHAPED_PROVIDERS,
                                                     *FOUND_IN_THE_LONG_RUN])
