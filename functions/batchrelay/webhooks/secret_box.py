"""Signing secrets sealed with KMS before they are stored, and opened to sign.

A secret (``whsec_`` and 32 random bytes, ~50 bytes) is encrypted directly with the
stack's KMS key for signing secrets (``SECRETS_KEY_ID``; infra/signing_key.py) under
an encryption context that names what it belongs to:
``{"purpose": ..., "tenant_id": ...[, "endpoint_id": ...]}`` (KMS Encrypt takes up to 4 KB,
so no envelope is needed). The context is not stored: the
reader rebuilds it from the item's key, so a ciphertext copied onto another tenant's or
endpoint's item does not decrypt, CloudTrail logs which secret each decrypt opened, and the
key policy grants each function the key for the purposes it needs only.

Items written before secrets were encrypted hold the secret in plain text (``secret``);
they are read as they are until the secret is replaced, which stores it sealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.errors import BatchRelayError
from batchrelay.settings import get_settings

SEALED_ATTRIBUTE = c.SECRET_SEALED_ATTRIBUTE   # KMS ciphertext (binary)
PLAIN_ATTRIBUTE = c.SECRET_PLAIN_ATTRIBUTE     # written by earlier versions; read until replaced


class SecretsKeyMissing(BatchRelayError):
    code = "secrets_key_missing"
    http_status = 500


def endpoint_context(tenant_id: str, endpoint_id: str) -> dict[str, str]:
    return {c.SECRET_CONTEXT_PURPOSE: c.SECRET_PURPOSE_ENDPOINT, "tenant_id": tenant_id, "endpoint_id": endpoint_id}


def tenant_context(tenant_id: str) -> dict[str, str]:
    return {c.SECRET_CONTEXT_PURPOSE: c.SECRET_PURPOSE_TENANT, "tenant_id": tenant_id}


def _key_id() -> str:
    key_id = get_settings().secrets_key_id
    if not key_id:
        raise SecretsKeyMissing(f"{c.ENV_SECRETS_KEY_ID} is not set: signing secrets cannot be stored or read")
    return key_id


def seal(secret: str, context: Mapping[str, str]) -> dict[str, bytes]:
    """The item attributes that store ``secret``, encrypted under ``context``."""
    response = clients.client("kms").encrypt(
        KeyId=_key_id(), Plaintext=secret.encode(), EncryptionContext=dict(context)
    )
    return {SEALED_ATTRIBUTE: response["CiphertextBlob"]}


def unseal(item: Mapping[str, Any], context: Mapping[str, str]) -> str | None:
    """The secret an item stores (decrypted, or plain text from an earlier version); None if none."""
    sealed = item.get(SEALED_ATTRIBUTE)
    if sealed is not None:
        # KeyId pins the key: a ciphertext made under any other key is refused.
        response = clients.client("kms").decrypt(
            CiphertextBlob=bytes(getattr(sealed, "value", sealed)),
            EncryptionContext=dict(context),
            KeyId=_key_id(),
        )
        return response["Plaintext"].decode()
    plain = item.get(PLAIN_ATTRIBUTE)
    return str(plain) if plain else None
