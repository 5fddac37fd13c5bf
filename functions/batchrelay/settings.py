"""Settings read from the environment once, on first use, validated, and cached.

Importing any module needs no environment; ``get_settings()`` is called where a value is
needed. The CDK stack gives each function the variables it needs (``FUNCTION_ENVIRONMENT``
names them) and ``BATCHRELAY_FUNCTION``; with that set, a missing variable fails the first
use with a message naming it, rather than a confusing error deep in a boto3 call. Tests and
local mode change the environment and reset the caches (``batchrelay_tools.caches``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.registry import ProviderLimits

Seconds = Annotated[int, Field(ge=0)]


class SettingsError(RuntimeError):
    """The environment is missing a variable or holds a value that does not parse."""


class ProviderSettings(BaseModel):
    """One registered provider's limits, credentials and address, as this deployment has them."""

    limits: ProviderLimits
    api_key: str | None = None       # local mode and tests; deployed: the secret below
    secret_arn: str | None = None    # Secrets Manager secret holding the API key
    base_url: str | None = None      # another endpoint (local simulator, a compatible server)


def _provider_settings() -> dict[str, ProviderSettings]:
    env = os.environ
    providers: dict[str, ProviderSettings] = {}
    for spec in registry.specs():
        try:
            limits = ProviderLimits(
                max_requests=int(env.get(spec.max_requests_env) or spec.limits.max_requests),
                max_bytes=int(env.get(spec.max_bytes_env) or spec.limits.max_bytes),
                list_page_size=spec.limits.list_page_size,
            )
        except ValueError as exc:
            raise SettingsError(
                f"{spec.max_requests_env} / {spec.max_bytes_env} must be integers: {exc}"
            ) from exc
        providers[spec.name] = ProviderSettings(
            limits=limits,
            api_key=env.get(spec.api_key_env) or None,
            secret_arn=env.get(spec.secret_arn_env) or None,
            base_url=env.get(spec.base_url_env) or None,
        )
    return providers


class Settings(BaseModel):
    """Read from the variables named by each field's alias (``from_environment``). A plain
    model, not pydantic-settings: that package (with argparse and gettext) cost the API
    function about a quarter of a second of its cold start."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # --- which function this is (set by the stack); decides which variables are required ---
    function: str | None = Field(default=None, validation_alias=c.ENV_FUNCTION)

    # --- resources: each function is given the ones it uses ---
    table_name: str | None = Field(default=None, validation_alias=c.ENV_TABLE_NAME)
    bucket_name: str | None = Field(default=None, validation_alias=c.ENV_BUCKET_NAME)
    jobs_queue_url: str | None = Field(default=None, validation_alias=c.ENV_JOBS_QUEUE_URL)
    collect_queue_url: str | None = Field(default=None, validation_alias=c.ENV_COLLECT_QUEUE_URL)
    webhooks_queue_url: str | None = Field(default=None, validation_alias=c.ENV_WEBHOOKS_QUEUE_URL)
    events_topic_arn: str | None = Field(default=None, validation_alias=c.ENV_EVENTS_TOPIC_ARN)
    openai_webhook_secret: str | None = Field(default=None, validation_alias=c.ENV_OPENAI_WEBHOOK_SECRET)
    openai_webhook_secret_arn: str | None = Field(default=None, validation_alias=c.ENV_OPENAI_WEBHOOK_SECRET_ARN)

    # --- tunables ---
    default_chunk_size: PositiveInt = Field(default=c.DEFAULT_CHUNK_SIZE, validation_alias=c.ENV_DEFAULT_CHUNK_SIZE)
    default_max_attempts: PositiveInt = Field(
        default=c.DEFAULT_MAX_ATTEMPTS, validation_alias=c.ENV_DEFAULT_MAX_ATTEMPTS
    )
    retention_days: PositiveInt = Field(default=c.DEFAULT_RETENTION_DAYS, validation_alias=c.ENV_RETENTION_DAYS)
    presign_expiry_seconds: PositiveInt = Field(
        default=c.DEFAULT_PRESIGN_EXPIRY_SECONDS, validation_alias=c.ENV_PRESIGN_EXPIRY_SECONDS
    )
    webhook_allow_http: bool = Field(default=False, validation_alias=c.ENV_WEBHOOK_ALLOW_HTTP)
    webhook_allow_loopback: bool = Field(default=False, validation_alias=c.ENV_WEBHOOK_ALLOW_LOOPBACK)
    # "host:port" / "*:port" allowed besides https on 443 (see webhooks.ssrf); comma-separated.
    webhook_allowed_destinations: tuple[str, ...] = Field(
        default=(), validation_alias=c.ENV_WEBHOOK_ALLOWED_DESTINATIONS
    )
    secrets_key_id: str | None = Field(default=None, validation_alias=c.ENV_SECRETS_KEY_ID)
    prices_file: str | None = Field(default=None, validation_alias=c.ENV_PRICES_FILE)
    # The shortest wait between two status checks of a batch (deployed: the schedule period).
    poll_min_delay_seconds: PositiveInt = Field(
        default=c.DEFAULT_POLL_MIN_DELAY_SECONDS, validation_alias=c.ENV_POLL_MIN_DELAY_SECONDS
    )
    # How long chunks are held while a provider refuses the API key (401/403) before their
    # requests fail: long enough to fix a key after a deploy or a rotation.
    credentials_max_hold_seconds: PositiveInt = Field(
        default=c.DEFAULT_CREDENTIALS_MAX_HOLD_SECONDS, validation_alias=c.ENV_CREDENTIALS_MAX_HOLD_SECONDS
    )
    creation_lease_seconds: Seconds = Field(
        default=c.DEFAULT_CREATION_LEASE_SECONDS, validation_alias=c.ENV_CREATION_LEASE_SECONDS
    )
    validation_step_bytes: PositiveInt = Field(
        default=c.DEFAULT_VALIDATION_STEP_BYTES, validation_alias=c.ENV_VALIDATION_STEP_BYTES
    )
    validation_step_requests: PositiveInt = Field(
        default=c.DEFAULT_VALIDATION_STEP_REQUESTS, validation_alias=c.ENV_VALIDATION_STEP_REQUESTS
    )

    # --- every registered provider (registry), from its own variables ---
    providers: dict[str, ProviderSettings] = Field(default_factory=_provider_settings)

    @field_validator("webhook_allowed_destinations", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def from_environment(cls) -> Settings:
        """The variables of this process; an empty one counts as unset (CloudFormation
        cannot remove a variable, only empty it)."""
        aliases = {field.validation_alias for field in cls.model_fields.values()}
        return cls.model_validate({name: value for name, value in os.environ.items() if name in aliases and value})

    def provider(self, name: str) -> ProviderSettings:
        try:
            return self.providers[name]
        except KeyError:
            raise registry.UnknownProvider(f"unknown provider {name!r}; registered: {list(self.providers)}") from None

    def provider_limits(self, name: str) -> ProviderLimits:
        return self.provider(name).limits

    def missing_for(self, function: str) -> list[str]:
        """The variables ``function`` needs that the environment does not give.

        Functions that call providers need each provider's key: its secret's ARN, or
        (local mode, tests) the key itself.
        """
        missing = [name for name in c.FUNCTION_ENVIRONMENT.get(function, ()) if not os.environ.get(name)]
        if function in c.PROVIDER_CALLERS:
            for spec in registry.specs():
                provider = self.providers.get(spec.name)
                if spec.needs_api_key and provider and not (provider.api_key or provider.secret_arn):
                    missing.append(spec.secret_arn_env)
        return missing


def _load() -> Settings:
    try:
        settings = Settings.from_environment()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings in the environment: {problems}") from None
    if settings.function:
        missing = settings.missing_for(settings.function)
        if missing:
            raise SettingsError(
                f"the {settings.function} function needs these environment variables, which are not set: "
                f"{', '.join(missing)}"
            )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _load()
