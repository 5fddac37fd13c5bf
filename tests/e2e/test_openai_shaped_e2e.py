"""End to end on the local stack: jobs on Azure OpenAI, Groq and two OpenAI-compatible servers
configured by name (OPENAI_COMPATIBLE_PROVIDERS, registered by the stack at import), over HTTP
and through the CLI, against the simulator's Azure, Groq and compatible-server paths; each
job's cost at its provider's own discount. And batches on Groq and Azure through the drop-in
OpenAI surface (/openai/v1, the official openai SDK, x-batchrelay-provider)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from batchrelay import constants as c
from tests.e2e.stack_process import RunningStack, start_stack, stop_stack
from tests.e2e.test_local_stack import result_lines, wait_http, write_jsonl
from tests.support.openai_shaped import COMPATIBLE_SERVERS

pytestmark = pytest.mark.e2e

MODELS = {"azure_openai": "gpt-4o-mini", "groq": "llama-3.1-8b-instant", "vllm_lab": "llama-3.1-8b-instruct",
          "acme_batch": "acme-large"}
DISCOUNTS = {"azure_openai": Decimal("0.5"), "groq": Decimal("0.5"), "acme_batch": Decimal("0.4")}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"), OPENAI_COMPATIBLE_PROVIDERS=json.dumps(COMPATIBLE_SERVERS))
    try:
        yield running
    finally:
        assert stop_stack(running) == 0, running.log.read_text()[-4000:]


def lines_for(provider: str, n: int) -> list[dict]:
    return [{"custom_id": f"{provider}-{i}", "body": {"model": MODELS[provider], "max_tokens": 16,
                                                      "messages": [{"role": "user", "content": f"say {i}"}]}}
            for i in range(n)]


def test_jobs_on_each_openai_shaped_provider_run_to_their_results(stack: RunningStack, tmp_path: Path):
    with stack.http() as http:
        # Given the configured servers are known to the stack's API
        enum = http.get("/v1/openapi.json").json()["components"]["schemas"]
        assert any({"vllm_lab", "acme_batch", "azure_openai", "groq"} <= set(
            schema.get("properties", {}).get("provider", {}).get("enum", [])) for schema in enum.values())

        # When a job is submitted on each: Groq's through the CLI, with a 48h window
        jobs = {}
        for provider in ("azure_openai", "vllm_lab", "acme_batch"):
            created = http.post("/v1/jobs", json={"provider": provider, "endpoint": "/v1/chat/completions",
                                                  "chunk_size": 100, "requests": lines_for(provider, 250)})
            assert created.status_code == 202, created.text
            jobs[provider] = created.json()
        groq_file = write_jsonl(tmp_path / "groq.jsonl", lines_for("groq", 250))
        submitted = stack.cli("submit", str(groq_file), "--provider", "groq", "--endpoint", "/v1/chat/completions",
                              "--chunk-size", "100", "--completion-window", "48h", "--json")
        assert submitted.returncode == 0, submitted.stderr
        jobs["groq"] = json.loads(submitted.stdout)
        assert jobs["groq"]["completion_window"] == "48h"
        assert jobs["azure_openai"]["max_batch_age_seconds"] == 86400

        # Then each completes with one answer per request
        for provider, job in jobs.items():
            final = wait_http(http, job["id"], timeout=180)
            assert final["status"] == "completed", (provider, final)
            links = http.get(f"/v1/jobs/{job['id']}/results").json()
            path = tmp_path / f"{provider}.jsonl"
            path.write_bytes(httpx.get(links["results_url"], timeout=60).content)
            lines = result_lines(path)
            assert sorted(line["custom_id"] for line in lines) == sorted(f"{provider}-{i}" for i in range(250))
            assert {line["provider"] for line in lines} == {provider}
            # And its cost is its provider's own batch price
            cost = final["cost"]
            if provider in DISCOUNTS:
                assert Decimal(cost["batch"]) > 0
                # (both rounded to the millionth of a dollar)
                expected = Decimal(cost["synchronous"]) * DISCOUNTS[provider]
                assert abs(Decimal(cost["batch"]) - expected) <= Decimal("0.000001")
            else:
                assert Decimal(cost["batch"]) == Decimal(cost["synchronous"]) == 0

    # And the simulator served them on their own paths: Azure's api-version routes, Groq's
    # /openai/v1, the configured servers' own prefixes; nothing went to OpenAI's routes
    routes = httpx.get(f"{stack.simulator}/_sim/stats", timeout=10).json()["routes"]
    assert routes.get("POST /azure/openai/batches", 0) >= 3
    assert routes.get("POST /groq/openai/v1/batches", 0) >= 3
    assert routes.get("POST /compat/{server}/v1/batches", 0) >= 6
    assert routes.get("POST /v1/batches", 0) == 0


def test_batches_through_the_drop_in_openai_surface_run_on_groq_and_azure(stack: RunningStack):
    # The official SDK, only its base URL and key changed; the provider chosen by header
    before = httpx.get(f"{stack.simulator}/_sim/stats", timeout=10).json()["routes"]
    with openai.OpenAI(base_url=stack.url + c.OPENAI_PREFIX, api_key=stack.api_key,
                       _strict_response_validation=True) as client:
        batches = {}
        for provider, window in (("groq", "48h"), ("azure_openai", "24h")):
            records = [{"custom_id": f"dropin-{provider}-{i}", "method": "POST", "url": "/v1/chat/completions",
                        "body": line["body"]} for i, line in enumerate(lines_for(provider, 30))]
            file = client.files.create(
                file=(f"{provider}.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode()), purpose="batch")
            batches[provider] = client.batches.create(
                input_file_id=file.id, endpoint="/v1/chat/completions", completion_window=window,  # type: ignore[arg-type]
                extra_headers={c.PROVIDER_HEADER: provider})
            assert batches[provider].completion_window == window

        for provider, batch in batches.items():
            deadline = time.monotonic() + 180
            while (batch := client.batches.retrieve(batch.id)).status not in ("completed", "failed", "expired",
                                                                                  "cancelled"):
                assert time.monotonic() < deadline, (provider, batch.status)
                time.sleep(0.5)
            # Then it completes, and its output file has one answer per request, in OpenAI's format
            assert batch.status == "completed", (provider, batch)
            assert batch.request_counts.completed == batch.request_counts.total == 30
            output = [json.loads(line) for line in client.files.content(batch.output_file_id).content.splitlines()
                      if line.strip()]
            assert sorted(line["custom_id"] for line in output) == sorted(
                f"dropin-{provider}-{i}" for i in range(30))
            assert all(line["response"]["status_code"] == 200 for line in output)
            assert {line["response"]["body"]["object"] for line in output} == {"chat.completion"}
            # And underneath it is a job on that provider
            with stack.http() as http:
                job = http.get(f"/v1/jobs/{batch.id}").json()
            assert job["provider"] == provider and job["status"] == "completed"

    # The simulator served Groq's and Azure's own paths
    after = httpx.get(f"{stack.simulator}/_sim/stats", timeout=10).json()["routes"]
    for route in ("POST /groq/openai/v1/batches", "POST /azure/openai/batches"):
        assert after.get(route, 0) > before.get(route, 0), route
