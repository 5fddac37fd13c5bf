"""API keys for the providers.

An environment variable (``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``) wins: local mode and
tests use it. Otherwise the key is read from Secrets Manager by the ARN in
``OPENAI_SECRET_ARN`` / ``ANTHROPIC_SECRET_ARN`` through Powertools, which caches it for
five minutes. The secret may be the bare key or JSON with an ``api_key`` field. Base URLs
are left to the SDKs, which read ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` themselves.
"""

from __future__ import annotations

import json
import os

from batchrelay import constants as c
from batchrelay.providers.base import ProviderError

SECRET_MAX_AGE_SECONDS = 300

_ENV = {
    "openai": (c.ENV_OPENAI_API_KEY, c.ENV_OPENAI_SECRET_ARN),
    "anthropic": (c.ENV_ANTHROPIC_API_KEY, c.ENV_ANTHROPIC_SECRET_ARN),
}


def api_key(provider: str) -> str:
    key_env, arn_env = _ENV[provider]
    key = os.environ.get(key_env)
    if key:
        return key
    arn = os.environ.get(arn_env)
    if not arn:
        raise ProviderError(f"{provider}: no API key: set {key_env} or {arn_env}", retryable=False,
                            code="missing_credentials")
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
