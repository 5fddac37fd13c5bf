"""Signing secrets are stored encrypted with the secrets key, bound to what they belong to;
secrets written in plain text by the previous version keep signing until replaced."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook

from batchrelay import constants as c
from batchrelay.models.webhooks import WebhookEndpoint
from batchrelay.store import endpoint_store, keys
from batchrelay.store.table import table
from batchrelay.webhooks import secret_box, secrets
from batchrelay.webhooks.signing import new_secret
from tests.support.webhooks import call_api, make_job, publish_final_event, register, store_job


def _item(key: dict[str, str]) -> dict:
    return table().get_item(Key=key, ConsistentRead=True)["Item"]


def _decrypt(ciphertext: bytes, context: dict[str, str], key_id: str) -> str:
    return boto3.client("kms").decrypt(CiphertextBlob=ciphertext, EncryptionContext=context, KeyId=key_id)[
        "Plaintext"
    ].decode()


def test_the_tenant_signing_secret_is_unreadable_without_the_key_and_its_context(webhook_env):
    # Given a tenant that created its signing secret through the API
    answer = call_api("POST", "/v1/webhook-endpoints/tenant-secret")
    secret = answer.body["secret"]

    # Then the table holds only ciphertext: no plain attribute, no trace of the secret
    item = _item(keys.tenant_secret_key("tenant-a"))
    stored = item[secret_box.SEALED_ATTRIBUTE].value
    assert secret_box.PLAIN_ATTRIBUTE not in item
    assert secret.encode() not in stored and secret.removeprefix("whsec_").encode() not in stored

    # And only the key, under the tenant's own context, opens it
    key_id = webhook_env[c.ENV_SECRETS_KEY_ID]
    assert _decrypt(stored, secret_box.tenant_context("tenant-a"), key_id) == secret
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        _decrypt(stored, secret_box.tenant_context("tenant-b"), key_id)
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        _decrypt(stored, secret_box.endpoint_context("tenant-a", "whe_x"), key_id)
    other_key = boto3.client("kms").create_key(Description="not the secrets key")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError):
        _decrypt(stored, secret_box.tenant_context("tenant-a"), other_key)


def test_an_endpoint_secret_is_sealed_to_its_endpoint(webhook_env, receiver):
    # Given two registered endpoints
    first = register(receiver, "/one")
    second = register(receiver, "/two")
    first_key = keys.webhook_endpoint_key("tenant-a", first["id"])
    second_key = keys.webhook_endpoint_key("tenant-a", second["id"])
    assert secret_box.PLAIN_ATTRIBUTE not in _item(first_key)

    # When the first one's ciphertext is copied onto the second one's item
    sealed = _item(first_key)[secret_box.SEALED_ATTRIBUTE]
    table().update_item(
        Key=second_key, UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": secret_box.SEALED_ATTRIBUTE}, ExpressionAttributeValues={":s": sealed},
    )

    # Then it opens for its own endpoint only
    assert secrets.endpoint_with_secret("tenant-a", first["id"])[1] == first["secret"]
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        secrets.endpoint_with_secret("tenant-a", second["id"])


def test_listing_endpoints_never_opens_a_secret(webhook_env, receiver, monkeypatch):
    register(receiver, "/in")

    def refuse(*args, **kwargs):
        pytest.fail("a secret was decrypted to list endpoints")

    monkeypatch.setattr(secret_box, "unseal", refuse)
    listed = call_api("GET", "/v1/webhook-endpoints")
    assert listed.status == 200 and len(listed.body["data"]) == 1
    assert all(e.secret is None for e in endpoint_store.list_endpoints("tenant-a"))


def _put_plain_endpoint(url: str) -> tuple[str, str]:
    """An endpoint item exactly as the previous version wrote it: the secret in plain text."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        endpoint_id="whe_legacy", tenant_id="tenant-a", url=url, secret=secret,
        created_at="2025-01-01T00:00:00.000Z", updated_at="2025-01-01T00:00:00.000Z",
    )
    table().put_item(Item={**endpoint.model_dump(mode="json"), **keys.webhook_endpoint_key("tenant-a", "whe_legacy")})
    return endpoint.endpoint_id, secret


