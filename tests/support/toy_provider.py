"""A third provider that exists only in tests: one adapter class and one registry entry.

It shows what the registry promises: registering it is all it takes for the API, the
settings, the stack, local mode and the CLI to know it (tests/integration/providers/
test_provider_plugin.py). Its adapter is the in-memory fake provider under another name.
"""

from __future__ import annotations

from typing import Any

from batchrelay.registry import Capabilities, ProviderLimits, ProviderSpec
from tests.support.fake_provider import FakeProvider


class ToyProvider(FakeProvider):
    def __init__(self) -> None:
        super().__init__("toy")


def prompt_required(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    if not isinstance(body.get("prompt"), str):
        return "prompt", "body.prompt must be a string for the toy provider"
    return None


TOY = ProviderSpec(
    name="toy",
    title="Toy",
    adapter="tests.support.toy_provider:ToyProvider",
    endpoints=("/v1/toy",),
    limits=ProviderLimits(max_requests=10, max_bytes=1_000_000),
    capabilities=Capabilities(
        batch_metadata=True, progress_counts=True, webhook_push=False, one_model_per_batch=False, input_files=False
    ),
    body_rules=(prompt_required,),
    simulator_path="/toy/v1",
    recovery="its metadata",
    docs="a provider that exists only in tests",
)
