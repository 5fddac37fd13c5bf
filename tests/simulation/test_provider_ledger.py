"""The provider simulator's side of the simulation: its ledger of what was created and
billed, per-batch plans, batches that answer 404, and ids that do not depend on who reads
first."""

from __future__ import annotations

import pytest

from batchrelay_tools.simulator import FailureRule, SimulatorSettings
from batchrelay_tools.simulator.ledger import CANCELLED, ERRORED, EXPIRED, SUCCEEDED
from batchrelay_tools.simulator.state import ApiError, BatchPlan, Simulator


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def anthropic_payload(ids: list[str]) -> dict:
    return {"requests": [{"custom_id": cid, "params": {"model": "m", "max_tokens": 1,
                                                        "messages": [{"role": "user", "content": cid}]}}
                         for cid in ids]}


@pytest.fixture
def sim() -> tuple[Simulator, Clock]:
    clock = Clock()
    simulator = Simulator(SimulatorSettings(processing_seconds=100.0), clock=clock)
    counter = iter(range(1, 1000))
    simulator.new_id = lambda prefix: f"{prefix}{next(counter):024d}"
    return simulator, clock


def test_the_ledger_bills_what_succeeded_even_in_batches_nobody_reads(sim):
    simulator, clock = sim
    simulator.settings.failure_rules = [FailureRule(pattern="-bad$", kind="permanent")]
    done = simulator.create_anthropic_batch(anthropic_payload(["a", "b-bad"]))["id"]
    cancelled = simulator.create_anthropic_batch(anthropic_payload(["c", "d", "e", "f"]))["id"]
    clock.now += 50
    simulator.cancel_anthropic_batch(cancelled, "")

    ledger = {entry.batch_id: entry for entry in simulator.ledger()}

    assert [r.outcome for r in ledger[done].requests] == [SUCCEEDED, ERRORED]
    assert ledger[done].billed_requests == 1 and ledger[done].end_reason == "completed"
    assert [r.outcome for r in ledger[cancelled].requests] == [SUCCEEDED, SUCCEEDED, CANCELLED, CANCELLED]
    assert ledger[cancelled].end_reason == "cancelled" and ledger[cancelled].cancel_requested_at == clock.now


def test_a_batch_plan_decides_duration_expiry_and_quota_holds(sim):
    simulator, clock = sim
    plans = iter([BatchPlan(processing_seconds=10.0, expire_after_fraction=0.5), BatchPlan(token_limit_exceeded=True)])
    created = []
    simulator.batch_planner = lambda provider, total: next(plans)
    simulator.on_created = lambda provider, batch_id, ends_at: created.append((provider, batch_id, ends_at))
    expiring = simulator.create_anthropic_batch(anthropic_payload(["a", "b"]))["id"]
    line = b'{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\n'
    upload = simulator.create_file("in.jsonl", "batch", line)
    held = simulator.create_openai_batch({"input_file_id": upload.id, "endpoint": "/v1/chat/completions",
                                          "completion_window": "24h"})
    clock.now += 20

    ledger = {entry.batch_id: entry for entry in simulator.ledger()}

    assert [r.outcome for r in ledger[expiring].requests] == [SUCCEEDED, EXPIRED]
    assert simulator.get_openai_batch(held["id"])["errors"]["data"][0]["code"] == "token_limit_exceeded"
    assert ledger[held["id"]].billed_requests == 0 and ledger[held["id"]].end_reason == "failed"
    assert created[0] == ("anthropic", expiring, 1_000_010.0)


def test_a_vanished_batch_answers_404_is_left_out_of_lists_and_still_bills(sim):
    simulator, clock = sim
    batch_id = simulator.create_anthropic_batch(anthropic_payload(["a"]))["id"]
    simulator.vanish(batch_id)
    clock.now += 200

    with pytest.raises(ApiError) as missing:
        simulator.get_anthropic_batch(batch_id, "")
    listed = simulator.list_anthropic_batches(None, None, 20, "")["data"]
    entry = simulator.ledger()[0]

    assert missing.value.status == 404
    assert listed == []
    assert entry.vanished and entry.billed_requests == 1


def _two_openai_batches() -> tuple[Simulator, Clock, list[str]]:
    clock = Clock()
    simulator = Simulator(SimulatorSettings(processing_seconds=100.0), clock=clock)
    counter = iter(range(1, 1000))
    simulator.new_id = lambda prefix: f"{prefix}{next(counter):024d}"
    ids = []
    for name in ("x", "y"):
        line = b'{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\n' % name.encode()
        upload = simulator.create_file("in.jsonl", "batch", line)
        ids.append(simulator.create_openai_batch({"input_file_id": upload.id, "endpoint": "/v1/chat/completions",
                                                  "completion_window": "24h"})["id"])
    clock.now += 200
    return simulator, clock, ids


def test_result_files_get_the_same_ids_whoever_reads_the_batches_first():
    # Given the same two batches in two simulators
    one, _, ids = _two_openai_batches()
    other, _, same_ids = _two_openai_batches()

    # When their results are read in opposite orders (as the poller's threads may)
    first = {batch_id: one.get_openai_batch(batch_id)["output_file_id"] for batch_id in ids}
    second = {batch_id: other.get_openai_batch(batch_id)["output_file_id"] for batch_id in reversed(same_ids)}

    # Then every generated id is the same
    assert ids == same_ids and first == second
