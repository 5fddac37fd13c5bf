"""Bedrock in tests: request bodies, jobs, the simulator's ledger, and the settings that
point the adapter at the simulator (its record minimum is lowered to keep tests small)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from batchrelay_tools.simulator import SimulatorServer
from tests.support.stored_jobs import submit_job

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
ROLE = "arn:aws:iam::123456789012:role/batchrelay-bedrock"
TEST_MINIMUM = 10
ENDPOINT = "/model/invoke"


def bedrock_body(text: str, *, model: str = MODEL) -> dict[str, Any]:
    """An InvokeModel body of Claude on Bedrock (the Messages format) and the job's model."""
    return {"model": model, "anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}]}


def bedrock_requests(n: int, *, prefix: str = "req", model: str = MODEL) -> list[dict[str, Any]]:
    return [{"custom_id": f"{prefix}-{i:05d}", "body": bedrock_body(f"question {i}", model=model)} for i in range(n)]


def new_bedrock_job(n: int, **overrides: Any):
    return submit_job(bedrock_requests(n), provider="bedrock", endpoint=ENDPOINT, models={MODEL: n}, **overrides)


def simulator_env(server: SimulatorServer, *, minimum: int = TEST_MINIMUM) -> dict[str, str]:
    return {
        "BEDROCK_BASE_URL": server.base_url + "/bedrock",
        "BEDROCK_ROLE_ARN": ROLE,
        "BEDROCK_MIN_REQUESTS_PER_BATCH": str(minimum),
        "BEDROCK_ON_DEMAND_CONCURRENCY": "2",
    }


def ledger(server: SimulatorServer) -> tuple[list, list]:
    """(batch inference jobs, on-demand runs) the simulator billed."""
    entries = [e for e in server.simulator.ledger() if e.provider == "bedrock"]
    runs = [e for e in entries if e.metadata.get("on_demand")]
    return [e for e in entries if not e.metadata.get("on_demand")], runs


def billed(server: SimulatorServer) -> Counter[str]:
    """How many times each request (by body digest) was billed, over every batch and call."""
    counts: Counter[str] = Counter()
    for entry in server.simulator.ledger():
        for request in entry.requests:
            if request.billed:
                counts[request.body_digest] += 1
    return counts
