"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The signed content is ``f"{msg_id}.{timestamp}.{body}"``, HMAC-SHA256 with the secret's
bytes, sent as ``v1,<base64>`` in ``webhook-signature``. Secrets are ``whsec_<base64>``.
Any receiver verifies with the ``standardwebhooks`` library; our tests use it for that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    # Receivers' libraries accept unpadded base64; so do we.
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value for one message."""
    payload = body if isinstance(body, bytes) else body.encode()
    to_sign = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_secret_bytes(secret), to_sign, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def signature_headers(secret: str, msg_id: str, body: bytes | str, *, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers, signed at ``timestamp`` (default: now)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }
