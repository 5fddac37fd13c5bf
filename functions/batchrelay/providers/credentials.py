"""API keys for the providers.

An environment variable (``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``) wins: local mode and
tests use it. Otherwise the key is read from Secrets Manager by the ARN in
``OPENAI_SECRET_ARN`` / ``ANTHROPIC_SECRET_ARN`` through Powertools, which caches it for
five minutes. The secret may be the bare key or JSON with an ``api_key`` field. Base URLs
are left to the SDKs, which read ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` themselves.
"""

from __future__ import annotations

import json

from batchrelay import registry
from batchrelay.providers.base import ProviderError
from batchrelay.settings import get_settings

SECRET_MAX_AGE_SECONDS = 300


def api_key(provider: str) -> str:
    spec = registry.spec(provider)
    configured = get_settings().provider(provider)
    if configured.api_key:
        return configured.api_key
    if not configured.secret_arn:
        raise ProviderError(
            f"{provider}: no API key: set {spec.api_key_env} or {spec.secret_arn_env}", retryable=False,
            code="missing_credentials",
        )
    arn = configured.secret_arn
    # Imported here: Powertools pulls in boto3, which local tests with env keys don't need.
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    return _key_from_secret(secret if isinstance(secret, str) else secret.decode("utf-8"))


def _key_from_secret(secret: str) -> str:
    text = secret.strip()
    if text.startswith("{"):
        data = json.loads(text)
        for name in ("api_key", "apiKey", "key"):
            if data.get(name):
                return str(data[name])
        raise ProviderError("the provider secret JSON has no api_key field", retryable=False,
                            code="missing_credentials")
    return text
