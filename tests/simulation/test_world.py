"""The harness tested on its own: runs replay exactly, a fault-free world breaks nothing,
crash points are named and fire where forced, and the invariants catch what they claim to."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.simulation.entry_points import chunk_size_floor
from tests.simulation.invariants import check
from tests.simulation.scenario import (
    BatchBehaviour,
    Faults,
    ForcedCrash,
    JobPlan,
    Scenario,
    fit_chunk_size,
    scenario_for_seed,
)
from tests.simulation.world import World


def calm(seed: int) -> Scenario:
    """The seed's tenants and jobs, cancels, expiries, quota holds and per-request failures,
    with no fault at all."""
    scenario = scenario_for_seed(seed)
    return dataclasses.replace(scenario, faults=Faults(), batches=dataclasses.replace(scenario.batches, vanish=0.0))


TWO_TENANTS = (
    # Two chunks of two where the API allows chunks that small (one chunk of four where it does not)
    JobPlan("tenant-a", "a1", "anthropic", 4, fit_chunk_size(2, 4, chunk_size_floor()), 2, submit_at=0.0),
    JobPlan("tenant-b", "b1", "openai", 3, 3, 2, submit_at=30.0, cancel_at=900.0),
)


def test_a_seed_replays_exactly():
    # Given a seed with faults of every kind
    scenario = scenario_for_seed(5)

    # When it runs twice
    first, second = World(scenario).run(), World(scenario).run()

    # Then both runs made the same calls at the same virtual instants, with the same outcome
    assert first.trace_hash == second.trace_hash
    assert first.calls == second.calls and first.end == second.end
    assert [str(v) for v in check(first).violations] == [str(v) for v in check(second).violations]


def test_a_seed_replays_exactly_in_another_process():
    # Given a seed whose poller polls Bedrock jobs from its thread pool, with faults on those
    # calls (their decisions are hashed from the call, so they must not see the simulator's
    # port, which each process picks anew)
    root = Path(__file__).resolve().parents[2]
    code = "from tests.simulation.runner import run_seed; print(run_seed(30107).stats['trace_hash'])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / p) for p in ("functions", "tools", "."))}

    # When two fresh processes run it, as two workers of bench/simulate.py would
    hashes = [subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                             check=True, timeout=300).stdout.split()[-1] for _ in range(2)]

    # Then both made the same calls at the same virtual instants
    assert hashes[0] == hashes[1]


def test_a_batch_that_runs_longer_than_the_stall_window_is_waited_for():
    # Given a batch that runs 4 hours, unchanged all along (the poller writes nothing for it),
    # longer than the scenario's 3-hour stall window, with no fault at all (seed 2090's shape)
    scenario = Scenario(seed=1, jobs=(JobPlan("tenant-a", "a1", "anthropic", 4, 4, 1, submit_at=0.0),),
                        batches=BatchBehaviour(processing=(4 * 3600.0, 4 * 3600.0)), faults_end=0.0)

    # When it runs
    data = World(scenario).run()

    # Then the world waited for the batch to end instead of calling the job stuck
    assert data.stop_reason == "finished", data.stop_reason
    assert check(data).ok


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_world_without_faults_keeps_every_promise(seed):
    # Given a seed's jobs with cancels, expiries, quota holds and per-request failures, but no fault
    scenario = calm(seed)

    # When it runs
    report = check(World(scenario).run())

    # Then no invariant breaks (the checker raises no false alarm)
    assert report.ok, report.summary()
    assert report.stop_reason == "finished"


def test_a_forced_crash_point_fires_once_by_its_name():
    # Given a crash forced just after the provider accepted the first Anthropic batch
    point = "submitter#*:anthropic.POST /v1/messages/batches:after"
    scenario = Scenario(seed=1, jobs=TWO_TENANTS[:1], faults=Faults(forced=(ForcedCrash(point),)))

    # When the world runs
    data = World(scenario).run()

    # Then the crash fired once, at a call named like the plan, and the job still completes
    crashes = [line for line in data.faults_fired if "FAULT crash" in line]
    assert len(crashes) == 1
    assert "anthropic.POST /v1/messages/batches:after" in crashes[0]
    assert check(data).ok


@pytest.fixture(scope="module")
def calm_run():
    return World(Scenario(seed=3, jobs=TWO_TENANTS, batches=BatchBehaviour(processing=(300.0, 600.0)))).run()


def _tamper(data, label: str, edit):
    """A copy of the run with one job's results.jsonl rewritten by ``edit(lines)``."""
    job_id = data.clients[label].job_id
    job = next(i for i in data.items if i.get("sk") == "JOB" and i["job_id"] == job_id)
    key = job["results_key"]
    lines = [orjson.loads(line) for line in data.objects[key].split(b"\n") if line]
    objects = {**data.objects, key: b"".join(orjson.dumps(line) + b"\n" for line in edit(lines))}
    return dataclasses.replace(data, objects=objects)


def test_the_invariants_hold_on_the_untouched_run(calm_run):
    assert check(calm_run).ok, check(calm_run).summary()


def test_another_tenants_answer_is_caught(calm_run):
    # Given tenant-b's answer to its q-0000 written into tenant-a's results under the same id
    b_key = next(i["results_key"] for i in calm_run.items
                 if i.get("sk") == "JOB" and i["job_id"] == calm_run.clients["b1"].job_id)
    b_line = orjson.loads(calm_run.objects[b_key].split(b"\n")[0])
    a_response = {"content": [{"type": "text", "text": b_line["response"]["choices"][0]["message"]["content"]}]}

    def swap(lines):
        return [{**line, "response": a_response} if line["custom_id"] == b_line["custom_id"] else line
                for line in lines]

    # When the run is checked
    report = check(_tamper(calm_run, "a1", swap))

    # Then the line is reported as another tenant's answer
    assert "cross_tenant_line" in {v.invariant for v in report.violations}
    assert report.stats["cross_tenant_lines"] == 1


def test_a_missing_and_a_repeated_line_are_caught(calm_run):
    report = check(_tamper(calm_run, "a1", lambda lines: [lines[0], *lines[:-1]]))
    assert {"missing_line", "duplicate_line"} <= {v.invariant for v in report.violations}


def test_an_error_the_provider_never_gave_is_caught(calm_run):
    def fail_first(lines):
        return [{**lines[0], "status": "errored", "response": None, "batch_id": None,
                 "error": {"code": "batch_failed", "batch_errors": [{"code": "authentication_error"}]}},
                *lines[1:]]

    report = check(_tamper(calm_run, "a1", fail_first))
    assert [(v.invariant, v.defect) for v in report.violations if v.invariant == "unjustified_error"] == [
        ("unjustified_error", 7)]


def test_a_request_billed_in_two_batches_is_caught(calm_run):
    # Given the ledger shows one of a1's batches twice, as if it had been created again
    first = next(b for b in calm_run.ledger if b.provider == "anthropic")
    again = dataclasses.replace(first, batch_id=first.batch_id + "x", created_at=first.created_at + 1.0)
    report = check(dataclasses.replace(calm_run, ledger=[*calm_run.ledger, again]))
    assert {"paid_twice", "second_batch"} <= {v.invariant for v in report.violations}
    assert report.stats["paid_twice"] == first.billed_requests