def test_plain_text_secrets_of_the_previous_version_still_sign(webhook_env, receiver, queue, clock):
    # Given an endpoint and a tenant secret stored in plain text before the upgrade
    endpoint_id, endpoint_secret = _put_plain_endpoint(receiver.url("/legacy"))
    tenant_secret = new_secret()
    table().put_item(Item={**keys.tenant_secret_key("tenant-a"), "secret": tenant_secret, "created_at": "2025"})
    receiver.secrets["/legacy"] = endpoint_secret
    receiver.secrets["/job"] = tenant_secret

    # When a job event is delivered to both, and the endpoint is tested
    publish_final_event(store_job(make_job(webhook_url=receiver.url("/job"))))
    queue.drain()
    tested = call_api("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")

    # Then every delivery verifies with the plain-text secret
    assert tested.status == 200 and tested.body["delivered"] is True
    for path in ("/legacy", "/job"):
        got = receiver.at(path)
        assert got and all(r.error is None and r.verified for r in got), path
    assert Webhook(endpoint_secret).verify(receiver.at("/legacy")[0].body, receiver.at("/legacy")[0].headers)


def test_rotating_a_plain_text_tenant_secret_stores_it_sealed(webhook_env):
    table().put_item(Item={**keys.tenant_secret_key("tenant-a"), "secret": new_secret(), "created_at": "2025"})
    rotated = call_api("POST", "/v1/webhook-endpoints/tenant-secret").body["secret"]
    item = _item(keys.tenant_secret_key("tenant-a"))
    assert secret_box.PLAIN_ATTRIBUTE not in item and secret_box.SEALED_ATTRIBUTE in item
    assert secrets.get_tenant_secret("tenant-a") == rotated


def test_a_job_with_its_own_url_gets_the_tenant_a_secret_from_the_api(webhook_env, receiver, queue, clock):
    # Given a tenant without a signing secret
    assert secrets.get_tenant_secret("tenant-a") is None
    # When it creates a job that names a webhook_url
    answer = call_api("POST", "/v1/jobs", {
        "provider": "openai", "endpoint": "/v1/chat/completions", "webhook_url": receiver.url("/job"),
        "requests": [{"custom_id": "a", "body": {"model": "gpt-4o-mini", "messages": []}}],
    })
    assert answer.status == 202, answer.body
    # Then the api function created it (sealed), and creating another job keeps it
    first = secrets.get_tenant_secret("tenant-a")
    assert first and secret_box.SEALED_ATTRIBUTE in _item(keys.tenant_secret_key("tenant-a"))
    assert secrets.ensure_tenant_secret("tenant-a") is False
    assert secrets.get_tenant_secret("tenant-a") == first


def test_a_job_url_delivery_without_a_tenant_secret_fails_and_says_why(webhook_env, receiver, queue, clock):
    # Given a job accepted before its tenant had a secret (the webhook function never creates one)
    publish_final_event(store_job(make_job(webhook_url=receiver.url("/job"))))
    queue.drain()
    delivery = call_api("GET", "/v1/jobs/job_01/deliveries").body["data"][0]
    assert receiver.at("/job") == []
    assert delivery["status"] == "failed" and "no signing secret" in delivery["failure_reason"]


def test_without_the_secrets_key_no_secret_is_stored(webhook_env, receiver, monkeypatch):
    from batchrelay.settings import get_settings

    monkeypatch.delenv(c.ENV_SECRETS_KEY_ID)
    get_settings.cache_clear()
    answer = call_api("POST", "/v1/webhook-endpoints", {"url": receiver.url("/in")})
    assert answer.status == 500 and answer.body["error"]["code"] == "secrets_key_missing"
    assert endpoint_store.list_endpoints("tenant-a") == []
