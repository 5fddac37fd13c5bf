"""OpenAI-shaped providers in tests: two configured OpenAI-compatible servers, and the
adapters pointed at the simulator (Azure OpenAI on each of its three address forms, Groq,
the configured servers), through the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from batchrelay import registry
from batchrelay.providers.openai_shaped import AzureOpenAIProvider, GroqProvider, OpenAICompatibleProvider
from batchrelay_tools.caches import reset_container_caches
from batchrelay_tools.simulator import SimulatorServer

# Two servers configured at once, different in what matters: one keeps no batch metadata and
# never expires a batch (recovery by the chunk tag; the maximum age ends its batches), the other
# offers windows up to 72h and prices at its own discount.
COMPATIBLE_SERVERS: list[dict[str, Any]] = [
    {
        "name": "vllm_lab",
        "title": "vLLM (lab)",
        "base_url": "http://vllm.lab.internal:8000/v1",
        "endpoints": ["/v1/chat/completions", "/v1/embeddings"],
        "max_requests": 1000,
        "max_bytes": 10 * 1024 * 1024,
        "batch_metadata": False,
        "max_batch_age_seconds": 7200,
        "prices": {"batch_discount": 0.0, "source": "self-hosted: no per-token price",
                   "models": {"llama-3.1-8b-instruct": {"input": 0.0, "output": 0.0}}},
    },
    {
        "name": "acme_batch",
        "title": "Acme Batch",
        "base_url": "https://api.acme.example/v1",
        "max_requests": 20_000,
        "completion_windows": {"default": "24h", "shortest": "24h", "longest": "72h"},
        "prices": {"batch_discount": 0.4, "source": "https://acme.example/pricing (test data)",
                   "models": {"acme-large": {"input": 2.0, "output": 6.0}}},
    },
]

AZURE_FORMS = ("resource", "deployment", "v1")


@contextmanager
def compatible_servers(configs: list[dict[str, Any]] = COMPATIBLE_SERVERS) -> Iterator[list[registry.ProviderSpec]]:
    """The servers registered as OPENAI_COMPATIBLE_PROVIDERS would register them, for one test."""
    specs = registry.register_openai_compatible(configs)
    reset_container_caches()
    try:
        yield specs
    finally:
        for spec in specs:
            registry.unregister(spec.name)
        reset_container_caches()


def azure_base_url(server: SimulatorServer, form: str = "resource", deployment: str = "gpt-4o-mini") -> str:
    """Where AZURE_OPENAI_BASE_URL points: the resource endpoint, a deployment URL or the v1 base."""
    resource = server.base_url + registry.spec("azure_openai").simulator_path
    return {"resource": resource, "deployment": f"{resource}/openai/deployments/{deployment}",
            "v1": f"{resource}/openai/v1"}[form]


def make_azure(server: SimulatorServer, form: str = "resource", **kwargs: Any) -> AzureOpenAIProvider:
    return AzureOpenAIProvider(api_key="azure-sim", base_url=azure_base_url(server, form),
                               max_retries=kwargs.pop("max_retries", 2), **kwargs)


def make_groq(server: SimulatorServer, **kwargs: Any) -> GroqProvider:
    return GroqProvider(api_key="gsk-sim", base_url=server.base_url + registry.spec("groq").simulator_path,
                        max_retries=kwargs.pop("max_retries", 2), **kwargs)


def make_compatible(server: SimulatorServer, name: str, **kwargs: Any) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(provider=name, api_key="sk-sim",
                                    base_url=server.base_url + registry.spec(name).simulator_path,
                                    max_retries=kwargs.pop("max_retries", 2), **kwargs)


def simulator_env(server: SimulatorServer, names: list[str]) -> dict[str, str]:
    """The variables local mode sets to route these providers to the simulator."""
    from batchrelay_tools.local.stack import simulator_env as local_env

    env: dict[str, str] = {}
    for name in names:
        env.update(local_env(registry.spec(name), server.base_url))
    return env
