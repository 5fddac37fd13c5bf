"""Another provider's OpenAI-shaped account in the simulator: its own files and batches, the
main simulator's settings, clock, ids, hooks and ledger."""

from __future__ import annotations

import json

import pytest

from batchrelay_tools.simulator import SimulatorSettings, plugins
from batchrelay_tools.simulator.ledger import CANCELLED, SUCCEEDED
from batchrelay_tools.simulator.state import ApiError, BatchPlan, Simulator
from tests.support.simulator import FakeClock


def _lines(ids: list[str], url: str) -> bytes:
    return b"".join(json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": {
        "model": "m", "messages": [{"role": "user", "content": cid}]}}).encode() + b"\n" for cid in ids)


@pytest.fixture
def main() -> tuple[Simulator, FakeClock]:
    clock = FakeClock()
    simulator = Simulator(SimulatorSettings(processing_seconds=100.0), clock=clock)
    counter = iter(range(1, 1000))
    simulator.new_id = lambda prefix: f"{prefix}{next(counter):024d}"
    return simulator, clock


def test_an_azure_account_keeps_its_own_batches_and_shares_the_rest(main):
    simulator, clock = main
    created = []
    simulator.on_created = lambda provider, batch_id, ends_at: created.append((provider, batch_id))
    simulator.batch_planner = lambda provider, total: BatchPlan(expire_after_fraction=0.5)
    azure = simulator.extension(plugins.PLUGINS["azure_openai"])

    source = azure.create_file("in.jsonl", "batch", _lines(["a", "b"], "/chat/completions"))
    batch = azure.create_openai_batch({"input_file_id": source.id, "endpoint": "/chat/completions",
                                       "completion_window": "24h", "metadata": {"k": "v"}})

    # Its ids and hooks are the main simulator's; its files and batches are its own
    assert batch["id"] == "batch_000000000000000000000002" and created == [("azure_openai", batch["id"])]
    assert simulator.files == {} and simulator.openai_batches == {} and batch["id"] in azure.openai_batches
    # Left alone, the half-planned batch never ends: Azure does not expire batches
    clock.now += 10 * 86400
    assert azure.get_openai_batch(batch["id"])["status"] == "in_progress"
    (entry,) = simulator.ledger()
    assert (entry.provider, entry.end_reason, entry.ends_at) == ("azure_openai", "running", float("inf"))
    # Cancelled, it ends with what finished; the ledger bills that half
    azure.cancel_openai_batch(batch["id"])
    assert azure.get_openai_batch(batch["id"])["status"] == "cancelled"
    (entry,) = simulator.ledger()
    assert [r.outcome for r in entry.requests] == [SUCCEEDED, CANCELLED] and entry.end_reason == "cancelled"
    # A reset forgets the accounts too
    simulator.reset()
    assert simulator.extensions == {} and simulator.ledger() == []


def test_groqs_windows_and_azures_file_size(main):
    simulator, _ = main
    groq = simulator.extension(plugins.PLUGINS["groq"])
    source = groq.create_file("in.jsonl", "batch", _lines(["a"], "/v1/chat/completions"))
    for window in ("24h", "48h", "7d"):
        assert groq.create_openai_batch({"input_file_id": source.id, "endpoint": "/v1/chat/completions",
                                         "completion_window": window})["completion_window"] == window
    with pytest.raises(ApiError, match="from 24h to 7d"):
        groq.create_openai_batch({"input_file_id": source.id, "endpoint": "/v1/chat/completions",
                                  "completion_window": "8d"})
    with pytest.raises(ApiError, match="Invalid endpoint"):
        groq.create_openai_batch({"input_file_id": source.id, "endpoint": "/v1/embeddings",
                                  "completion_window": "24h"})
    azure = simulator.extension(plugins.PLUGINS["azure_openai"])
    assert azure.openai_shape.max_requests == 100_000 and not azure.openai_shape.expires
