"""Secrets Manager secrets for the providers' API keys and the OpenAI webhook signing secret.

The stack creates them with a random placeholder; the operator puts the real values
after deploy (``aws secretsmanager put-secret-value``, see the README, "After the first deploy"). Each secret
holds the bare key string, not JSON.
"""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class ProviderSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.openai_api_key = self._secret("OpenAiApiKey", f"{name_prefix}/openai-api-key", "OpenAI API key")
        self.anthropic_api_key = self._secret(
            "AnthropicApiKey", f"{name_prefix}/anthropic-api-key", "Anthropic API key"
        )
        self.openai_webhook_secret = self._secret(
            "OpenAiWebhookSecret", f"{name_prefix}/openai-webhook-secret", "OpenAI webhook signing secret (whsec_...)"
        )

    @property
    def provider_api_keys(self) -> tuple[secretsmanager.Secret, ...]:
        return (self.openai_api_key, self.anthropic_api_key)

    def _secret(self, construct_id: str, name: str, what: str) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=f"{what} for batchrelay; a placeholder until set with put-secret-value",
        )
