"""The OpenAI-shaped providers under forced faults (issue 19): the paths random seeds reach
only now and then, each run to its end and checked against every invariant."""

from __future__ import annotations

from tests.simulation.invariants import check
from tests.simulation.scenario import BatchBehaviour, Faults, ForcedCrash, ForcedProviderFault, JobPlan, Scenario
from tests.simulation.verdicts import verdict
from tests.simulation.world import World

AZURE_CREATE = "azure_openai.POST /azure/openai/batches"


def test_azure_an_ambiguous_create_and_batches_that_never_end_until_their_age():
    # Given an Azure job whose first create is made but answered 500, and whose batches all
    # stall part-way (Azure never expires them), with a one-hour maximum batch age
    jobs = (JobPlan("tenant-a", "a1", "azure_openai", 6, 6, 2, submit_at=0.0, max_batch_age_seconds=3600),
            JobPlan("tenant-b", "b1", "azure_openai", 6, 6, 2, submit_at=5.0, max_batch_age_seconds=3600))
    scenario = Scenario(
        seed=3, jobs=jobs, name="azure_stall_and_ambiguous_create", webhooks=False,
        faults=Faults(forced_provider=(ForcedProviderFault(AZURE_CREATE, "status", 500, applied=True),)),
        batches=BatchBehaviour(processing=(600.0, 1200.0), expire=1.0),
    )

    # When the world runs it to the end
    data = World(scenario).run()

    # Then every invariant holds: the ambiguous batch was found and adopted (no second batch
    # while it ran), and the stalled batches were cancelled at their age and their unfinished
    # requests retried, then expired
    verdict(check(data), None)
    chunks = [i for i in data.items if str(i.get("sk", "")).startswith("CHUNK#")]
    assert any(chunk.get("aged_out_at") is not None for chunk in chunks)
    assert {b.provider for b in data.ledger} == {"azure_openai"}


def test_a_configured_server_without_metadata_proves_its_batches_by_the_chunk_tag():
    # Given two tenants' same-size chunks of the same custom_ids on the configured server (no
    # batch metadata), both submitters killed right after the server accepted their batch
    jobs = (JobPlan("tenant-a", "a1", "vllm_sim", 3, 3, 1, submit_at=0.0),
            JobPlan("tenant-b", "b1", "vllm_sim", 3, 3, 1, submit_at=2.0))
    scenario = Scenario(
        seed=5, jobs=jobs, name="compatible_same_size_recovery",
        faults=Faults(forced=(ForcedCrash("submitter#*:vllm_sim.POST /compat/vllm_sim/v1/batches:after", times=2),)),
    )

    # When the world runs it: each retry must tell its own batch from the other tenant's
    data = World(scenario).run()

    # Then no tenant sees the other's answers and nothing is paid twice
    verdict(check(data), None)
    assert {b.provider for b in data.ledger} == {"vllm_sim"} and len(data.ledger) == 2
