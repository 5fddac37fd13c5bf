"""OpenAI's own webhooks (batch.completed and friends): verifying their signature.

Only the provider's part lives here: the secret, and the SDK's verified, parsed event. What
a verified event does to a chunk is lifecycle work (``lifecycle.openai_fast_path``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from openai import InvalidWebhookSignatureError, OpenAI

from batchrelay import constants as c
from batchrelay.errors import BatchRelayError, ValidationFailed
from batchrelay.settings import get_settings

# OpenAI's batch event types and the end reason each reports.
BATCH_END_REASONS = {
    "batch.completed": "completed",
    "batch.failed": "failed",
    "batch.expired": "expired",
    "batch.cancelled": "cancelled",
}
SECRET_MAX_AGE_SECONDS = 300


class InvalidSignature(ValidationFailed):
    code = "invalid_signature"


class WebhookSecretMissing(BatchRelayError):
    code = "webhook_secret_missing"
    http_status = 500


def webhook_secret() -> str:
    """``OPENAI_WEBHOOK_SECRET`` (local mode, tests) or the secret at ``OPENAI_WEBHOOK_SECRET_ARN``."""
    settings = get_settings()
    if settings.openai_webhook_secret:
        return settings.openai_webhook_secret
    arn = settings.openai_webhook_secret_arn
    if not arn:
        raise WebhookSecretMissing(
            f"no OpenAI webhook secret: set {c.ENV_OPENAI_WEBHOOK_SECRET} or {c.ENV_OPENAI_WEBHOOK_SECRET_ARN}"
        )
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    return (value if isinstance(value, str) else value.decode("utf-8")).strip()


@lru_cache(maxsize=4)
def _verifier(secret: str) -> OpenAI:
    # Verification needs no API key; the client is only the SDK's home for `webhooks.unwrap`.
    return OpenAI(api_key="unused-for-webhook-verification", webhook_secret=secret)


def verify_event(body: str | bytes, headers: dict[str, str]) -> Any:
    """The SDK's verified, parsed event; InvalidSignature (400) for anything unverifiable."""
    try:
        return _verifier(webhook_secret()).webhooks.unwrap(body, headers)
    except InvalidWebhookSignatureError as exc:
        raise InvalidSignature(f"the webhook signature is not valid: {exc}", field="webhook-signature") from exc
    except ValueError as exc:  # a missing header or a body that is not JSON
        raise InvalidSignature(f"the webhook could not be verified: {exc}", field="webhook-signature") from exc
