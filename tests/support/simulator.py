"""Helpers shared by the provider integration tests (imported by conftest and the test modules)."""

from __future__ import annotations

import time
from typing import Any

from batchrelay.jsonl import iter_lines
from batchrelay.providers.anthropic_provider import AnthropicProvider
from batchrelay.providers.base import BatchInfo, BatchProvider, ProviderResult
from batchrelay.providers.custom_ids import chunk_id_tag, untagged
from batchrelay.providers.openai_provider import OpenAIProvider
from batchrelay_tools.simulator import SimulatorServer

# The chunk tag the adapter tests write their requests under (as a chunk planned for job_test).
DEFAULT_TAG = chunk_id_tag("job_test", "c00001")


class FakeClock:
    """A settable clock for the simulator: tests move time instead of sleeping."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_openai(server: SimulatorServer, **kwargs: Any) -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-sim", base_url=server.base_url_openai, max_retries=kwargs.pop("max_retries", 2),
                          **kwargs)


def make_anthropic(server: SimulatorServer, **kwargs: Any) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-ant-sim", base_url=server.base_url_anthropic,
                             max_retries=kwargs.pop("max_retries", 2), **kwargs)


def chat_body(user_id: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say hi to {user_id}"}]}


def message_body(user_id: str) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": f"Hi {user_id}"}]}


def wait_until_ended(provider: BatchProvider, batch_id: str, timeout: float = 10.0) -> BatchInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = provider.retrieve_batch(batch_id)
        if info.state == "ended":
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {info.provider_status} after {timeout}s")
        time.sleep(0.05)


def collect(provider: BatchProvider, info: BatchInfo) -> dict[str, ProviderResult]:
    """Every result line of an ended batch, keyed by the id without its chunk tag (lines split
    on \\n only); every line carries the one tag the batch's requests were written with."""
    results: dict[str, ProviderResult] = {}
    for raw in provider.raw_result_files(info):
        for line in iter_lines(raw.blocks):
            result = provider.parse_result_line(raw.name, line)
            key = untagged(result.custom_id)
            assert key not in results, f"duplicate result for {result.custom_id}"
            results[key] = result
    return results


def raw_bytes(provider: BatchProvider, info: BatchInfo) -> dict[str, bytes]:
    return {raw.name: b"".join(raw.blocks) for raw in provider.raw_result_files(info)}
