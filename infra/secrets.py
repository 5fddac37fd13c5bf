"""Secrets Manager secrets for the providers' API keys and the OpenAI webhook signing secret.

One API-key secret per registered provider that needs a key (the registry says which).
The stack creates them with a random placeholder; the operator puts the real values after
deploy (``aws secretsmanager put-secret-value``, see the README, "After the first deploy").
Each secret holds the bare key string (or JSON with an ``api_key`` field).
"""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from batchrelay import registry

# Construct ids of the secrets the first version created: kept, so that an upgraded stack
# keeps the secrets (and the keys the operator put in them) instead of replacing them.
_EXISTING_IDS = {"openai": "OpenAi", "anthropic": "Anthropic"}


def provider_construct_id(provider: str) -> str:
    """The stable CamelCase id of a provider's constructs and outputs."""
    return _EXISTING_IDS.get(provider) or "".join(part.capitalize() for part in provider.split("_"))


class ProviderSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.api_keys: dict[str, secretsmanager.Secret] = {
            spec.name: self._secret(
                f"{provider_construct_id(spec.name)}ApiKey",
                f"{name_prefix}/{spec.name.replace('_', '-')}-api-key",
                f"{spec.title} API key",
            )
            for spec in registry.specs()
            if spec.needs_api_key
        }
        self.openai_webhook_secret = self._secret(
            "OpenAiWebhookSecret", f"{name_prefix}/openai-webhook-secret", "OpenAI webhook signing secret (whsec_...)"
        )

    @property
    def provider_api_keys(self) -> tuple[secretsmanager.Secret, ...]:
        return tuple(self.api_keys.values())

    @property
    def all_secrets(self) -> tuple[secretsmanager.Secret, ...]:
        return (*self.provider_api_keys, self.openai_webhook_secret)

    def _secret(self, construct_id: str, name: str, what: str) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=f"{what} for batchrelay; a placeholder until set with put-secret-value",
        )
