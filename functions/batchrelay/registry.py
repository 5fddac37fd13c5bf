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

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from batchrelay.constants.environment import ENV_OPENAI_COMPATIBLE_PROVIDERS

# A rule a request body must pass for one provider: returns (field under body, message)
# when the body breaks it, None when it passes. ``endpoint`` is the job's endpoint.
BodyRule = Callable[[dict[str, Any], str], tuple[str, str] | None]


@dataclass(frozen=True)
class ProviderLimits:
    """Per batch: at most ``max_requests`` requests and ``max_bytes`` of request lines, and at
    least ``min_requests`` requests (Bedrock refuses a job below its per-model minimum: see
    lifecycle/small_chunks.py for what becomes of fewer). ``list_page_size``: the most
    batches one list call returns (the poller's sweep pages)."""

    max_requests: int
    max_bytes: int
    min_requests: int = 1
    list_page_size: int = 100


@dataclass(frozen=True)
class Capabilities:
    """What recovery, polling and planning can rely on for a provider."""

    batch_metadata: bool        # batches carry our metadata (an interrupted create is found by it)
    progress_counts: bool       # request counts move while a batch runs (adaptive polling)
    webhook_push: bool          # the provider pushes batch events (a fast path beside polling)
    one_model_per_batch: bool   # every request of a batch names the same model
    input_files: bool           # the provider keeps input/output files we must delete


_DURATION = re.compile(r"^([1-9][0-9]{0,3})([hd])$")


def window_seconds(window: str) -> int:
    """Seconds of a completion window written as OpenAI writes it: "24h", "7d"."""
    match = _DURATION.match(window) if isinstance(window, str) else None
    if match is None:
        raise ValueError(f"a completion window is hours or days, like '24h' or '7d'; not {window!r}")
    return int(match.group(1)) * (3600 if match.group(2) == "h" else 86400)


@dataclass(frozen=True)
class CompletionWindows:
    """The completion windows a provider's batches accept (a job setting): any duration from
    ``shortest`` to ``longest``, written "24h" / "7d"; ``default`` when the job names none."""

    default: str = "24h"
    shortest: str = "24h"
    longest: str = "24h"

    def __post_init__(self) -> None:
        if not window_seconds(self.shortest) <= window_seconds(self.default) <= window_seconds(self.longest):
            raise ValueError(f"completion windows: {self.shortest} <= {self.default} <= {self.longest} does not hold")

    def accepts(self, window: str) -> bool:
        try:
            seconds = window_seconds(window)
        except ValueError:
            return False
        return window_seconds(self.shortest) <= seconds <= window_seconds(self.longest)

    def describe(self) -> str:
        return self.default if self.shortest == self.longest else f"{self.shortest} to {self.longest}"


@dataclass(frozen=True)
class HoursSetting:
    """A provider's limit on how long a batch may run, which a job may set (``timeout_hours``)."""

    default: int
    minimum: int
    maximum: int


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
    # OpenAI-shaped providers: the completion windows a job may choose (None: the provider's
    # one fixed window; the job may not name one).
    completion_windows: CompletionWindows | None = None
    # Providers that never expire a batch themselves (Azure OpenAI): after this many seconds a
    # running batch is cancelled and handled like an expired one. None: the provider expires them.
    max_batch_age_seconds: int | None = None
    base_url: str = ""          # the API's address where the SDK has no default (settings override it)
    needs_base_url: bool = False  # no address without configuration (Azure: the resource's endpoint)
    # A prices.json-shaped section ({"batch_discount", "source", "models"}) for providers
    # configured at deploy time; the prices file's own section wins where it has one.
    prices: Mapping[str, Any] | None = field(default=None, hash=False)
    timeout_hours: HoursSetting | None = None  # a job's `timeout_hours`, where the provider takes one
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

    @property
    def min_requests_env(self) -> str:
        return f"{self.env_prefix}_MIN_REQUESTS_PER_BATCH"

    @property
    def allowed_models_env(self) -> str:
        """The models a job may name, comma-separated (unset: any)."""
        return f"{self.env_prefix}_ALLOWED_MODELS"

    @property
    def max_batch_age_env(self) -> str:
        return f"{self.env_prefix}_MAX_BATCH_AGE_SECONDS"

    @property
    def api_version_env(self) -> str:
        return f"{self.env_prefix}_API_VERSION"


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
        recovery="the chunk tag in its results (candidates by creation time and size)",
        docs="Message Batches API; 24 h window; custom_id mapped to ^[a-zA-Z0-9_-]{1,64}$",
    )
)


