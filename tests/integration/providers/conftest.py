"""Fixtures: a provider simulator on loopback and both adapters pointed at it through the real SDKs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from batchrelay.providers.anthropic_provider import AnthropicProvider
from batchrelay.providers.base import BatchProvider
from batchrelay.providers.openai_provider import OpenAIProvider
from batchrelay_tools.simulator import SimulatorServer, SimulatorSettings
from tests.support.simulator import DEFAULT_TAG, FakeClock, chat_body, make_anthropic, make_openai, message_body


@pytest.fixture
def sim() -> Iterable[SimulatorServer]:
    with SimulatorServer(SimulatorSettings(processing_seconds=0.2)) as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked_sim(clock: FakeClock) -> Iterable[SimulatorServer]:
    with SimulatorServer(SimulatorSettings(processing_seconds=100.0), clock=clock) as server:
        yield server


@pytest.fixture
def openai_provider(sim: SimulatorServer) -> OpenAIProvider:
    return make_openai(sim)


@pytest.fixture
def anthropic_provider(sim: SimulatorServer) -> AnthropicProvider:
    return make_anthropic(sim)


@pytest.fixture
def write_requests(tmp_path: Path) -> Callable[..., tuple[str, dict[str, str]]]:
    """Write a chunk file the way the submitter would; returns (path, provider id -> user id)."""
    counter = iter(range(10_000))

    def write(
        provider: BatchProvider, custom_ids: list[str], endpoint: str | None = None, *, tag: str = DEFAULT_TAG
    ) -> tuple[str, dict[str, str]]:
        endpoint = endpoint or ("/v1/messages" if provider.name == "anthropic" else "/v1/chat/completions")
        path = tmp_path / f"chunk-{next(counter)}.jsonl"
        mapping: dict[str, str] = {}
        with path.open("w", encoding="utf-8") as handle:
            for custom_id in custom_ids:
                provider_id = provider.provider_custom_id(custom_id, tag)
                mapping[provider_id] = custom_id
                body = message_body(custom_id) if provider.name == "anthropic" else chat_body(custom_id)
                if endpoint == "/v1/embeddings":
                    body = {"model": "text-embedding-3-small", "input": f"text {custom_id}"}
                handle.write(json.dumps(provider.request_line(provider_id, body, endpoint)) + "\n")
        return str(path), mapping

    return write
