"""Our Standard Webhooks signer, checked by the reference verifier (`standardwebhooks`)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from batchrelay.webhooks.signing import new_secret, sign, signature_headers

BODY = json.dumps({"id": "evt_job_1_completed", "type": "job.completed", "data": {"n": "é"}}, ensure_ascii=False)


def test_new_secret_is_whsec_with_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_signature_verifies_with_standardwebhooks_byte_for_byte():
    # Given a secret and a body with non-ASCII bytes
    secret = new_secret()
    body = BODY.encode()
    # When we sign it
    headers = signature_headers(secret, "evt_job_1_completed", body)
    # Then the reference verifier accepts the exact bytes and returns the event
    assert Webhook(secret).verify(body, headers)["type"] == "job.completed"
    # And our signature equals the reference implementation's own
    reference = Webhook(secret).sign("evt_job_1_completed", _dt(int(headers["webhook-timestamp"])), BODY)
    assert headers["webhook-signature"] == reference


def test_tampered_body_is_rejected():
    secret = new_secret()
    headers = signature_headers(secret, "msg_1", BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("completed", "failed"), headers)


def test_other_secret_and_changed_id_are_rejected():
    secret = new_secret()
    headers = signature_headers(secret, "msg_1", BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_2"})


def test_stale_and_future_timestamps_are_rejected():
    secret = new_secret()
    stale = signature_headers(secret, "msg_1", BODY, timestamp=int(time.time()) - 600)
    future = signature_headers(secret, "msg_1", BODY, timestamp=int(time.time()) + 600)
    for headers in (stale, future):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(BODY, headers)


def test_sign_accepts_unpadded_secret():
    raw = base64.b64encode(b"k" * 31).decode().rstrip("=")
    assert sign(f"whsec_{raw}", "m", 1, "x") == sign(f"whsec_{raw}=", "m", 1, "x")


def _dt(ts: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)