# --- Amazon Bedrock (IAM, no API key) ----------------------------------------------------

BEDROCK_INVOKE_ENDPOINT = "/model/invoke"


def _bedrock_anthropic_body(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    """Anthropic models on Bedrock take the Messages format with ``anthropic_version``."""
    if "anthropic." not in str(body.get("model")):
        return None
    if not isinstance(body.get("anthropic_version"), str):
        return "anthropic_version", ('body.anthropic_version must be a string ("bedrock-2023-05-31") '
                                     "for Anthropic models")
    return messages_list(body, "/v1/messages") or integer_max_tokens(body, endpoint)


register(
    ProviderSpec(
        name="bedrock",
        title="Amazon Bedrock",
        adapter="batchrelay.providers.bedrock_provider:BedrockProvider",
        endpoints=(BEDROCK_INVOKE_ENDPOINT,),
        # Bedrock's default per-model quotas (check your account's: Service Quotas, Amazon
        # Bedrock): 50,000 records per job and per input file, 1 GB per input file (one chunk is
        # one file), at least 100 records per job. ListModelInvocationJobs pages up to 1,000.
        limits=ProviderLimits(max_requests=50_000, max_bytes=1024 * 1024 * 1024, min_requests=100,
                              list_page_size=1000),
        capabilities=Capabilities(
            batch_metadata=True, progress_counts=False, webhook_push=True, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(_bedrock_anthropic_body,),
        needs_api_key=False,
        simulator_path="/bedrock",
        recovery="its job name and clientRequestToken (job, chunk, batch number)",
        docs="CreateModelInvocationJob, S3 in and out, IAM role; EventBridge events as a fast path; "
             "below the per-job record minimum: gathered, else on-demand InvokeModel",
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


# --- OpenAI-shaped providers: OpenAI's Files + Batches API at another address -----------------
# One adapter family (providers/openai_shaped.py, built on the OpenAI adapter); each entry
# says what differs: address, limits, endpoints, completion windows, expiry, prices.

OPENAI_SHAPED_ADAPTER = "batchrelay.providers.openai_shaped:OpenAICompatibleProvider"
AZURE_MAX_BATCH_AGE_SECONDS = 24 * 3600

register(
    ProviderSpec(
        name="azure_openai",
        title="Azure OpenAI",
        adapter="batchrelay.providers.openai_shaped:AzureOpenAIProvider",
        endpoints=("/v1/chat/completions", "/v1/embeddings", "/v1/responses"),
        limits=ProviderLimits(max_requests=100_000, max_bytes=200 * 1024 * 1024),
        capabilities=Capabilities(
            # One global/data-zone batch deployment per file: body.model is the deployment name.
            batch_metadata=True, progress_counts=True, webhook_push=False, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(messages_list,),
        request_format="openai",
        simulator_path="/azure",
        recovery="its metadata (job, chunk)",
        docs=("Files + Batches API of a global or data-zone batch deployment (body.model is the deployment name); "
              "AZURE_OPENAI_BASE_URL is the resource endpoint, a deployment URL or the resource's /openai/v1; "
              "never expires a batch: one running past the job's max_batch_age_seconds (default 24 h) is "
              "cancelled and handled as expired; token_limit_exceeded holds the chunk"),
        max_batch_age_seconds=AZURE_MAX_BATCH_AGE_SECONDS,
        needs_base_url=True,
    )
)
register(
    ProviderSpec(
        name="groq",
        title="Groq",
        adapter="batchrelay.providers.openai_shaped:GroqProvider",
        endpoints=("/v1/chat/completions",),
        # Groq's API reference: input files up to 100 MB; its batch guide: up to 50,000 lines.
        limits=ProviderLimits(max_requests=50_000, max_bytes=100 * 1024 * 1024),
        capabilities=Capabilities(
            batch_metadata=True, progress_counts=True, webhook_push=False, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(messages_list,),
        request_format="openai",
        simulator_path="/groq/openai/v1",
        recovery="its metadata (job, chunk)",
        docs=("OpenAI's Files + Batches API at Groq's /openai/v1; completion_window 24h to 7d (a job setting); "
              "its list of batches is one unpaged answer"),
        completion_windows=CompletionWindows(default="24h", shortest="24h", longest="7d"),
        base_url="https://api.groq.com/openai/v1",
    )
)


# --- Mistral ----------------------------------------------------------------------------------

# The batch endpoints of mistralai's APIEndpoint enum, each with the field its request model
# (mistralai.client.models: ChatCompletionRequest, EmbeddingRequest, ...) requires besides
# model, and what that field must be. Audio files cannot ride in a batch line: a transcription
# names its file by file_url or file_id.
_MISTRAL_REQUIRED: dict[str, tuple[tuple[str, ...], tuple[type, ...], str]] = {
    "/v1/chat/completions": (("messages",), (list,), "a list of messages"),
    "/v1/embeddings": (("input",), (str, list), "a string or a list of strings"),
    "/v1/fim/completions": (("prompt",), (str,), "a string"),
    "/v1/moderations": (("input",), (str, list), "a string or a list of strings"),
    "/v1/chat/moderations": (("input",), (list,), "a list of messages (or of conversations)"),
    "/v1/ocr": (("document",), (dict,), "an object (document_url, image_url or file_id)"),
    "/v1/classifications": (("input",), (str, list), "a string or a list of strings"),
    "/v1/chat/classifications": (("input",), (dict, list), "an object or a list"),
    "/v1/conversations": (("inputs",), (str, list), "a string or a list of entries"),
    "/v1/audio/transcriptions": (("file_url", "file_id"), (str,), "a string (the audio's URL or file id)"),
}
MISTRAL_ENDPOINTS = tuple(_MISTRAL_REQUIRED)


def mistral_body(body: dict[str, Any], endpoint: str) -> tuple[str, str] | None:
    """The field Mistral's request model for ``endpoint`` requires, of the right type; no streaming."""
    names, types, what = _MISTRAL_REQUIRED.get(endpoint, ((), (), ""))
    if names and not any(isinstance(body.get(name), types) and body.get(name) != [] for name in names):
        return names[0], f"body.{' or body.'.join(names)} must be {what} for {endpoint}"
    if body.get("stream") not in (None, False):
        return "stream", "body.stream must be false or absent: a batch does not stream"
    return None


register(
    ProviderSpec(
        name="mistral",
        title="Mistral",
        adapter="batchrelay.providers.mistral_provider:MistralProvider",
        endpoints=MISTRAL_ENDPOINTS,
        # A job holds at most 1,000,000 requests (the workspace's pending-request limit);
        # a batch input file at most 512 MB (the Files API's limit).
        limits=ProviderLimits(max_requests=1_000_000, max_bytes=512 * 1024 * 1024),
        capabilities=Capabilities(
            batch_metadata=True, progress_counts=True, webhook_push=False, one_model_per_batch=True,
            input_files=True,
        ),
        body_rules=(mistral_body,),
        # Its lines and answers are OpenAI's batch shape ({"custom_id", "body"} in; "response":
        # {"status_code", "body"} out) with Mistral's own bodies: /openai/v1 may run on it.
        request_format="openai",
        simulator_path="/mistral",
        recovery="its metadata (job, chunk)",
        docs="Files + batch jobs (mistralai); the model is the job's, one per batch; timeout_hours per job",
        timeout_hours=HoursSetting(default=24, minimum=1, maximum=167),
    )
)


def compatible_spec(config: Mapping[str, Any]) -> ProviderSpec:
    """The registry entry of one OpenAI-compatible batch server from its configuration.

    ``{"name", "base_url"}`` and optionally ``title``, ``endpoints``, ``max_requests``,
    ``max_bytes``, ``completion_windows`` ({"default", "shortest", "longest"}),
    ``batch_metadata`` (the server keeps batch metadata: recovery by it; else by the chunk tag
    in its results), ``progress_counts``, ``one_model_per_batch``, ``input_files``,
    ``needs_api_key``, ``max_batch_age_seconds`` (for servers that never expire batches),
    ``prices`` (a prices.json section) and ``docs``.
    """
    known = {"name", "title", "base_url", "endpoints", "max_requests", "max_bytes", "completion_windows",
             "batch_metadata", "progress_counts", "one_model_per_batch", "input_files", "needs_api_key",
             "max_batch_age_seconds", "prices", "docs"}
    name = config.get("name")
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"OpenAI-compatible provider {name!r}: unknown settings {unknown}")
    if not isinstance(name, str) or not config.get("base_url"):
        raise ValueError(f"an OpenAI-compatible provider needs a name and a base_url: {dict(config)!r}")
    windows = config.get("completion_windows")
    metadata = bool(config.get("batch_metadata", True))
    age = config.get("max_batch_age_seconds")
    return ProviderSpec(
        name=name,
        title=str(config.get("title") or name),
        adapter=OPENAI_SHAPED_ADAPTER,
        endpoints=tuple(config.get("endpoints") or ("/v1/chat/completions",)),
        limits=ProviderLimits(
            max_requests=int(config.get("max_requests") or 50_000),
            max_bytes=int(config.get("max_bytes") or 200 * 1024 * 1024),
        ),
        capabilities=Capabilities(
            batch_metadata=metadata,
            progress_counts=bool(config.get("progress_counts", True)),
            webhook_push=False,
            one_model_per_batch=bool(config.get("one_model_per_batch", True)),
            input_files=bool(config.get("input_files", True)),
        ),
        body_rules=(messages_list,),
        request_format="openai",
        needs_api_key=bool(config.get("needs_api_key", True)),
        simulator_path=f"/compat/{name}/v1",
        recovery="its metadata (job, chunk)" if metadata else "the chunk tag in its results",
        docs=str(config.get("docs") or f"OpenAI-compatible batch server at {config['base_url']} (configured)"),
        completion_windows=CompletionWindows(**windows) if windows else None,
        max_batch_age_seconds=int(age) if age else None,
        base_url=str(config["base_url"]),
        prices=config.get("prices"),
    )


def register_openai_compatible(configs: str | list[Mapping[str, Any]] | None) -> list[ProviderSpec]:
    """Register the configured OpenAI-compatible servers (a JSON list, or the list itself).

    Every place that reads the registry calls this with the same configuration: the functions
    and local mode at import (``OPENAI_COMPATIBLE_PROVIDERS``), the CDK app from its context
    (``openai_compatible_providers``; the stack passes it on to every function). Registering
    a configuration again is a no-op; another provider under a registered name is refused.
    """
    if not configs:
        return []
    items = json.loads(configs) if isinstance(configs, str) else configs
    if not isinstance(items, list):
        raise ValueError(f"{ENV_OPENAI_COMPATIBLE_PROVIDERS} must be a JSON list of provider settings")
    registered = []
    for config in items:
        candidate = compatible_spec(config)
        existing = _SPECS.get(candidate.name)
        if existing is None:
            registered.append(register(candidate))
        elif existing != candidate:
            raise ValueError(f"provider {candidate.name!r} is registered already with other settings")
    return registered


register_openai_compatible(os.environ.get(ENV_OPENAI_COMPATIBLE_PROVIDERS))
