"""The provider registry: what each provider is, in one entry per provider.

Adding a provider means one adapter module (``providers/<name>_provider.py``, the
``BatchProvider`` contract in ``providers/base.py``), its simulator module and price rows
(``results/prices.json``), and one ``register(ProviderSpec(...))`` call below. Everything
else reads this registry: the API's validation and OpenAPI enum, batch limits and their
settings, the CDK stack's secrets and environment, local mode's simulator routing, the
CLI's ``--provider`` choices and the README's provider table (a test keeps it in sync).

This module is data only: it imports no provider SDK (the API function never loads one),
and names each adapter by its import path; ``providers.adapters.get_provider`` builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# A rule a request body must pass for one provider: returns (field under body, message)
# when the body breaks it, None when it passes. ``endpoint`` is the job's endpoint.
BodyRule = Callable[[dict[str, Any], str], tuple[str, str] | None]


@dataclass(frozen=True)
class ProviderLimits:
    """Per batch: at most ``max_requests`` requests and ``max_bytes`` of request lines.
    ``list_page_size``: the most batches one list call returns (the poller's sweep pages)."""

    max_requests: int
    max_bytes: int
    list_page_size: int = 100


@dataclass(frozen=True)
class Capabilities:
    """What recovery, polling and planning can rely on for a provider."""

    batch_metadata: bool        # batches carry our metadata (an interrupted create is found by it)
    progress_counts: bool       # request counts move while a batch runs (adaptive polling)
    webhook_push: bool          # the provider pushes batch events (a fast path beside polling)
    one_model_per_batch: bool   # every request of a batch names the same model
    input_files: bool           # the provider keeps input/output files we must delete


@dataclass(frozen=True)
class ProviderSpec:
    name: str                   # the `provider` of a job: lowercase, [a-z0-9_]
    title: str                  # for people: "OpenAI"
    adapter: str                # "package.module:Class" of its BatchProvider
    endpoints: tuple[str, ...]  # the batch endpoints a job may name
    limits: ProviderLimits      # defaults; settings override them per deployment
    capabilities: Capabilities
    body_rules: tuple[BodyRule, ...] = ()
    # The shape of its request bodies and results: "openai" (OpenAI's batch lines: Azure OpenAI,
    # Groq and OpenAI-compatible servers too) or "anthropic" (Message Batches params: Bedrock's
    # Claude models too). The drop-in surface of that format may run batches on it (chosen by
    # the x-batchrelay-provider header); "" for none.
    request_format: str = ""
    needs_api_key: bool = True  # False for providers reached with the stack's IAM role
    simulator_path: str = ""    # where the SDK's base URL points on the local simulator
    recovery: str = ""          # how a batch of an interrupted create is found and proven ours
    docs: str = ""              # one line for the README's provider table
    # provider_status words of a batch accepted but not started yet (queued at the provider):
    # the job view shows how long the oldest such batch has waited.
    pending_statuses: tuple[str, ...] = ()

    @property
    def env_prefix(self) -> str:
        return self.name.upper()

    # Environment variables of this provider (functions, local mode, tests).
    @property
    def api_key_env(self) -> str:
        return f"{self.env_prefix}_API_KEY"

    @property
    def secret_arn_env(self) -> str:
        return f"{self.env_prefix}_SECRET_ARN"

    @property
    def base_url_env(self) -> str:
        return f"{self.env_prefix}_BASE_URL"

    @property
    def max_requests_env(self) -> str:
        return f"{self.env_prefix}_MAX_REQUESTS_PER_BATCH"

    @property
    def max_bytes_env(self) -> str:
        return f"{self.env_prefix}_MAX_BYTES_PER_BATCH"


_SPECS: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    if spec.name in _SPECS:
        raise ValueError(f"provider {spec.name!r} is registered already")
    if not spec.name or not spec.name.replace("_", "").isalnum() or spec.name != spec.name.lower():
        raise ValueError(f"provider name {spec.name!r} must be lowercase letters, digits and _")
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Forget a provider (tests that register a toy provider)."""
    _SPECS.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_SPECS)


def specs() -> Iterator[ProviderSpec]:
    return iter(tuple(_SPECS.values()))


class UnknownProvider(ValueError):
    pass


def with_request_format(request_format: str) -> tuple[str, ...]:
    """The providers whose requests and results have ``request_format`` (a drop-in surface's choices)."""
    return tuple(s.name for s in _SPECS.values() if s.request_format == request_format)


def spec(name: str) -> ProviderSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise UnknownProvider(f"unknown provider {name!r}; registered: {list(_SPECS)}") from None


# --- rules shared by several providers ---------------------------------------------------

CHAT_ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/messages"})


def messages_list(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    if endpoint in CHAT_ENDPOINTS and not isinstance(body.get("messages"), list):
        return "messages", "body.messages must be a list"
    return None


def integer_max_tokens(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    value = body.get("max_tokens")
    if not isinstance(value, int) or isinstance(value, bool):
        return "max_tokens", "body.max_tokens must be an integer for this provider"
    return None


# --- the built-in providers --------------------------------------------------------------

register(
    ProviderSpec(
        name="openai",
        title="OpenAI",
        adapter="batchrelay.providers.openai_provider:OpenAIProvider",
        endpoints=(
            "/v1/chat/completions",
            "/v1/embeddings",
            "/v1/responses",
            "/v1/completions",
            "/v1/moderations",
        ),
        limits=ProviderLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024),
        capabilities=Capabilities(
            batch_metadata=True, progress_counts=True, webhook_push=True, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(messages_list,),
        request_format="openai",
        simulator_path="/v1",
        recovery="its metadata (job, chunk)",
        docs="Files + Batches API; 24 h window; batch metadata; signed webhooks as a fast path",
    )
)
register(
    ProviderSpec(
        name="anthropic",
        title="Anthropic",
        adapter="batchrelay.providers.anthropic_provider:AnthropicProvider",
        endpoints=("/v1/messages",),
        limits=ProviderLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024, list_page_size=1000),
        capabilities=Capabilities(
            batch_metadata=False, progress_counts=False, webhook_push=False, one_model_per_batch=False,
            input_files=False,
        ),
        body_rules=(messages_list, integer_max_tokens),
        request_format="anthropic",
        simulator_path="",
        recovery="creation time and size",
        docs="Message Batches API; 24 h window; custom_id mapped to ^[a-zA-Z0-9_-]{1,64}$",
    )
)


def gemini_request_shape(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    """A GenerateContentRequest has ``contents``, an EmbedContentRequest ``content``."""
    if endpoint == "generateContent" and not isinstance(body.get("contents"), list):
        return "contents", "body.contents must be a list of Content objects"
    if endpoint == "embedContent" and not isinstance(body.get("content"), dict):
        return "content", "body.content must be a Content object"
    return None


register(
    ProviderSpec(
        name="gemini",
        title="Gemini",
        adapter="batchrelay.providers.gemini_provider:GeminiProvider",
        # The Gemini API's methods a batch runs: models.generateContent, models.embedContent.
        endpoints=("generateContent", "embedContent"),
        # Google takes files up to 2 GB; a chunk is downloaded to the submitter's /tmp (512 MB)
        # before it is uploaded, so the default stays well below both.
        limits=ProviderLimits(max_requests=100_000, max_bytes=200 * 1024 * 1024),
        capabilities=Capabilities(
            # batch_metadata: the display name carries the job and chunk (batchrelay/<job>/<chunk>/<seq>).
            batch_metadata=True, progress_counts=True, webhook_push=False, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(gemini_request_shape,),
        simulator_path="/gemini",
        recovery="its display name (job, chunk)",
        docs="Gemini Developer API Batch API (google-genai); file input, inline for small chunks; 48 h window; "
             "model per batch in the create call",
        pending_statuses=("JOB_STATE_QUEUED", "JOB_STATE_PENDING"),
    )
)
