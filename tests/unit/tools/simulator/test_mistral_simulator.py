"""The simulated Mistral's state on its own: the hooks the lifecycle simulation drives (batch
plans, creation notices, batches that vanish, reset) and its ledger."""

from __future__ import annotations

import json

import pytest

from batchrelay_tools.simulator import SimulatorSettings
from batchrelay_tools.simulator.ledger import EXPIRED, SUCCEEDED
from batchrelay_tools.simulator.providers.mistral import PLUGIN, MistralState
from batchrelay_tools.simulator.state import ApiError, BatchPlan, Simulator


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> tuple[Simulator, MistralState, Clock]:
    clock = Clock()
    simulator = Simulator(SimulatorSettings(processing_seconds=100.0), clock=clock)
    counter = iter(range(1, 1000))
    simulator.new_id = lambda prefix: f"{prefix}{next(counter):024d}"
    return simulator, simulator.extension(PLUGIN), clock


def payload(ids: list[str], **extra) -> dict:
    requests = [{"custom_id": cid, "body": {"messages": [{"role": "user", "content": cid}]}} for cid in ids]
    return {"endpoint": "/v1/chat/completions", "model": "mistral-small-latest", "requests": requests, **extra}


def test_ids_are_uuids_derived_from_the_simulators_ids(world):
    _, mistral, _ = world
    first = mistral.create(payload(["a"]))["id"]
    again = Simulator(SimulatorSettings(), clock=Clock())
    counter = iter(range(1, 1000))
    again.new_id = lambda prefix: f"{prefix}{next(counter):024d}"
    assert again.extension(PLUGIN).create(payload(["a"]))["id"] == first
    assert len(first) == 36 and first.count("-") == 4


def test_a_plan_decides_expiry_and_the_quota_and_creation_is_announced(world):
    simulator, mistral, clock = world
    plans = iter([BatchPlan(processing_seconds=10.0, expire_after_fraction=0.5), BatchPlan(token_limit_exceeded=True)])
    simulator.batch_planner = lambda provider, total: next(plans)
    created = []
    simulator.on_created = lambda provider, batch_id, ends_at: created.append((provider, batch_id, ends_at))

    job = mistral.create(payload(["a", "b", "c", "d"]))
    with pytest.raises(ApiError) as refused:
        mistral.create(payload(["e"]))

    assert refused.value.status == 429 and refused.value.code == "pending_requests_limit"
    assert created == [("mistral", job["id"], clock.now + 10.0)]
    clock.now += 10
    view = mistral.view(mistral.get(job["id"]))
    assert (view["status"], view["completed_requests"], view["succeeded_requests"]) == ("TIMEOUT_EXCEEDED", 2, 2)


def test_a_vanished_job_answers_404_and_leaves_the_list(world):
    simulator, mistral, _ = world
    job = mistral.create(payload(["a"]))["id"]
    simulator.vanish(job)
    with pytest.raises(ApiError) as missing:
        mistral.get(job)
    assert missing.value.status == 404
    assert mistral.list({})["data"] == [] and mistral.list({})["total"] == 0
    assert [entry.vanished for entry in simulator.ledger()] == [True]


def test_the_ledger_settles_a_job_nobody_reads_and_reset_forgets_it(world):
    simulator, mistral, _ = world
    mistral.timeouts_next, mistral.timeout_after_fraction = 1, 0.5
    mistral.create(payload(["a", "b"], metadata={"batchrelay_chunk": "c1"}))

    (entry,) = simulator.ledger()

    assert (entry.provider, entry.end_reason, entry.metadata) == ("mistral", "expired", {"batchrelay_chunk": "c1"})
    assert [r.outcome for r in entry.requests] == [SUCCEEDED, EXPIRED]
    simulator.reset()
    assert simulator.ledger() == [] and simulator.extension(PLUGIN).jobs == {}


def test_a_request_runs_with_the_jobs_model(world):
    simulator, mistral, clock = world
    body = {"model": "some-other-model", "messages": [{"role": "user", "content": "x"}]}
    job = mistral.create({**payload([]), "requests": [{"custom_id": "a", "body": body}]})
    clock.now += 100
    mistral.view(mistral.get(job["id"]))
    line = json.loads(simulator.files[mistral.get(job["id"]).output_file].data)
    assert line["response"]["body"]["model"] == "mistral-small-latest"


@pytest.mark.parametrize(("change", "status"), [
    ({"model": None}, 422), ({"endpoint": "/v1/responses"}, 422), ({"timeout_hours": 168}, 422),
    ({"timeout_hours": 0}, 422), ({"metadata": {"a": 1}}, 422), ({"requests": None, "input_files": []}, 422),
])
def test_a_create_mistral_would_refuse_is_refused(world, change, status):
    _, mistral, _ = world
    with pytest.raises(ApiError) as refused:
        mistral.create({**payload(["a"]), **change})
    assert refused.value.status == status
