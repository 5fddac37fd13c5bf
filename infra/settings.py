"""Deployment settings, read from CDK context in one place.

Defaults come from ``batchrelay.constants``; ``cdk.json`` repeats them so that they are
visible and editable, and ``cdk deploy -c key=value`` overrides any of them (values from
the command line arrive as strings, hence the parsing helpers).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import aws_logs as logs
from constructs import Construct

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.registry import ProviderLimits
from batchrelay.webhooks.ssrf import parse_destination
from infra import REPO_ROOT

SKIP_BUNDLING_ENV = "BATCHRELAY_SKIP_BUNDLING"
# Lambda allows 4 KB of environment per function: the configured servers' JSON must leave room.
MAX_COMPATIBLE_PROVIDERS_JSON = 2048
# Per-provider context keys passed on as the provider's variables when given:
# <provider>_base_url -> <PROVIDER>_BASE_URL, and so on (registry.ProviderSpec names them).
PROVIDER_OPTIONS = ("base_url", "api_version", "max_batch_age_seconds")
# What Lambda accepts as an SQS event source mapping's MaximumConcurrency.
MIN_MAX_CONCURRENCY = 2
MAX_MAX_CONCURRENCY = 1000

# CloudWatch Logs accepts only these retention periods.
_LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


@dataclass(frozen=True)
class StackSettings:
    stack_name: str = c.SERVICE_NAME
    stage_name: str = "prod"
    poll_rate_minutes: int = 1
    retention_days: int = c.DEFAULT_RETENTION_DAYS
    log_retention_days: int = 30
    log_level: str = "INFO"
    default_chunk_size: int = c.DEFAULT_CHUNK_SIZE
    default_max_attempts: int = c.DEFAULT_MAX_ATTEMPTS
    presign_expiry_seconds: int = c.DEFAULT_PRESIGN_EXPIRY_SECONDS
    # Per registered provider; context keys <provider>_max_requests_per_batch / _max_bytes_per_batch
    # / _min_requests_per_batch.
    provider_limits: dict[str, ProviderLimits] = field(
        default_factory=lambda: {spec.name: spec.limits for spec in registry.specs()}
    )
    # Per registered provider, the models a job may name (context <provider>_allowed_models); () = any.
    provider_allowed_models: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Amazon Bedrock: the jobs' timeout, and whether records below its per-job minimum that
    # nothing else can join run on demand (InvokeModel, synchronous price) or end errored.
    bedrock_timeout_hours: int = c.DEFAULT_BEDROCK_TIMEOUT_HOURS
    bedrock_on_demand: bool = True
    bedrock_on_demand_concurrency: int = c.DEFAULT_BEDROCK_ON_DEMAND_CONCURRENCY
    # Per registered provider, the options given (PROVIDER_OPTIONS): {"azure_openai": {"base_url": ...}}.
    provider_options: dict[str, dict[str, str]] = field(default_factory=dict)
    # OpenAI-compatible batch servers by name (registry.compatible_spec's settings); registered
    # when the settings are read, and given to every function as OPENAI_COMPATIBLE_PROVIDERS.
    openai_compatible_providers: tuple[dict[str, Any], ...] = ()
    deletion_protection: bool = True
    api_throttle_rate_limit: int = 50
    api_throttle_burst_limit: int = 100
    api_quota_per_day: int = 0  # 0: no daily quota
    upload_cors_origins: tuple[str, ...] = ("*",)
    # SQS MaximumConcurrency of each queue's event source mapping: at most this many
    # concurrent invocations of its consumer, for all tenants together (Lambda: 2-1000).
    jobs_max_concurrency: int = 5
    collect_max_concurrency: int = 10
    webhooks_max_concurrency: int = 20
    # Webhook destinations allowed besides https on port 443: "host:port" or "*:port".
    webhook_allowed_destinations: tuple[str, ...] = ()
    bundle: bool = True

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _LOG_RETENTION[self.log_retention_days]

    def max_concurrency(self, queue_name: str) -> int:
        return {
            c.JOBS_QUEUE: self.jobs_max_concurrency,
            c.COLLECT_QUEUE: self.collect_max_concurrency,
            c.WEBHOOKS_QUEUE: self.webhooks_max_concurrency,
        }[queue_name]

    def __post_init__(self) -> None:
        if self.log_retention_days not in _LOG_RETENTION:
            raise ValueError(f"log_retention_days must be one of {sorted(_LOG_RETENTION)}")
        if self.poll_rate_minutes < 1:
            raise ValueError("poll_rate_minutes must be at least 1")
        if self.retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        for queue_name in c.QUEUE_CONSUMERS:
            if not MIN_MAX_CONCURRENCY <= self.max_concurrency(queue_name) <= MAX_MAX_CONCURRENCY:
                raise ValueError(
                    f"{queue_name}_max_concurrency must be between {MIN_MAX_CONCURRENCY} and {MAX_MAX_CONCURRENCY}"
                )
        for entry in self.webhook_allowed_destinations:
            parse_destination(entry)  # raises ValueError naming the entry
        if not 24 <= self.bedrock_timeout_hours <= 168:
            raise ValueError("bedrock_timeout_hours must be between 24 and 168 (Bedrock's bounds)")
        for name, limits in self.provider_limits.items():
            if not 1 <= limits.min_requests <= limits.max_requests:
                raise ValueError(f"{name}_min_requests_per_batch must be between 1 and {name}_max_requests_per_batch")
        if len(self.compatible_providers_json) > MAX_COMPATIBLE_PROVIDERS_JSON:
            raise ValueError(
                f"openai_compatible_providers is {len(self.compatible_providers_json)} bytes of JSON; Lambda's 4 KB "
                f"of environment allows {MAX_COMPATIBLE_PROVIDERS_JSON}: put their price rows in a prices file "
                "(a section per provider) instead"
            )

    def allowed_models(self, provider: str) -> tuple[str, ...]:
        return self.provider_allowed_models.get(provider, ())

    @property
    def compatible_providers_json(self) -> str:
        if not self.openai_compatible_providers:
            return ""
        return json.dumps(list(self.openai_compatible_providers), separators=(",", ":"), sort_keys=True)

    def provider_environment(self, spec: registry.ProviderSpec) -> dict[str, str]:
        """The provider's variables for the options given in context."""
        names = {"base_url": spec.base_url_env, "api_version": spec.api_version_env,
                 "max_batch_age_seconds": spec.max_batch_age_env}
        return {names[key]: value for key, value in self.provider_options.get(spec.name, {}).items()}

    @classmethod
    def from_context(cls, scope: Construct) -> StackSettings:
        def get(key: str) -> Any:
            return scope.node.try_get_context(key)

        # Configured servers first: every per-provider setting below reads the registry.
        compatible = _json_list(get("openai_compatible_providers"))
        registry.register_openai_compatible(compatible)
        defaults = cls()
        skip_bundling = os.environ.get(SKIP_BUNDLING_ENV, "").strip().lower() in ("1", "true", "yes")
        return cls(
            stack_name=_str(get("stack_name"), defaults.stack_name),
            stage_name=_str(get("stage_name"), defaults.stage_name),
            poll_rate_minutes=_int(get("poll_rate_minutes"), defaults.poll_rate_minutes),
            retention_days=_int(get("retention_days"), defaults.retention_days),
            log_retention_days=_int(get("log_retention_days"), defaults.log_retention_days),
            log_level=_str(get("log_level"), defaults.log_level).upper(),
            default_chunk_size=_int(get("default_chunk_size"), defaults.default_chunk_size),
            default_max_attempts=_int(get("default_max_attempts"), defaults.default_max_attempts),
            presign_expiry_seconds=_int(get("presign_expiry_seconds"), defaults.presign_expiry_seconds),
            provider_limits={
                spec.name: ProviderLimits(
                    max_requests=_int(get(f"{spec.name}_max_requests_per_batch"), spec.limits.max_requests),
                    max_bytes=_int(get(f"{spec.name}_max_bytes_per_batch"), spec.limits.max_bytes),
                    min_requests=_int(get(f"{spec.name}_min_requests_per_batch"), spec.limits.min_requests),
                )
                for spec in registry.specs()
            },
            provider_allowed_models={
                spec.name: _str_tuple(get(f"{spec.name}_allowed_models"), ()) for spec in registry.specs()
            },
            bedrock_timeout_hours=_int(get("bedrock_timeout_hours"), defaults.bedrock_timeout_hours),
            bedrock_on_demand=_bool(get("bedrock_on_demand"), defaults.bedrock_on_demand),
            bedrock_on_demand_concurrency=_int(
                get("bedrock_on_demand_concurrency"), defaults.bedrock_on_demand_concurrency
            ),
            provider_options={
                spec.name: options
                for spec in registry.specs()
                if (options := {key: str(get(f"{spec.name}_{key}")) for key in PROVIDER_OPTIONS
                                if get(f"{spec.name}_{key}") not in (None, "")})
            },
            openai_compatible_providers=tuple(compatible),
            deletion_protection=_bool(get("deletion_protection"), defaults.deletion_protection),
            api_throttle_rate_limit=_int(get("api_throttle_rate_limit"), defaults.api_throttle_rate_limit),
            api_throttle_burst_limit=_int(get("api_throttle_burst_limit"), defaults.api_throttle_burst_limit),
            api_quota_per_day=_int(get("api_quota_per_day"), defaults.api_quota_per_day),
            upload_cors_origins=_str_tuple(get("upload_cors_origins"), defaults.upload_cors_origins),
            jobs_max_concurrency=_int(get("jobs_max_concurrency"), defaults.jobs_max_concurrency),
            collect_max_concurrency=_int(get("collect_max_concurrency"), defaults.collect_max_concurrency),
            webhooks_max_concurrency=_int(get("webhooks_max_concurrency"), defaults.webhooks_max_concurrency),
            webhook_allowed_destinations=_str_tuple(
                get("webhook_allowed_destinations"), defaults.webhook_allowed_destinations
            ),
            bundle=_bool(get("bundle"), defaults.bundle) and not skip_bundling,
        )


def read_cdk_json_context(path: Path = REPO_ROOT / "cdk.json") -> dict[str, Any]:
    """The ``context`` of cdk.json, for ``python app.py`` runs (the CDK CLI passes it itself)."""
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def _str(value: Any, default: str) -> str:
    return default if value in (None, "") else str(value)


def _int(value: Any, default: int) -> int:
    return default if value in (None, "") else int(value)


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _json_list(value: Any) -> list[dict[str, Any]]:
    """A list from context: as cdk.json holds it, or as JSON text from ``-c key='[...]'``."""
    if value in (None, ""):
        return []
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, list):
        raise ValueError("openai_compatible_providers must be a list of provider settings")
    return [dict(item) for item in parsed]


def _str_tuple(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None or value == "":
        return default
    if isinstance(value, str):  # "-c upload_cors_origins=https://a.example,https://b.example"
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(part) for part in value)
